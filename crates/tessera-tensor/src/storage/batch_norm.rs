//! The batch normalisation's dispatch, forward and backward.

use super::{on_one_device, OnDevice, Storage};
use crate::Result;
use tessera_kernels::cpu;
#[cfg(feature = "cuda")]
use tessera_kernels::cuda;
use tessera_kernels::plan::{BatchNormBackwardPlan, BatchNormPlan};

impl Storage {
    /// Batch normalisation (see [`crate::Tensor::batch_norm`]): `[y, saved]`.
    pub(crate) fn batch_norm(
        plan: &BatchNormPlan,
        x: &Storage,
        weight: Option<&Storage>,
        bias: Option<&Storage>,
        running: Option<(&Storage, &Storage)>,
    ) -> Result<[Storage; 2]> {
        let (m, v) = (running.map_or(x, |r| r.0), running.map_or(x, |r| r.1));
        Ok(match on_one_device("batch_norm", [x, weight.unwrap_or(x), bias.unwrap_or(x), m, v])? {
            OnDevice::Cpu([x, w, b, m, v]) => {
                let r = running.map(|_| (m, v));
                cpu::batch_norm(plan, x, weight.map(|_| w), bias.map(|_| b), r)?.map(Storage::Cpu)
            }
            #[cfg(feature = "cuda")]
            OnDevice::Cuda([x, w, b, m, v]) => {
                let r = running.map(|_| (m, v));
                cuda::batch_norm(plan, x, weight.map(|_| w), bias.map(|_| b), r)?.map(Storage::Cuda)
            }
        })
    }

    /// The gradients of a batch normalisation (see [`crate::Tensor::batch_norm_backward`]):
    /// `[dx, dweight, dbias]`.
    pub(crate) fn batch_norm_backward(
        plan: &BatchNormBackwardPlan,
        x: &Storage,
        weight: Option<&Storage>,
        dy: &Storage,
        saved: &Storage,
    ) -> Result<[Storage; 3]> {
        Ok(match on_one_device("batch_norm_backward", [x, weight.unwrap_or(x), dy, saved])? {
            OnDevice::Cpu([x, w, d, s]) => {
                cpu::batch_norm_backward(plan, x, weight.map(|_| w), d, s)?.map(Storage::Cpu)
            }
            #[cfg(feature = "cuda")]
            OnDevice::Cuda([x, w, d, s]) => {
                cuda::batch_norm_backward(plan, x, weight.map(|_| w), d, s)?.map(Storage::Cuda)
            }
        })
    }
}
