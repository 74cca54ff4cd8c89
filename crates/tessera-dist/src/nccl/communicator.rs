//! [`Communicator`]'s NCCL half: joining NCCL (over the communicator's transport or a
//! rendezvous file), and GPU tensors reduced, broadcast and gathered where they lie.

use super::{publish, remove, unique_id, wait_for, Heartbeats, Nccl, Staged, ID_BYTES};
use crate::backend::{check_root, ReduceOp};
use crate::{Backend, Communicator, Error, Reduce, Result, Topology};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tessera_kernels::cuda::{CudaBuffer, CudaDevice};
use tessera_tensor::{Device, Tensor};

/// Runs `collective` on `t`'s device buffer in place: on `t` itself when it owns its storage
/// densely, else on a dense copy that is then assigned to it.
pub(crate) fn in_place_on_device(t: &Tensor, collective: impl FnOnce(&mut CudaBuffer) -> Result<()>) -> Result<()> {
    if t.owns_storage_densely() {
        return t.with_cuda_mut(collective)?;
    }
    let work = t.copy()?;
    work.with_cuda_mut(collective)??;
    Ok(t.assign_(&work)?)
}

impl Communicator {
    /// This communicator, also joined to NCCL for the tensors on `device`, which must be this
    /// process's own GPU (`cuda:<local rank>` when each process of a machine takes one); a CPU
    /// `device` gives an unchanged clone. Rank 0 makes NCCL's id and hands it to the others
    /// over this communicator (MPI), so every rank must call it. Host buffers still go through
    /// this communicator's transport.
    ///
    /// NCCL is loaded at run time: where rank 0 cannot load it, every rank gets
    /// [`Error::NcclUnavailable`], so that a job may go on without it consistently.
    pub fn with_nccl(&self, device: &Device) -> Result<Communicator> {
        let Device::Cuda(ordinal) = *device else { return Ok(self.clone()) };
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
        let gpu = CudaDevice::get(ordinal).map_err(tessera_tensor::Error::from)?;
        let nccl = Nccl::join(&id, self.rank(), self.world(), gpu, None)?;
        Ok(Communicator { nccl: Some(Arc::new(nccl)), ..self.clone() })
    }

    /// A job of `topology.world` processes started without MPI, one per GPU, joined through
    /// NCCL on `device` (this process's GPU): rank 0 makes NCCL's id and writes it to the
    /// rendezvous file `path` (which every process of the job names, on a file system they
    /// share), the others wait up to `timeout` for it, and rank 0 removes it once every rank has
    /// joined. Use a path no other job uses at the same time. Host buffers (losses, counts)
    /// are copied to the GPU for each collective ([`Backend::Nccl`]).
    pub fn nccl_rendezvous(
        path: &Path,
        topology: Topology,
        device: &Device,
        timeout: Duration,
    ) -> Result<Communicator> {
        check_root(topology.rank, topology.world)?;
        let Device::Cuda(ordinal) = *device else {
            return Err(Error::Nccl { op: "rendezvous", msg: format!("NCCL needs a CUDA device, not {device}") });
        };
        let id = if topology.rank == 0 {
            let id = unique_id()?;
            publish(path, &id, topology.world)?;
            id
        } else {
            wait_for(path, topology.world, timeout)?
        };
        let gpu = CudaDevice::get(ordinal).map_err(tessera_tensor::Error::from)?;
        let heartbeats = Heartbeats::new(path, topology.rank, topology.world);
        let nccl = Arc::new(Nccl::join(&id, topology.rank, topology.world, gpu, Some(heartbeats))?);
        let transport = Arc::new(Staged(nccl.clone()));
        let comm = Communicator { transport, topology, backend: Backend::Nccl, nccl: Some(nccl) };
        comm.barrier()?;
        if comm.is_root() {
            remove(path)?;
        }
        Ok(comm)
    }

    /// The NCCL member that reduces `t` where it lies: `t` on this communicator's GPU.
    pub(crate) fn nccl_for(&self, t: &Tensor) -> Option<&Nccl> {
        self.nccl.as_deref().filter(|n| *t.device() == Device::Cuda(n.device().ordinal()))
    }

    /// `t` reduced over the ranks into a new tensor on its GPU: its factors applied there
    /// before and after NCCL's sum. Float dtypes (f16 and bf16 included).
    pub(crate) fn reduced_on_device(&self, nccl: &Nccl, t: &Tensor, op: Reduce) -> Result<Tensor> {
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
    pub(crate) fn all_reduce_on_device(&self, nccl: &Nccl, t: &Tensor, op: Reduce) -> Result<()> {
        if op.factors(self.world()) == (1.0, 1.0) && t.dtype().is_float() {
            return in_place_on_device(t, |b| nccl.all_reduce(b, ReduceOp::Sum));
        }
        Ok(t.assign_(&self.reduced_on_device(nccl, t, op)?)?)
    }
}
