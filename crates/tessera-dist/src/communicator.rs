//! [`Communicator`]: the collectives a data-parallel run needs, on tensors and host buffers,
//! over whichever [`Backend`] joined the processes.

use crate::backend::{Buf, ReduceOp, Single, Transport};
use crate::env::{detect, Topology};
use crate::{Error, Result};
use std::sync::Arc;
use tessera_tensor::{DType, Tensor};

/// The transport behind a [`Communicator`]'s host buffers. GPU tensors go through NCCL where a
/// communicator has joined it ([`Communicator::nccl_device`]), else through host memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// One process: every collective is the identity (the same code path as a world of 1).
    Single,
    /// MPI's `MPI_COMM_WORLD` (feature `mpi`).
    Mpi,
    /// NCCL alone (a job joined through [`Communicator::nccl_rendezvous`]): host buffers are
    /// copied to the GPU for each collective.
    Nccl,
    /// A transport given to [`Communicator::with_transport`].
    Custom,
}

/// How an all-reduce combines the ranks' tensors.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reduce {
    /// The element-wise sum.
    Sum,
    /// The element-wise mean over the ranks.
    Average,
    /// The sum of every rank's tensor times its own factor (e.g. its share of a batch whose
    /// examples are not split evenly: a weighted mean).
    Weighted(f64),
}

impl Reduce {
    /// The factors applied before and after the sum, in a world of `world` ranks.
    pub(crate) fn factors(self, world: usize) -> (f64, f64) {
        match self {
            Reduce::Sum => (1.0, 1.0),
            Reduce::Average => (1.0, 1.0 / world as f64),
            Reduce::Weighted(w) => (w, 1.0),
        }
    }
}

/// Runs `collective` on `t`'s own host storage when `t` is a dense CPU tensor of f32 or f64
/// (true), without copying it out and back; false (nothing done) for other tensors.
fn host_in_place(t: &Tensor, op: &'static str, collective: impl FnOnce(Buf<'_>) -> Result<()>) -> Result<bool> {
    if !t.device().is_cpu() || !t.owns_storage_densely() {
        return Ok(false);
    }
    match t.dtype() {
        DType::F32 => t.with_host_mut(|v: &mut [f32]| collective(Buf::F32(v)))??,
        DType::F64 => t.with_host_mut(|v: &mut [f64]| collective(Buf::F64(v)))??,
        dtype => return Err(Error::DType { op, dtype }),
    }
    Ok(true)
}

/// Multiplies every element by `f` unless it is 1.
pub(crate) fn scale<T: Copy + std::ops::MulAssign + FromF64>(v: &mut [T], f: f64) {
    if f != 1.0 {
        let f = T::from_f64(f);
        v.iter_mut().for_each(|x| *x *= f);
    }
}

/// The float element types the collectives reduce.
pub(crate) trait FromF64 {
    fn from_f64(v: f64) -> Self;
}

impl FromF64 for f32 {
    fn from_f64(v: f64) -> Self {
        v as f32
    }
}

impl FromF64 for f64 {
    fn from_f64(v: f64) -> Self {
        v
    }
}

/// A process's handle on the world of processes it trains with: its rank, the world size, its
/// local rank, and collectives on tensors (all-reduce, broadcast, all-gather) and a barrier.
///
/// Every rank must call the same collectives in the same order with tensors of the same shapes.
/// Clones share the transport (MPI is finalised when the last one is dropped); a communicator
/// may move between threads, and its collectives never run two at once in one process.
///
/// ```
/// use tessera_dist::{Communicator, Reduce};
/// use tessera_tensor::{Device, Tensor};
/// let comm = Communicator::single();
/// let t = Tensor::from_vec(vec![1.0f32, 2.0], [2], &Device::Cpu)?;
/// comm.all_reduce_(&t, Reduce::Average)?;
/// assert_eq!(t.to_vec::<f32>()?, vec![1.0, 2.0]);
/// assert_eq!(comm.all_gather(&t)?.dims(), &[1, 2]);
/// # Ok::<(), tessera_dist::Error>(())
/// ```
#[derive(Clone)]
pub struct Communicator {
    pub(crate) transport: Arc<dyn Transport>,
    pub(crate) topology: Topology,
    pub(crate) backend: Backend,
    /// NCCL for the tensors of one GPU, once joined.
    #[cfg(feature = "cuda")]
    pub(crate) nccl: Option<Arc<crate::nccl::Nccl>>,
}

impl std::fmt::Debug for Communicator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Communicator")
            .field("backend", &self.backend)
            .field("topology", &self.topology)
            .field("nccl_device", &self.nccl_device())
            .finish()
    }
}

impl Communicator {
    fn new(transport: Arc<dyn Transport>, topology: Topology, backend: Backend) -> Communicator {
        #[cfg(feature = "cuda")]
        return Communicator { transport, topology, backend, nccl: None };
        #[cfg(not(feature = "cuda"))]
        Communicator { transport, topology, backend }
    }

    /// One process alone (world 1).
    pub fn single() -> Communicator {
        Communicator::new(Arc::new(Single), Topology::SINGLE, Backend::Single)
    }

    /// A communicator over `transport`, this process being `local_rank` on its machine.
    pub fn with_transport(transport: Box<dyn Transport>, local_rank: usize) -> Communicator {
        let topology = Topology { rank: transport.rank(), world: transport.world(), local_rank };
        Communicator::new(Arc::from(transport), topology, Backend::Custom)
    }

    /// The world this process was launched into: read from the launcher's variables
    /// (`mpirun`, `srun`, PMI launchers); a world of one process without them. Several
    /// processes need the `mpi` feature (an error otherwise, before any training).
    pub fn from_env() -> Result<Communicator> {
        match detect()? {
            None => Ok(Communicator::single()),
            Some((_, t)) if t.world == 1 => Ok(Communicator::single()),
            Some((launcher, t)) => Communicator::launched(launcher, t),
        }
    }

    #[cfg(feature = "mpi")]
    fn launched(_launcher: &'static str, t: Topology) -> Result<Communicator> {
        let comm = Communicator::mpi()?;
        if (comm.rank(), comm.world()) != (t.rank, t.world) {
            return Err(Error::Inconsistent {
                env_rank: t.rank,
                env_world: t.world,
                rank: comm.rank(),
                world: comm.world(),
            });
        }
        Ok(comm)
    }

    #[cfg(not(feature = "mpi"))]
    fn launched(launcher: &'static str, t: Topology) -> Result<Communicator> {
        Err(Error::NoBackend { rank: t.rank, world: t.world, launcher })
    }

    /// Initialises MPI and joins `MPI_COMM_WORLD` (once per process).
    #[cfg(feature = "mpi")]
    pub fn mpi() -> Result<Communicator> {
        let mpi = crate::mpi_backend::Mpi::init()?;
        let topology = Topology { rank: mpi.rank(), world: mpi.world(), local_rank: mpi.local_rank() };
        Ok(Communicator::new(Arc::new(mpi), topology, Backend::Mpi))
    }

    /// This process's rank, `0..world()`.
    pub fn rank(&self) -> usize {
        self.topology.rank
    }

    /// The number of processes.
    pub fn world(&self) -> usize {
        self.topology.world
    }

    /// This process's rank on its machine (the GPU it takes).
    pub fn local_rank(&self) -> usize {
        self.topology.local_rank
    }

    /// Whether this is rank 0 (the one that prints and writes files).
    pub fn is_root(&self) -> bool {
        self.topology.rank == 0
    }

    /// The transport.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The GPU whose tensors this communicator reduces where they lie, through NCCL (`None`:
    /// every tensor goes through host memory).
    pub fn nccl_device(&self) -> Option<tessera_tensor::Device> {
        #[cfg(feature = "cuda")]
        return self.nccl.as_ref().map(|n| tessera_tensor::Device::Cuda(n.device().ordinal()));
        #[cfg(not(feature = "cuda"))]
        None
    }

    /// Waits for the collectives queued on this communicator's GPU and says whether its NCCL
    /// member is sound: [`Error::Aborted`](crate::Error::Aborted) once its watchdog has ended it
    /// (a rank lost, or a collective still running after `TESSERA_NCCL_TIMEOUT` seconds, 600 by
    /// default; `docs/distributed.md`, "When a process dies"). Without NCCL, `Ok` at once. The
    /// trainer asks before an epoch's results are recorded, so that a failed all-reduce never
    /// reaches a checkpoint.
    pub fn check_health(&self) -> Result<()> {
        #[cfg(feature = "cuda")]
        if let Some(nccl) = &self.nccl {
            nccl.device().synchronize().map_err(tessera_tensor::Error::from)?;
            return nccl.check();
        }
        Ok(())
    }

    /// Sums (or maximises) `buf` over the ranks, in place.
    pub fn all_reduce_buf(&self, buf: Buf<'_>, op: ReduceOp) -> Result<()> {
        self.transport.all_reduce(buf, op)
    }

    /// Overwrites `buf` with `root`'s, in place.
    pub fn broadcast_buf(&self, buf: Buf<'_>, root: usize) -> Result<()> {
        self.transport.broadcast(buf, root)
    }

    /// Sums `values` over the ranks, in place.
    pub fn all_reduce_f64(&self, values: &mut [f64]) -> Result<()> {
        self.transport.all_reduce(Buf::F64(values), ReduceOp::Sum)
    }

    /// Whether `flag` holds on any rank (every rank gets the same answer).
    pub fn any(&self, flag: bool) -> Result<bool> {
        let mut v = [flag as u64];
        self.transport.all_reduce(Buf::U64(&mut v), ReduceOp::Max)?;
        Ok(v[0] != 0)
    }

    /// `root`'s bytes on every rank (any length: the length travels first).
    pub fn broadcast_bytes(&self, bytes: &[u8], root: usize) -> Result<Vec<u8>> {
        let mut len = [bytes.len() as u64];
        self.transport.broadcast(Buf::U64(&mut len), root)?;
        let mut out = if self.rank() == root { bytes.to_vec() } else { vec![0u8; len[0] as usize] };
        self.transport.broadcast(Buf::U8(&mut out), root)?;
        Ok(out)
    }

    /// `root`'s `value` on every rank.
    pub fn broadcast_u64(&self, value: u64, root: usize) -> Result<u64> {
        let mut v = [value];
        self.transport.broadcast(Buf::U64(&mut v), root)?;
        Ok(v[0])
    }

    /// Every rank's `value`, in rank order.
    pub fn all_gather_u64(&self, value: u64) -> Result<Vec<u64>> {
        let mut out = vec![0u64; self.world()];
        self.transport.all_gather(Buf::U64(&mut [value]), Buf::U64(&mut out))?;
        Ok(out)
    }

    /// Reduces `t` over the ranks into a new contiguous tensor on `t`'s device: on the GPU
    /// through NCCL where the communicator joined it there (f16 and bf16 too), else staged
    /// through host memory (f32 and f64).
    pub fn all_reduced(&self, t: &Tensor, op: Reduce) -> Result<Tensor> {
        #[cfg(feature = "cuda")]
        if let Some(nccl) = self.nccl_for(t) {
            return self.reduced_on_device(nccl, t, op);
        }
        match t.dtype() {
            DType::F32 => {
                let mut v = t.to_vec::<f32>()?;
                self.reduce_buf(Buf::F32(&mut v), op)?;
                Ok(Tensor::from_vec(v, t.shape().clone(), t.device())?)
            }
            DType::F64 => {
                let mut v = t.to_vec::<f64>()?;
                self.reduce_buf(Buf::F64(&mut v), op)?;
                Ok(Tensor::from_vec(v, t.shape().clone(), t.device())?)
            }
            dtype => Err(Error::DType { op: "all_reduce", dtype }),
        }
    }

    /// Reduces `buf` over the ranks with `op` in place: its factors applied to float buffers
    /// before and after the sum (integer buffers are summed as they are).
    fn reduce_buf(&self, buf: Buf<'_>, op: Reduce) -> Result<()> {
        let (before, after) = op.factors(self.world());
        match buf {
            Buf::F32(v) => {
                scale(v, before);
                self.transport.all_reduce(Buf::F32(v), ReduceOp::Sum)?;
                scale(v, after);
            }
            Buf::F64(v) => {
                scale(v, before);
                self.transport.all_reduce(Buf::F64(v), ReduceOp::Sum)?;
                scale(v, after);
            }
            integers => self.transport.all_reduce(integers, ReduceOp::Sum)?,
        }
        Ok(())
    }

    /// Reduces `t` over the ranks in place (`t` must own its storage densely: a parameter, not
    /// a view).
    pub fn all_reduce_(&self, t: &Tensor, op: Reduce) -> Result<()> {
        #[cfg(feature = "cuda")]
        if let Some(nccl) = self.nccl_for(t) {
            return self.all_reduce_on_device(nccl, t, op);
        }
        match host_in_place(t, "all_reduce", |buf| self.reduce_buf(buf, op))? {
            true => Ok(()),
            false => Ok(t.assign_(&self.all_reduced(t, op)?)?),
        }
    }

    /// Overwrites `t` on every rank with `root`'s values, in place (`t` must own its storage
    /// densely).
    pub fn broadcast_(&self, t: &Tensor, root: usize) -> Result<()> {
        #[cfg(feature = "cuda")]
        if let Some(nccl) = self.nccl_for(t) {
            return crate::nccl::in_place_on_device(t, |b| nccl.broadcast(b, root));
        }
        if host_in_place(t, "broadcast", |buf| self.transport.broadcast(buf, root))? {
            return Ok(());
        }
        let out = match t.dtype() {
            DType::F32 => {
                let mut v = t.to_vec::<f32>()?;
                self.transport.broadcast(Buf::F32(&mut v), root)?;
                Tensor::from_vec(v, t.shape().clone(), t.device())?
            }
            DType::F64 => {
                let mut v = t.to_vec::<f64>()?;
                self.transport.broadcast(Buf::F64(&mut v), root)?;
                Tensor::from_vec(v, t.shape().clone(), t.device())?
            }
            dtype => return Err(Error::DType { op: "broadcast", dtype }),
        };
        if self.world() > 1 {
            t.assign_(&out)?;
        }
        Ok(())
    }

    /// Every rank's `t` (the same shape everywhere), stacked in rank order: `[world, ...]`.
    pub fn all_gather(&self, t: &Tensor) -> Result<Tensor> {
        let mut dims = vec![self.world()];
        dims.extend_from_slice(t.dims());
        #[cfg(feature = "cuda")]
        if let Some(nccl) = self.nccl_for(t) {
            let (local, out) = (t.copy()?, Tensor::zeros(dims, t.dtype(), t.device())?);
            out.with_cuda_mut(|r| local.with_cuda_mut(|l| nccl.all_gather(l, r)))???;
            return Ok(out);
        }
        match t.dtype() {
            DType::F32 => {
                let mut local = t.to_vec::<f32>()?;
                let mut out = vec![0f32; local.len() * self.world()];
                self.transport.all_gather(Buf::F32(&mut local), Buf::F32(&mut out))?;
                Ok(Tensor::from_vec(out, dims, t.device())?)
            }
            DType::F64 => {
                let mut local = t.to_vec::<f64>()?;
                let mut out = vec![0f64; local.len() * self.world()];
                self.transport.all_gather(Buf::F64(&mut local), Buf::F64(&mut out))?;
                Ok(Tensor::from_vec(out, dims, t.device())?)
            }
            dtype => Err(Error::DType { op: "all_gather", dtype }),
        }
    }

    /// Ends every process of the job now with `code` (`MPI_Abort`; for one process, its exit):
    /// what a rank that failed does, so that the others do not wait for it in a collective.
    /// Nothing is finalised or flushed beyond standard error.
    pub fn abort(&self, code: i32) -> ! {
        self.transport.abort(code)
    }

    /// Waits until every rank has called it.
    pub fn barrier(&self) -> Result<()> {
        self.transport.barrier()
    }
}
