//! The pooling ops' dispatch: max, average and adaptive average pooling and their backward.

use super::{on_one_device_sized, OnDevice, Storage};
use crate::Result;
use tessera_kernels::cpu;
#[cfg(feature = "cuda")]
use tessera_kernels::cuda;
use tessera_kernels::plan::{PoolBackwardPlan, PoolKind, PoolPlan};

impl Storage {
    /// Max pooling (see [`crate::Tensor::max_pool2d`]): `[y, indices]`.
    pub(crate) fn max_pool2d(&self, plan: &PoolPlan) -> Result<[Storage; 2]> {
        Ok(match on_one_device_sized("max_pool2d", [self], plan.dtype, plan.out_shape.elem_count())? {
            OnDevice::Cpu([x]) => cpu::max_pool2d(plan, x)?.map(Storage::Cpu),
            #[cfg(feature = "cuda")]
            OnDevice::Cuda([x]) => cuda::max_pool2d(plan, x)?.map(Storage::Cuda),
        })
    }

    /// Average pooling, plain or adaptive (see [`crate::Tensor::avg_pool2d`]).
    pub(crate) fn avg_pool2d(&self, plan: &PoolPlan) -> Result<Storage> {
        Ok(match on_one_device_sized(plan.kind.name(), [self], plan.dtype, plan.out_shape.elem_count())? {
            OnDevice::Cpu([x]) => Storage::Cpu(cpu::avg_pool2d(plan, x)?),
            #[cfg(feature = "cuda")]
            OnDevice::Cuda([x]) => Storage::Cuda(cuda::avg_pool2d(plan, x)?),
        })
    }

    /// The input's gradient of a pooling (see [`crate::Tensor::max_pool2d_backward`] and the
    /// average poolings' backward); `indices` for max pooling only.
    pub(crate) fn pool2d_backward(plan: &PoolBackwardPlan, dy: &Storage, indices: Option<&Storage>) -> Result<Storage> {
        let op = plan.forward.kind.backward_name();
        let max = matches!(plan.forward.kind, PoolKind::Max(_));
        let (dtype, inputs) = (plan.forward.dtype, plan.forward.x.elem_count());
        let parts = on_one_device_sized(op, [dy, indices.unwrap_or(dy)], dtype, inputs)?;
        Ok(match (parts, indices.is_some() && max) {
            (OnDevice::Cpu([d, i]), true) => Storage::Cpu(cpu::max_pool2d_backward(plan, d, i)?),
            (OnDevice::Cpu([d, _]), false) => Storage::Cpu(cpu::avg_pool2d_backward(plan, d)?),
            #[cfg(feature = "cuda")]
            (OnDevice::Cuda([d, i]), true) => Storage::Cuda(cuda::max_pool2d_backward(plan, d, i)?),
            #[cfg(feature = "cuda")]
            (OnDevice::Cuda([d, _]), false) => Storage::Cuda(cuda::avg_pool2d_backward(plan, d)?),
        })
    }
}
