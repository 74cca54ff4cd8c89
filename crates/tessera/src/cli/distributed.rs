//! `--distributed`: joining the job a launcher (`mpirun`, `srun`) started, what only rank 0
//! does, and how a failing rank ends the job instead of leaving the others waiting.

use super::training::TrainOptions;
use super::CliResult;
use tessera_train::dist::{detect, Communicator};

/// The communicator of a `--distributed` run (`None` without the flag). Refuses a run that a
/// launcher started as several processes without `--distributed` (each would train alone and
/// write the same run folder), and a batch size the world size does not divide, before
/// anything is written. On ranks other than 0, standard output is discarded: rank 0 prints.
pub fn join(opts: &TrainOptions) -> CliResult<Option<Communicator>> {
    if !opts.distributed {
        if let Some((launcher, t)) = detect()? {
            if t.world > 1 {
                return Err(format!(
                    "started by {launcher} as rank {} of {} processes: add --distributed to train data-parallel",
                    t.rank, t.world
                )
                .into());
            }
        }
        return Ok(None);
    }
    let comm = Communicator::from_env()?;
    if opts.batch_size % comm.world() != 0 {
        return Err(format!(
            "--batch-size {} is not divisible by the {} processes: the global batch is split evenly across them",
            opts.batch_size,
            comm.world()
        )
        .into());
    }
    if !comm.is_root() {
        quiet_stdout();
    }
    Ok(Some(comm))
}

/// Points standard output at `/dev/null`.
fn quiet_stdout() {
    #[cfg(unix)]
    if let Ok(null) = std::fs::OpenOptions::new().write(true).open("/dev/null") {
        use std::os::unix::io::AsRawFd;
        // SAFETY: dup2 on two open descriptors; `null` stays open until the call returns, and
        // descriptor 1 then refers to its own duplicate.
        unsafe {
            libc::dup2(null.as_raw_fd(), 1);
        }
    }
}

/// A distributed run's result: an error on one rank of several ends every process of the job
/// (MPI's abort) after saying which rank failed, because a rank that returned would wait
/// forever for the others in MPI's finalisation while they wait for it in a collective.
pub fn finish<T>(comm: &Option<Communicator>, result: CliResult<T>) -> CliResult<T> {
    match (comm, result) {
        (Some(c), Err(e)) if c.world() > 1 => {
            eprintln!("error on rank {} of {}: {e}", c.rank(), c.world());
            c.abort(1)
        }
        (_, result) => result,
    }
}

/// The error of `--distributed` on a command that cannot run distributed yet.
pub fn unsupported(command: &str) -> CliResult<()> {
    Err(format!("--distributed: `tessera train {command}` cannot run data-parallel yet (`train mlp` can)").into())
}
