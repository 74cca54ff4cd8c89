//! The GRU sequence kernels' dispatch, where a device has a kernel for the recurrence.

use super::{on_one_device_sized, OnDevice, Storage};
use crate::Result;
use tessera_core::Layout;
use tessera_kernels::cpu;
use tessera_kernels::plan::{GruSequenceBackwardPlan, GruSequencePlan};

impl Storage {
    /// The whole GRU recurrence (see [`crate::Tensor::gru_sequence`]): `[out, acts]` from
    /// `proj, h0, w_hh, b_hh` (f32 or f64: the tensor layer widens f16 and bf16), or `None` where
    /// the device has no sequence kernel (CUDA): the tensor layer then composes the steps.
    pub(crate) fn gru_sequence(plan: &GruSequencePlan, parts: [&Storage; 4]) -> Result<Option<[Storage; 2]>> {
        let (steps, batch, hidden) = plan.dims();
        let elements = steps.saturating_mul(batch).saturating_mul(hidden).saturating_mul(5);
        Ok(match on_one_device_sized("gru_sequence", parts, plan.dtype, elements)? {
            OnDevice::Cpu(bufs) => Some(cpu::gru_sequence(plan, bufs)?.map(Storage::Cpu)),
            #[cfg(feature = "cuda")]
            OnDevice::Cuda(_) => None,
        })
    }

    /// The whole GRU recurrence's backward (see [`crate::Tensor::gru_sequence_backward`]):
    /// `[d_proj, dh0, d_w_hh, d_b_hh]` from `out, acts, h0, w_hh, grad`, and `d_proj`'s layout
    /// (its rows may be padded; the others are contiguous), or `None` as for
    /// [`Storage::gru_sequence`].
    pub(crate) fn gru_sequence_backward(
        plan: &GruSequenceBackwardPlan,
        parts: [&Storage; 5],
    ) -> Result<Option<([Storage; 4], Layout)>> {
        let (steps, batch, hidden) = plan.dims();
        let elements = steps.saturating_mul(batch).saturating_mul(hidden).saturating_mul(6);
        Ok(match on_one_device_sized("gru_sequence_backward", parts, plan.dtype, elements)? {
            OnDevice::Cpu(bufs) => {
                let (grads, d_proj) = cpu::gru_sequence_backward(plan, bufs)?;
                Some((grads.map(Storage::Cpu), d_proj))
            }
            #[cfg(feature = "cuda")]
            OnDevice::Cuda(_) => None,
        })
    }
}
