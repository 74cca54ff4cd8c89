//! The optimizer's in-place updates of parameter storage, dispatched by device.

use super::Storage;
use crate::dispatch_log::note;
use crate::{Error, Result};
use tessera_kernels::cpu::{self, CpuBuffer};
#[cfg(feature = "cuda")]
use tessera_kernels::cuda::{self, CudaBuffer};
use tessera_kernels::plan::{MasterOptimPlan, OptimPlan};

impl Storage {
    /// One fused optimizer step, in place: `self` is the parameter; `state` the step's buffers.
    pub(crate) fn optim_step_(&mut self, plan: &OptimPlan, grad: &Storage, state: &mut [&mut Storage]) -> Result<()> {
        let op = plan.step.name();
        note("optim_step_", [self.dtype()]);
        let device = self.device();
        if let Some(other) =
            std::iter::once(grad.device()).chain(state.iter().map(|s| s.device())).find(|d| *d != device)
        {
            return Err(Error::DeviceMismatch { op, lhs: device, rhs: other });
        }
        match self {
            Storage::Cpu(p) => {
                let g = grad.as_cpu().expect("one device, checked above");
                let mut bufs: Vec<&mut CpuBuffer> = state.iter_mut().filter_map(|s| s.as_cpu_mut()).collect();
                cpu::optim_step(plan, p, g, &mut bufs)?;
            }
            #[cfg(feature = "cuda")]
            Storage::Cuda(p) => {
                let g = grad.as_cuda().expect("one device, checked above");
                let mut bufs: Vec<&mut CudaBuffer> = state.iter_mut().filter_map(|s| s.as_cuda_mut()).collect();
                cuda::optim_step(plan, p, g, &mut bufs)?;
            }
        }
        Ok(())
    }

    /// The fused step of a half-precision parameter (`self`) kept as the f32 `master`, in
    /// place: the master updated with `state`, then rounded into the parameter.
    pub(crate) fn optim_step_master_(
        &mut self,
        plan: &MasterOptimPlan,
        master: &mut Storage,
        grad: &Storage,
        state: &mut [&mut Storage],
    ) -> Result<()> {
        let op = plan.update.step.name();
        note("optim_step_master_", [self.dtype()]);
        let device = self.device();
        let others = [master.device(), grad.device()].into_iter().chain(state.iter().map(|s| s.device()));
        if let Some(other) = others.into_iter().find(|d| *d != device) {
            return Err(Error::DeviceMismatch { op, lhs: device, rhs: other });
        }
        match self {
            Storage::Cpu(p) => {
                let (w, g) = (master.as_cpu_mut().expect("one device"), grad.as_cpu().expect("one device"));
                let mut bufs: Vec<&mut CpuBuffer> = state.iter_mut().filter_map(|s| s.as_cpu_mut()).collect();
                cpu::optim_step_master(plan, w, g, &mut bufs, p)?;
            }
            #[cfg(feature = "cuda")]
            Storage::Cuda(p) => {
                let (w, g) = (master.as_cuda_mut().expect("one device"), grad.as_cuda().expect("one device"));
                let mut bufs: Vec<&mut CudaBuffer> = state.iter_mut().filter_map(|s| s.as_cuda_mut()).collect();
                cuda::optim_step_master(plan, w, g, &mut bufs, p)?;
            }
        }
        Ok(())
    }
}
