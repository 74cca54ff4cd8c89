//! The transformer ops' dispatch: fused attention, the norms and rotary embeddings.

use super::{on_one_device, on_one_device_sized, OnDevice, Storage};
use crate::Result;
use tessera_kernels::cpu;
#[cfg(feature = "cuda")]
use tessera_kernels::cuda;
use tessera_kernels::plan::{AttentionBackwardPlan, AttentionPlan, NormBackwardPlan, NormPlan, RotaryPlan};

impl Storage {
    /// Fused attention (see [`crate::Tensor::attention`]): `[out, lse]`.
    pub(crate) fn attention(plan: &AttentionPlan, qkv: [&Storage; 3], mask: Option<&Storage>) -> Result<[Storage; 2]> {
        let [q, k, v] = qkv;
        // The output takes q's rows and v's width: larger than any operand when v_dim > head_dim.
        let parts = [q, k, v, mask.unwrap_or(q)];
        Ok(match on_one_device_sized("attention", parts, plan.dtype, plan.out_shape.elem_count())? {
            OnDevice::Cpu([q, k, v, m]) => {
                // The log-sum-exp has a value per query row: more than the output when v_dim is 0.
                cpu::reserve_output("attention", plan.lse_dtype, plan.lse_shape().elem_count())?;
                cpu::attention(plan, [q, k, v], mask.map(|_| m))?.map(Storage::Cpu)
            }
            #[cfg(feature = "cuda")]
            OnDevice::Cuda([q, k, v, m]) => cuda::attention(plan, [q, k, v], mask.map(|_| m))?.map(Storage::Cuda),
        })
    }

    /// Fused attention backward (see [`crate::Tensor::attention_backward`]): `[dq, dk, dv]`.
    pub(crate) fn attention_backward(
        plan: &AttentionBackwardPlan,
        qkv: [&Storage; 3],
        mask: Option<&Storage>,
        saved: [&Storage; 3],
    ) -> Result<[Storage; 3]> {
        let ([q, k, v], [o, l, d]) = (qkv, saved);
        Ok(match on_one_device("attention_backward", [q, k, v, mask.unwrap_or(q), o, l, d])? {
            OnDevice::Cpu([q, k, v, m, o, l, d]) => {
                cpu::attention_backward(plan, [q, k, v], mask.map(|_| m), [o, l, d])?.map(Storage::Cpu)
            }
            #[cfg(feature = "cuda")]
            OnDevice::Cuda([q, k, v, m, o, l, d]) => {
                cuda::attention_backward(plan, [q, k, v], mask.map(|_| m), [o, l, d])?.map(Storage::Cuda)
            }
        })
    }

    /// LayerNorm or RMSNorm (see [`crate::Tensor::layer_norm`]): `[y, stats]`.
    pub(crate) fn norm(
        plan: &NormPlan,
        x: &Storage,
        weight: Option<&Storage>,
        bias: Option<&Storage>,
    ) -> Result<[Storage; 2]> {
        let op = plan.kind.name();
        Ok(match on_one_device(op, [x, weight.unwrap_or(x), bias.unwrap_or(x)])? {
            OnDevice::Cpu([x, w, b]) => cpu::norm(plan, x, weight.map(|_| w), bias.map(|_| b))?.map(Storage::Cpu),
            #[cfg(feature = "cuda")]
            OnDevice::Cuda([x, w, b]) => cuda::norm(plan, x, weight.map(|_| w), bias.map(|_| b))?.map(Storage::Cuda),
        })
    }

    /// The gradients of a normalisation (see [`crate::Tensor::norm_backward`]): `dx`, and the
    /// weight's and bias's where the plan asks for them.
    pub(crate) fn norm_backward(
        plan: &NormBackwardPlan,
        x: &Storage,
        weight: Option<&Storage>,
        dy: &Storage,
        stats: &Storage,
    ) -> Result<(Storage, [Option<Storage>; 2])> {
        Ok(match on_one_device("norm_backward", [x, weight.unwrap_or(x), dy, stats])? {
            OnDevice::Cpu([x, w, d, s]) => {
                let (dx, params) = cpu::norm_backward(plan, x, weight.map(|_| w), d, s)?;
                (Storage::Cpu(dx), params.map(|p| p.map(Storage::Cpu)))
            }
            #[cfg(feature = "cuda")]
            OnDevice::Cuda([x, w, d, s]) => {
                let (dx, params) = cuda::norm_backward(plan, x, weight.map(|_| w), d, s)?;
                (Storage::Cuda(dx), params.map(|p| p.map(Storage::Cuda)))
            }
        })
    }

    pub(crate) fn rotary(&self, plan: &RotaryPlan) -> Result<Storage> {
        Ok(match on_one_device("rotary", [self])? {
            OnDevice::Cpu([x]) => Storage::Cpu(cpu::rotary(plan, x)?),
            #[cfg(feature = "cuda")]
            OnDevice::Cuda([x]) => Storage::Cuda(cuda::rotary(plan, x)?),
        })
    }
}
