//! Runs the collectives with known values in every rank and checks the results; run it with
//! `mpirun -np N` (built with `--features mpi`) or alone. `collectives die [kill|abort]` makes rank
//! 1 exit with status 3 (or kill itself, or abort the job) while rank 0 waits in an all-reduce:
//! how a lost rank ends a job.

use std::process::ExitCode;
use tessera_dist::{all_reduce_bucketed, Communicator, Reduce};
use tessera_tensor::{Device, Tensor};

fn check(comm: &Communicator) -> Result<(), Box<dyn std::error::Error>> {
    let (r, n) = (comm.rank() as f32, comm.world() as f32);
    let cpu = Device::Cpu;
    // all-reduce: rank r holds [r, 2r, 1]; sum = [S, 2S, n], S = n(n-1)/2.
    let t = Tensor::from_vec(vec![r, 2.0 * r, 1.0], [3], &cpu)?;
    comm.all_reduce_(&t, Reduce::Sum)?;
    let s = n * (n - 1.0) / 2.0;
    assert_eq!(t.to_vec::<f32>()?, vec![s, 2.0 * s, n], "all-reduce sum");
    let t = Tensor::from_vec(vec![r as f64; 4], [2, 2], &cpu)?;
    comm.all_reduce_(&t, Reduce::Average)?;
    assert_eq!(t.to_vec::<f64>()?, vec![s as f64 / n as f64; 4], "all-reduce average");
    // broadcast from the last rank.
    let root = comm.world() - 1;
    let t = Tensor::from_vec(vec![r + 10.0, -r], [2], &cpu)?;
    comm.broadcast_(&t, root)?;
    assert_eq!(t.to_vec::<f32>()?, vec![root as f32 + 10.0, -(root as f32)], "broadcast");
    // all-gather: [n, 2] with row k = [k, k * k].
    let g = comm.all_gather(&Tensor::from_vec(vec![r, r * r], [2], &cpu)?)?;
    let want: Vec<f32> = (0..comm.world()).flat_map(|k| [k as f32, (k * k) as f32]).collect();
    assert_eq!((g.dims().to_vec(), g.to_vec::<f32>()?), (vec![comm.world(), 2], want), "all-gather");
    // bucketed all-reduce of three tensors in two buckets.
    let ts = [
        Tensor::from_vec(vec![r; 3], [3], &cpu)?,
        Tensor::from_vec(vec![1.0f32; 2], [2], &cpu)?,
        Tensor::from_vec(vec![2.0 * r; 4], [2, 2], &cpu)?,
    ];
    let (out, calls) = all_reduce_bucketed(comm, &ts, Reduce::Sum, 20)?;
    assert_eq!(calls, 2);
    assert_eq!(out[0].to_vec::<f32>()?, vec![s; 3]);
    assert_eq!(out[1].to_vec::<f32>()?, vec![n; 2]);
    assert_eq!(out[2].to_vec::<f32>()?, vec![2.0 * s; 4]);
    assert_eq!(comm.broadcast_bytes(format!("from {}", comm.rank()).as_bytes(), 0)?, b"from 0");
    assert!(comm.any(comm.rank() == comm.world() - 1)?);
    comm.barrier()?;
    Ok(())
}

fn main() -> ExitCode {
    let comm = match Communicator::from_env() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    if std::env::args().nth(1).as_deref() == Some("die") {
        comm.barrier().ok();
        if comm.rank() == 1 {
            match std::env::args().nth(2).as_deref() {
                Some("kill") => {
                    eprintln!("rank 1: killing itself (SIGKILL)");
                    let _ = std::process::Command::new("kill").args(["-9", &std::process::id().to_string()]).status();
                }
                Some("abort") => {
                    eprintln!("rank 1: aborting the job with status 3");
                    comm.abort(3);
                }
                _ => {}
            }
            eprintln!("rank 1: exiting with status 3 without finalising MPI");
            std::process::exit(3);
        }
        let t = Tensor::from_vec(vec![1.0f32], [1], &Device::Cpu).expect("a tensor");
        let _ = comm.all_reduce_(&t, Reduce::Sum);
        eprintln!("rank {}: the all-reduce returned without rank 1", comm.rank());
        return ExitCode::SUCCESS;
    }
    match check(&comm) {
        Ok(()) => {
            println!("collectives ok on rank {} of {} ({:?})", comm.rank(), comm.world(), comm.backend());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("rank {}: {e}", comm.rank());
            ExitCode::FAILURE
        }
    }
}
