//! Fused scaled-dot-product attention and its backward rule (the fused backward kernels).

use crate::autocast::Autocast;
use crate::{Result, Var};
use tessera_tensor::{AttentionSpec, Tensor};

impl Var {
    /// `softmax(q kᵀ · scale + masks) v` over `[batch, heads, seq, dim]` operands, fused (see
    /// `Tensor::attention`): no `seq × seq` matrix is kept for backward, only each query row's
    /// log-sum-exp, from which the backward recomputes the weights tile by tile.
    /// `key_padding_mask` (u8 `[batch, kv_len]`, nonzero: ignore the key) is not differentiated.
    /// Inside an autocast scope f32 operands compute in its low precision (see
    /// [`Precision`](crate::Precision)).
    pub fn attention(
        q: &Var,
        k: &Var,
        v: &Var,
        key_padding_mask: Option<&Tensor>,
        spec: &AttentionSpec,
    ) -> Result<Var> {
        if let Some(cast) = Autocast::of(&[q, k, v]) {
            let (q, k, v) = (cast.operand(q)?, cast.operand(k)?, cast.operand(v)?);
            return cast.result(Var::attention(&q, &k, &v, key_padding_mask, spec)?);
        }
        let (out, lse) = Tensor::attention(q.tensor(), k.tensor(), v.tensor(), key_padding_mask, spec)?;
        let (qt, kt, vt) = (q.tensor().clone(), k.tensor().clone(), v.tensor().clone());
        let (mask, spec, saved_out) = (key_padding_mask.cloned(), *spec, out.clone());
        Ok(Var::record("attention", out, &[q, k, v], move |c| {
            let saved = [&saved_out, &lse, c.grad];
            let (dq, dk, dv) = Tensor::attention_backward([&qt, &kt, &vt], mask.as_ref(), saved, &spec)?;
            Ok(vec![c.needs(0).then_some(dq), c.needs(1).then_some(dk), c.needs(2).then_some(dv)])
        }))
    }
}
