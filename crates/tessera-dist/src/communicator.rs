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
    transport: Arc<dyn Transport>,
    topology: Topology,
    backend: Backend,
    /// NCCL for the tensors of one GPU, once joined.
    #[cfg(feature = "cuda")]
    nccl: Option<Arc<crate::nccl::Nccl>>,
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

    /// Reduces `t` over the ranks into a new contiguous tensor on `t`'s device (tensors on
    /// other devices than the CPU are staged through host memory). f32 and f64 only.
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
            return in_place_on_device(t, |b| nccl.broadcast(b, root));
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

/// Runs `collective` on `t`'s device buffer in place: on `t` itself when it owns its storage
/// densely, else on a dense copy that is then assigned to it.
#[cfg(feature = "cuda")]
fn in_place_on_device(
    t: &Tensor,
    collective: impl FnOnce(&mut tessera_kernels::cuda::CudaBuffer) -> Result<()>,
) -> Result<()> {
    if t.owns_storage_densely() {
        return t.with_cuda_mut(collective)?;
    }
    let work = t.copy()?;
    work.with_cuda_mut(collective)??;
    Ok(t.assign_(&work)?)
}

/// NCCL: GPU tensors reduced, broadcast and gathered where they lie.
#[cfg(feature = "cuda")]
impl Communicator {
    /// This communicator, also joined to NCCL for the tensors on `device`, which must be this
    /// process's own GPU (`cuda:<local rank>` when each process of a machine takes one); a CPU
    /// `device` gives an unchanged clone. Rank 0 makes NCCL's id and hands it to the others
    /// over this communicator (MPI), so every rank must call it. Host buffers still go through
    /// this communicator's transport.
    ///
    /// NCCL is loaded at run time: where rank 0 cannot load it, every rank gets
    /// [`Error::NcclUnavailable`], so that a job may go on without it consistently.
    pub fn with_nccl(&self, device: &tessera_tensor::Device) -> Result<Communicator> {
        use crate::nccl::{unique_id, Nccl, ID_BYTES};
        let tessera_tensor::Device::Cuda(ordinal) = *device else { return Ok(self.clone()) };
        // Rank 0 sends no bytes when it cannot make an id, so that the others stop too.
        let made = if self.is_root() { Some(unique_id()) } else { None };
        let sent = match &made {
            Some(Ok(id)) => &id[..],
            _ => &[],
        };
        let received = self.broadcast_bytes(sent, 0)?;
        if let Some(Err(e)) = made {
            return Err(e);
        }
        let id: [u8; ID_BYTES] = received
            .try_into()
            .map_err(|_| Error::NcclUnavailable("rank 0 could not make NCCL's id (its error says why)".into()))?;
        let gpu = tessera_kernels::cuda::CudaDevice::get(ordinal).map_err(tessera_tensor::Error::from)?;
        let nccl = Nccl::join(&id, self.rank(), self.world(), gpu)?;
        Ok(Communicator { nccl: Some(Arc::new(nccl)), ..self.clone() })
    }

    /// A job of `topology.world` processes started without MPI, one per GPU, joined through
    /// NCCL on `device` (this process's GPU): rank 0 makes NCCL's id and writes it to the
    /// rendezvous file `path` (which every process of the job names, on a file system they
    /// share), the others wait up to `timeout` for it, and rank 0 removes it once every rank has
    /// joined. Use a path no other job uses at the same time. Host buffers (losses, counts)
    /// are copied to the GPU for each collective ([`Backend::Nccl`]).
    pub fn nccl_rendezvous(
        path: &std::path::Path,
        topology: Topology,
        device: &tessera_tensor::Device,
        timeout: std::time::Duration,
    ) -> Result<Communicator> {
        use crate::nccl::{publish, remove, unique_id, wait_for, Nccl};
        crate::backend::check_root(topology.rank, topology.world)?;
        let tessera_tensor::Device::Cuda(ordinal) = *device else {
            return Err(Error::Nccl { op: "rendezvous", msg: format!("NCCL needs a CUDA device, not {device}") });
        };
        let id = if topology.rank == 0 {
            let id = unique_id()?;
            publish(path, &id, topology.world)?;
            id
        } else {
            wait_for(path, topology.world, timeout)?
        };
        let gpu = tessera_kernels::cuda::CudaDevice::get(ordinal).map_err(tessera_tensor::Error::from)?;
        let nccl = Arc::new(Nccl::join(&id, topology.rank, topology.world, gpu)?);
        let transport = Arc::new(crate::nccl::Staged(nccl.clone()));
        let comm = Communicator { transport, topology, backend: Backend::Nccl, nccl: Some(nccl) };
        comm.barrier()?;
        if comm.is_root() {
            remove(path)?;
        }
        Ok(comm)
    }

    /// The NCCL member that reduces `t` where it lies: `t` on this communicator's GPU.
    fn nccl_for(&self, t: &Tensor) -> Option<&crate::nccl::Nccl> {
        self.nccl.as_deref().filter(|n| *t.device() == tessera_tensor::Device::Cuda(n.device().ordinal()))
    }

    /// `t` reduced over the ranks into a new tensor on its GPU: its factors applied there
    /// before and after NCCL's sum. Float dtypes (f16 and bf16 included).
    fn reduced_on_device(&self, nccl: &crate::nccl::Nccl, t: &Tensor, op: Reduce) -> Result<Tensor> {
        if !t.dtype().is_float() {
            return Err(Error::DType { op: "all_reduce", dtype: t.dtype() });
        }
        let (before, after) = op.factors(self.world());
        let work = if before != 1.0 { t.scale(before)? } else { t.copy()? };
        work.with_cuda_mut(|b| nccl.all_reduce(b, ReduceOp::Sum))??;
        Ok(if after != 1.0 { work.scale(after)? } else { work })
    }

    /// [`all_reduce_`](Communicator::all_reduce_) of a tensor on this communicator's GPU: on its
    /// own memory when no factor applies.
    fn all_reduce_on_device(&self, nccl: &crate::nccl::Nccl, t: &Tensor, op: Reduce) -> Result<()> {
        if op.factors(self.world()) == (1.0, 1.0) && t.dtype().is_float() {
            return in_place_on_device(t, |b| nccl.all_reduce(b, ReduceOp::Sum));
        }
        Ok(t.assign_(&self.reduced_on_device(nccl, t, op)?)?)
    }
}
