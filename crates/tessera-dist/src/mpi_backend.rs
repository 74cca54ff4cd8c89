//! The MPI backend (feature `mpi`): collectives through rsmpi on `MPI_COMM_WORLD`.
//!
//! MPI's default error handler aborts the job on a failed call, and OpenMPI's `mpirun` ends
//! every process of a job when one of them exits abnormally, so a collective never returns an
//! error from the transport itself: the errors here are argument errors found before calling.

use crate::backend::{check_gather, check_root, Buf, ReduceOp, Transport};
use crate::{Error, Result};
use mpi::collective::SystemOperation;
use mpi::environment::Universe;
use mpi::raw::AsRaw;
use mpi::topology::SimpleCommunicator;
use mpi::traits::*;
use mpi::Threading;
use std::sync::{Mutex, MutexGuard};

/// The most elements one MPI call moves (counts are C ints); longer buffers go in chunks.
const CHUNK: usize = 1 << 30;

/// MPI's handles: used by one thread at a time (behind [`Mpi`]'s mutex).
struct Handles {
    // Declared before the universe so that it is released before MPI is finalised.
    world: SimpleCommunicator,
    _universe: Universe,
}

extern "C" {
    /// `MPI_IN_PLACE` of the MPI library built against (`src/mpi_in_place.c`).
    static tessera_mpi_in_place: *mut std::ffi::c_void;
}

// SAFETY: MPI is initialised with `MPI_THREAD_SERIALIZED` (or more), which allows calls from
// any thread as long as no two run at once; the handles are only reached through `Mpi`'s mutex.
unsafe impl Send for Handles {}

/// `MPI_COMM_WORLD` of an initialised MPI, finalised when dropped. Every call holds a lock, so
/// that the communicator can move between threads (a trainer run inside a thread pool).
pub struct Mpi {
    handles: Mutex<Handles>,
    rank: usize,
    world: usize,
    local_rank: usize,
}

impl std::fmt::Debug for Mpi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Mpi {{ rank: {}, world: {} }}", self.rank, self.world)
    }
}

impl Mpi {
    /// Initialises MPI (once per process) and joins `MPI_COMM_WORLD`. The local rank is the
    /// rank among the processes that share this machine's memory.
    pub fn init() -> Result<Mpi> {
        let (universe, level) = mpi::initialize_with_threading(Threading::Serialized)
            .ok_or_else(|| Error::MpiInit("MPI is already initialised in this process".into()))?;
        if level < Threading::Serialized {
            return Err(Error::MpiInit(format!(
                "this MPI library provides thread support {level:?}; Tessera needs MPI_THREAD_SERIALIZED"
            )));
        }
        let world = universe.world();
        let local_rank = world.split_shared(world.rank()).rank() as usize;
        let (rank, size) = (world.rank() as usize, world.size() as usize);
        Ok(Mpi { handles: Mutex::new(Handles { world, _universe: universe }), rank, world: size, local_rank })
    }

    fn lock(&self) -> MutexGuard<'_, Handles> {
        // A poisoned lock means a panic mid-call on another thread; MPI's state is its own.
        self.handles.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The rank among the processes on this machine.
    pub fn local_rank(&self) -> usize {
        self.local_rank
    }
}

/// Reduces `buf` over the ranks in place (`MPI_IN_PLACE`: no second buffer, no copy back).
fn reduce<T: Equivalence>(world: &SimpleCommunicator, buf: &mut [T], op: ReduceOp) {
    let op = match op {
        ReduceOp::Sum => SystemOperation::sum(),
        ReduceOp::Max => SystemOperation::max(),
    };
    for chunk in buf.chunks_mut(CHUNK) {
        // SAFETY: `chunk` is a live, exclusively borrowed buffer of `chunk.len()` elements of
        // `T`'s MPI datatype; with `MPI_IN_PLACE` as the send buffer, MPI reads and writes only
        // it. The count fits a C int (CHUNK). The handles are valid while `world` lives, and
        // the caller holds the lock that serialises MPI calls.
        unsafe {
            mpi::ffi::MPI_Allreduce(
                tessera_mpi_in_place,
                chunk.as_mut_ptr().cast(),
                chunk.len() as std::ffi::c_int,
                T::equivalent_datatype().as_raw(),
                op.as_raw(),
                world.as_raw(),
            );
        }
    }
}

fn bcast<T: Equivalence>(world: &SimpleCommunicator, buf: &mut [T], root: usize) {
    let process = world.process_at_rank(root as i32);
    for chunk in buf.chunks_mut(CHUNK) {
        process.broadcast_into(chunk);
    }
}

impl Transport for Mpi {
    fn rank(&self) -> usize {
        self.rank
    }

    fn world(&self) -> usize {
        self.world
    }

    fn all_reduce(&self, buf: Buf<'_>, op: ReduceOp) -> Result<()> {
        let h = self.lock();
        match buf {
            Buf::F32(b) => reduce(&h.world, b, op),
            Buf::F64(b) => reduce(&h.world, b, op),
            Buf::U64(b) => reduce(&h.world, b, op),
            Buf::U8(b) => reduce(&h.world, b, op),
        }
        Ok(())
    }

    fn broadcast(&self, buf: Buf<'_>, root: usize) -> Result<()> {
        check_root(root, self.world)?;
        let h = self.lock();
        match buf {
            Buf::F32(b) => bcast(&h.world, b, root),
            Buf::F64(b) => bcast(&h.world, b, root),
            Buf::U64(b) => bcast(&h.world, b, root),
            Buf::U8(b) => bcast(&h.world, b, root),
        }
        Ok(())
    }

    fn all_gather(&self, local: Buf<'_>, recv: Buf<'_>) -> Result<()> {
        check_gather(&local, &recv, self.world)?;
        if recv.len() > i32::MAX as usize {
            return Err(Error::TooLong { op: "all_gather", len: recv.len(), max: i32::MAX as usize });
        }
        let h = self.lock();
        match (local, recv) {
            (Buf::F32(s), Buf::F32(r)) => h.world.all_gather_into(&s[..], r),
            (Buf::F64(s), Buf::F64(r)) => h.world.all_gather_into(&s[..], r),
            (Buf::U64(s), Buf::U64(r)) => h.world.all_gather_into(&s[..], r),
            (Buf::U8(s), Buf::U8(r)) => h.world.all_gather_into(&s[..], r),
            _ => return Err(Error::Types { op: "all_gather" }),
        }
        Ok(())
    }

    fn barrier(&self) -> Result<()> {
        self.lock().world.barrier();
        Ok(())
    }

    fn abort(&self, code: i32) -> ! {
        self.lock().world.abort(code)
    }
}
