//! `--distributed`: joining the job a launcher (`mpirun`, `srun`) started, what only rank 0
//! does, and how a failing rank ends the job instead of leaving the others waiting.

use super::device::{open_local, DeviceChoice};
use super::training::{resolve, Overlap, TrainOptions};
use super::CliResult;
use tessera_tensor::Device;
use tessera_train::dist::{detect, Communicator, Error as DistError};
use tessera_train::{DataParallel, FitConfig, FitData, Task, Trainer};

/// The communicator of a `--distributed` run (`None` without the flag). Refuses a run that a
/// launcher started as several processes without `--distributed` (each would train alone and
/// write the same run folder), and a batch size the world size does not divide, before
/// anything is written. On ranks other than 0, standard output is discarded: rank 0 prints.
fn join(opts: &TrainOptions) -> CliResult<Option<Communicator>> {
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
    if !opts.batch_size.is_multiple_of(comm.world()) {
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

/// A `tessera train` command from start to end: joins the job a launcher started ([`join`]),
/// resolves the arguments of `model`'s run ([`resolve`], through `common` to the shared
/// options), then `train`s; an error on one rank of several ends the whole job ([`finish`]).
pub fn run_training<A: serde::de::DeserializeOwned>(
    mut args: A,
    model: &str,
    common: fn(&mut A) -> &mut TrainOptions,
    train: impl FnOnce(A, &Option<Communicator>) -> CliResult<()>,
) -> CliResult<()> {
    let comm = join(common(&mut args))?;
    let result = resolve(args, model, common).and_then(|a| train(a, &comm));
    finish(&comm, result)
}

/// The device this process trains on ([`open_local`]: a GPU is the one of its local rank) and
/// its communicator, which on a GPU has joined NCCL there, so that gradients are all-reduced
/// where they lie. Where NCCL cannot be loaded (the same answer on every rank), the run goes on
/// with GPU tensors staged through host memory, and says so.
pub fn local_device(choice: DeviceChoice, comm: &Option<Communicator>) -> CliResult<(Device, Option<Communicator>)> {
    let device = open_local(choice, comm.as_ref().map_or(0, |c| c.local_rank()))?;
    let comm = match comm {
        Some(c) if !device.is_cpu() => match c.with_nccl(&device) {
            Ok(joined) => {
                say!("gradients all-reduced on {device} through NCCL ({} processes)", c.world());
                Some(joined)
            }
            Err(DistError::NcclUnavailable(why)) => {
                if c.is_root() {
                    warn!("{why}; gradients go through host memory instead");
                }
                Some(c.clone())
            }
            Err(e) => return Err(e.into()),
        },
        other => other.clone(),
    };
    Ok((device, comm))
}

/// This process's part in the job `comm` joins, with the buckets and overlap `opts` asks for.
pub fn parallel(comm: &Communicator, opts: &TrainOptions) -> DataParallel {
    let bytes = (opts.bucket_mb * (1u64 << 20) as f64) as usize;
    let dp = DataParallel::new(comm.clone()).bucket_bytes(bytes);
    match opts.overlap {
        Overlap::Auto => dp,
        Overlap::On => dp.overlap(true),
        Overlap::Off => dp.overlap(false),
    }
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
fn finish<T>(comm: &Option<Communicator>, result: CliResult<T>) -> CliResult<T> {
    match (comm, result) {
        (Some(c), Err(e)) if c.world() > 1 => {
            eprintln!("error on rank {} of {}: {e}", c.rank(), c.world());
            c.abort(1)
        }
        (_, result) => result,
    }
}

/// Waits until every rank has checked `--out` (before rank 0 creates the run folder).
pub fn checked_out(comm: &Option<Communicator>) -> CliResult<()> {
    if let Some(c) = comm {
        c.barrier()?;
    }
    Ok(())
}

/// Whether this process is a rank other than 0 of a distributed run: one that follows rank 0,
/// which alone writes the run folder and reads any checkpoint.
pub fn follower(comm: &Option<Communicator>) -> Option<&Communicator> {
    comm.as_ref().filter(|c| !c.is_root())
}

/// Rank 0's side of [`follow`]: tells the other ranks how many epochs its checkpoint has done.
pub fn lead(comm: &Option<Communicator>, done: usize) -> CliResult<()> {
    if let Some(c) = comm {
        c.broadcast_u64(done as u64, 0)?;
    }
    Ok(())
}

/// A follower's run: `trainer` (the task, the optimizer and the callbacks every rank needs,
/// such as learning-rate schedules; no run folder) trains distributed from the epoch rank 0
/// resumes at; parameters and optimizer state come from rank 0 when the fit starts. Returns
/// the trainer when it trained (as rank 0 decides with `nothing_trained`), for the final
/// evaluations every rank takes part in.
pub fn follow<T: Task, D: FitData<Batch = T::Batch>>(
    comm: &Communicator,
    opts: &TrainOptions,
    trainer: Trainer<T>,
    data: &D,
    fit: &FitConfig,
) -> CliResult<Option<Trainer<T>>> {
    let done = comm.broadcast_u64(0, 0)? as usize;
    let mut trainer = trainer.distributed(parallel(comm, opts));
    let history = trainer.fit_from(data, fit, done)?;
    Ok((!history.epochs.is_empty()).then_some(trainer))
}
