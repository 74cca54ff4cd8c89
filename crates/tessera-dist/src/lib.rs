//! Distributed training for Tessera: a [`Communicator`] (rank, world size, local rank,
//! all-reduce, broadcast, all-gather, barrier on tensors) over MPI (feature `mpi`, off by
//! default, so that the default build needs no MPI library) or a single process (the same code
//! path with a world of 1), the launcher's variables read by [`Communicator::from_env`]
//! (`mpirun`, `srun`, PMI), and bucketed all-reduce for gradients ([`FlatBucket`],
//! [`all_reduce_bucketed`]). The MPI backend reduces in place (`MPI_IN_PLACE`, read from the
//! installed `mpi.h` by `build.rs`), and dense CPU tensors are reduced on their own storage.
//! With the `cuda` feature (on by default), GPU tensors are reduced where they lie through
//! NCCL, loaded at run time: [`Communicator::with_nccl`] joins it with the id handed out over
//! MPI, [`Communicator::nccl_rendezvous`] through a file for jobs started without MPI.
//!
//! `docs/distributed.md` in the repository says how to launch runs and what they cost.

mod backend;
mod bucket;
mod communicator;
mod env;
mod error;
#[cfg(feature = "mpi")]
mod mpi_backend;
#[cfg(feature = "cuda")]
mod nccl;

pub use backend::{Buf, ReduceOp, Single, Transport};
pub use bucket::{all_reduce_bucketed, plan_buckets, wire_dtype, FlatBucket, DEFAULT_BUCKET_BYTES};
pub use communicator::{Backend, Communicator, Reduce};
pub use env::{detect, detect_with, Topology};
pub use error::{Error, Result};
#[cfg(feature = "mpi")]
pub use mpi_backend::Mpi;
