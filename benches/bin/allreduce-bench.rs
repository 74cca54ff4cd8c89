//! All-reduce of 1, 16 and 100 MB of f32 through tessera-dist's `Communicator` (on a tensor,
//! and on a host buffer) against the raw MPI call on the same processes and buffers' sizes:
//!
//! ```sh
//! cargo build --release -p tessera-benches --features mpi --bin allreduce-bench
//! mpirun -np 2 target/release/allreduce-bench      # as root: --allow-run-as-root --oversubscribe
//! ```
//!
//! Rank 0 prints the median time of each and the bus bandwidth, 2(N-1)/N x bytes / time.

use mpi::collective::SystemOperation;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use std::time::Instant;
use tessera_tensor::{Device, Tensor};
use tessera_train::dist::{Buf, Communicator, Reduce, ReduceOp};

/// The median seconds of `reps` calls of `f`, each started together on every rank.
fn time(world: &SimpleCommunicator, reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut t = Vec::with_capacity(reps);
    for _ in 0..reps {
        world.barrier();
        let start = Instant::now();
        f();
        t.push(start.elapsed().as_secs_f64());
    }
    tessera_benches::median(t)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let comm = Communicator::mpi()?;
    let world = SimpleCommunicator::world();
    let n = comm.world() as f64;
    if comm.is_root() {
        println!("all-reduce (sum, f32) over {} processes; median of repeated calls", comm.world());
        println!("{:>6}  {:>22}  {:>22}  {:>22}", "MB", "raw MPI", "Communicator buffer", "Communicator tensor");
    }
    for mb in [1usize, 16, 100] {
        let len = mb * (1 << 20) / 4;
        let reps = if mb >= 100 { 5 } else { 20 };
        let send = vec![1.0f32; len];
        let mut recv = vec![0.0f32; len];
        let raw = time(&world, reps, || world.all_reduce_into(&send[..], &mut recv[..], SystemOperation::sum()));
        let mut buf = vec![1.0f32; len];
        let host = time(&world, reps, || comm.all_reduce_buf(Buf::F32(&mut buf), ReduceOp::Sum).expect("all-reduce"));
        let tensor = Tensor::from_vec(vec![1.0f32; len], [len], &Device::Cpu)?;
        let tens = time(&world, reps, || comm.all_reduce_(&tensor, Reduce::Sum).expect("all-reduce"));
        if comm.is_root() {
            let bus = |s: f64| 2.0 * (n - 1.0) / n * (len * 4) as f64 / s / 1e9;
            let cell = |s: f64, base: f64| format!("{:7.2} ms {:5.2} GB/s {:3.0}%", s * 1e3, bus(s), 100.0 * base / s);
            println!("{mb:>6}  {:>22}  {:>22}  {:>22}", cell(raw, raw), cell(host, raw), cell(tens, raw));
        }
    }
    Ok(())
}
