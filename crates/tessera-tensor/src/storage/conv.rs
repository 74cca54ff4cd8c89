//! The convolutions' dispatch: the im2col and col2im windows, conv2d and its two gradients.

use super::{on_one_device_sized, OnDevice, Storage};
use crate::Result;
use tessera_kernels::cpu;
#[cfg(feature = "cuda")]
use tessera_kernels::cuda;
use tessera_kernels::plan::{Col2ImPlan, Conv2dPlan, Im2ColPlan};

impl Storage {
    /// im2col (see [`crate::Tensor::im2col`]).
    pub(crate) fn im2col(&self, plan: &Im2ColPlan) -> Result<Storage> {
        Ok(match on_one_device_sized("im2col", [self], plan.dtype, plan.out_shape.elem_count())? {
            OnDevice::Cpu([x]) => Storage::Cpu(cpu::im2col(plan, x)?),
            #[cfg(feature = "cuda")]
            OnDevice::Cuda([x]) => Storage::Cuda(cuda::im2col(plan, x)?),
        })
    }

    /// col2im (see [`crate::Tensor::col2im`]).
    pub(crate) fn col2im(&self, plan: &Col2ImPlan) -> Result<Storage> {
        Ok(match on_one_device_sized("col2im", [self], plan.dtype, plan.out_shape.elem_count())? {
            OnDevice::Cpu([c]) => Storage::Cpu(cpu::col2im(plan, c)?),
            #[cfg(feature = "cuda")]
            OnDevice::Cuda([c]) => Storage::Cuda(cuda::col2im(plan, c)?),
        })
    }

    /// conv2d (see [`crate::Tensor::conv2d`]).
    pub(crate) fn conv2d(plan: &Conv2dPlan, x: &Storage, weight: &Storage, bias: Option<&Storage>) -> Result<Storage> {
        let parts = [x, weight, bias.unwrap_or(x)];
        Ok(match on_one_device_sized("conv2d", parts, plan.dtype, plan.out_shape.elem_count())? {
            OnDevice::Cpu([x, w, b]) => Storage::Cpu(cpu::conv2d(plan, x, w, bias.map(|_| b))?),
            #[cfg(feature = "cuda")]
            OnDevice::Cuda([x, w, b]) => Storage::Cuda(cuda::conv2d(plan, x, w, bias.map(|_| b))?),
        })
    }

    /// conv2d's images' gradient (see [`crate::Tensor::conv2d_input_grad`]).
    pub(crate) fn conv2d_input_grad(plan: &Conv2dPlan, dy: &Storage, weight: &Storage) -> Result<Storage> {
        Ok(match on_one_device_sized("conv2d_input_grad", [dy, weight], plan.dtype, plan.out_shape.elem_count())? {
            OnDevice::Cpu([d, w]) => Storage::Cpu(cpu::conv2d_input_grad(plan, d, w)?),
            #[cfg(feature = "cuda")]
            OnDevice::Cuda([d, w]) => Storage::Cuda(cuda::conv2d_input_grad(plan, d, w)?),
        })
    }

    /// conv2d's weight's gradient (see [`crate::Tensor::conv2d_weight_grad`]).
    pub(crate) fn conv2d_weight_grad(plan: &Conv2dPlan, x: &Storage, dy: &Storage) -> Result<Storage> {
        Ok(match on_one_device_sized("conv2d_weight_grad", [x, dy], plan.dtype, plan.out_shape.elem_count())? {
            OnDevice::Cpu([x, d]) => Storage::Cpu(cpu::conv2d_weight_grad(plan, x, d)?),
            #[cfg(feature = "cuda")]
            OnDevice::Cuda([x, d]) => Storage::Cuda(cuda::conv2d_weight_grad(plan, x, d)?),
        })
    }
}
