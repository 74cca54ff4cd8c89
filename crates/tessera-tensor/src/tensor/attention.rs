//! Fused scaled-dot-product attention: one pass over the keys per query tile with an online
//! softmax, so memory grows linearly with the sequence length.

use super::Tensor;
use crate::{Result, Storage};
use tessera_kernels::plan::{AttentionBackwardPlan, AttentionPlan, AttentionSpec};

impl Tensor {
    /// `softmax(q kᵀ · scale + masks) v`, fused: `q` is `[batch, heads, q_len, head_dim]`, `k`
    /// `[batch, heads, kv_len, head_dim]`, `v` `[batch, heads, kv_len, v_dim]`, any float dtype
    /// and any layout (a head split of a `[batch, seq, heads, dim]` projection is read as is).
    /// `key_padding_mask` (u8 `[batch, kv_len]`, nonzero where a key is padding) and
    /// `spec.causal` hide keys; `spec.dropout` drops weights (PyTorch's `dropout_p`).
    ///
    /// Returns the output `[batch, heads, q_len, v_dim]` and each query row's log-sum-exp
    /// `[batch, heads, q_len]` (f32, or f64 for f64 inputs), which
    /// [`attention_backward`](Tensor::attention_backward) takes. A row with every key hidden
    /// outputs zeros. No `q_len × kv_len` matrix is ever made, on either device. Widths of 0
    /// are allowed: with `head_dim` 0 every score is 0 and each row averages the values it
    /// sees; with `v_dim` 0 only the log-sum-exp has values.
    ///
    /// ```
    /// use tessera_tensor::{AttentionSpec, DType, Device, Tensor};
    /// let q = Tensor::ones([1, 1, 2, 4], DType::F32, &Device::Cpu)?;
    /// let v = Tensor::from_vec(vec![1f32, 2., 3., 4., 5., 6., 7., 8.], [1, 1, 2, 4], &Device::Cpu)?;
    /// let causal = AttentionSpec { causal: true, ..Default::default() };
    /// let (out, _lse) = Tensor::attention(&q, &q, &v, None, &causal)?;
    /// // Row 0 sees key 0 only; row 1 sees both keys with equal scores: the mean of the values.
    /// assert_eq!(out.to_vec::<f32>()?, [1., 2., 3., 4., 3., 4., 5., 6.]);
    /// # Ok::<(), tessera_tensor::Error>(())
    /// ```
    pub fn attention(
        q: &Tensor,
        k: &Tensor,
        v: &Tensor,
        key_padding_mask: Option<&Tensor>,
        spec: &AttentionSpec,
    ) -> Result<(Tensor, Tensor)> {
        let plan = AttentionPlan::new(q.arg(), k.arg(), v.arg(), key_padding_mask.map(|m| m.arg()), *spec)?;
        let mask = key_padding_mask.map(|m| m.storage());
        let [out, lse] = Storage::attention(&plan, [&*q.storage(), &*k.storage(), &*v.storage()], mask.as_deref())?;
        Ok((Tensor::from_storage(out, plan.out_shape.clone()), Tensor::from_storage(lse, plan.lse_shape())))
    }

    /// The gradients `(dq, dk, dv)` of [`Tensor::attention`] of `qkv` (with the same mask and
    /// spec) from its output and log-sum-exp (`saved[0]`, `saved[1]`) and the output's gradient
    /// (`saved[2]`). The weights are recomputed tile by tile from the log-sum-exp (and, with
    /// dropout, the same random numbers).
    pub fn attention_backward(
        qkv: [&Tensor; 3],
        key_padding_mask: Option<&Tensor>,
        saved: [&Tensor; 3],
        spec: &AttentionSpec,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        let [q, k, v] = qkv;
        let forward = AttentionPlan::new(q.arg(), k.arg(), v.arg(), key_padding_mask.map(|m| m.arg()), *spec)?;
        let [out, lse, d_out] = saved;
        let plan = AttentionBackwardPlan::new(forward, out.arg(), lse.arg(), d_out.arg())?;
        let mask = key_padding_mask.map(|m| m.storage());
        let [dq, dk, dv] = Storage::attention_backward(
            &plan,
            [&*q.storage(), &*k.storage(), &*v.storage()],
            mask.as_deref(),
            [&*out.storage(), &*lse.storage(), &*d_out.storage()],
        )?;
        Ok((
            Tensor::from_storage(dq, q.shape().clone()),
            Tensor::from_storage(dk, k.shape().clone()),
            Tensor::from_storage(dv, v.shape().clone()),
        ))
    }
}
