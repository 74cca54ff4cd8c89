//! The LSTM kernels' dispatch: the fused cell forward and backward, and the whole recurrence
//! where a device has a kernel for it.

use super::{on_one_device, on_one_device_sized, OnDevice, Storage};
use crate::Result;
use tessera_core::Layout;
use tessera_kernels::cpu;
#[cfg(feature = "cuda")]
use tessera_kernels::cuda;
use tessera_kernels::plan::{LstmCellBackwardPlan, LstmCellPlan, LstmSequenceBackwardPlan, LstmSequencePlan};

impl Storage {
    /// The fused LSTM cell forward (see [`crate::Tensor::lstm_cell`]): `(h, c, acts)`.
    pub(crate) fn lstm_cell(plan: &LstmCellPlan, parts: [&Storage; 3]) -> Result<[Storage; 3]> {
        Ok(match on_one_device("lstm_cell", parts)? {
            OnDevice::Cpu(bufs) => cpu::lstm_cell(plan, bufs)?.map(Storage::Cpu),
            #[cfg(feature = "cuda")]
            OnDevice::Cuda(bufs) => cuda::lstm_cell(plan, bufs)?.map(Storage::Cuda),
        })
    }

    /// The fused LSTM cell backward (see [`crate::Tensor::lstm_cell_backward`]):
    /// `(d_gates, dc_prev)` from `acts, c_prev, c, dh, dc`.
    pub(crate) fn lstm_cell_backward(plan: &LstmCellBackwardPlan, parts: [&Storage; 5]) -> Result<[Storage; 2]> {
        Ok(match on_one_device("lstm_cell_backward", parts)? {
            OnDevice::Cpu(bufs) => cpu::lstm_cell_backward(plan, bufs)?.map(Storage::Cpu),
            #[cfg(feature = "cuda")]
            OnDevice::Cuda(bufs) => cuda::lstm_cell_backward(plan, bufs)?.map(Storage::Cuda),
        })
    }

    /// The whole LSTM recurrence (see [`crate::Tensor::lstm_sequence`]): `[out, cells, acts]`
    /// from `proj, h0, c0, w_hh` (f32 or f64: the tensor layer widens f16 and bf16), or `None`
    /// where the device has no sequence kernel (CUDA): the tensor layer then composes step
    /// kernels.
    pub(crate) fn lstm_sequence(plan: &LstmSequencePlan, parts: [&Storage; 4]) -> Result<Option<[Storage; 3]>> {
        let (steps, batch, hidden) = plan.dims();
        let elements = steps.saturating_mul(batch).saturating_mul(hidden).saturating_mul(6);
        Ok(match on_one_device_sized("lstm_sequence", parts, plan.dtype, elements)? {
            OnDevice::Cpu(bufs) => Some(cpu::lstm_sequence(plan, bufs)?.map(Storage::Cpu)),
            #[cfg(feature = "cuda")]
            OnDevice::Cuda(_) => None,
        })
    }

    /// The whole LSTM recurrence's backward (see [`crate::Tensor::lstm_sequence_backward`]):
    /// `[d_proj, dh0, dc0, d_w_hh]` from `out, cells, acts, h0, c0, w_hh, grad`, and `d_proj`'s
    /// layout (its rows may be padded; the others are contiguous), or `None` as for
    /// [`Storage::lstm_sequence`].
    pub(crate) fn lstm_sequence_backward(
        plan: &LstmSequenceBackwardPlan,
        parts: [&Storage; 7],
    ) -> Result<Option<([Storage; 4], Layout)>> {
        let (steps, batch, hidden) = plan.dims();
        let elements = steps.saturating_mul(batch).saturating_mul(hidden).saturating_mul(4);
        Ok(match on_one_device_sized("lstm_sequence_backward", parts, plan.dtype, elements)? {
            OnDevice::Cpu(bufs) => {
                let (grads, d_proj) = cpu::lstm_sequence_backward(plan, bufs)?;
                Some((grads.map(Storage::Cpu), d_proj))
            }
            #[cfg(feature = "cuda")]
            OnDevice::Cuda(_) => None,
        })
    }
}
