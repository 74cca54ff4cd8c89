//! A [`Gpt`]'s self-attention weights, for attention maps: the fused attention op never forms
//! the `seq × seq` matrix of weights, so it is computed here apart, from the model's own queries
//! and keys.

use super::model::Gpt;
use crate::{Error, Result};
use tessera_autograd::{no_grad, Var};
use tessera_nn::Module;
use tessera_tensor::{DType, Tensor};

impl Gpt {
    /// Per layer, the causal self-attention weights `[heads, T, T]` of ids `[1, T]` (u32 or
    /// i64, `T` from 1 to the context length): `softmax(q kᵀ / sqrt(head_dim))` with the causal
    /// mask, so row `i` holds the weights query position `i` gives to keys `0..=i` (each row sums
    /// to 1, the upper triangle is 0).
    ///
    /// The queries and keys are the model's own (its `c_attn` projection of `ln_1` of the
    /// residual stream), the residual stream carried through the blocks as in the forward pass
    /// with `weights @ values` as each layer's attention. No dropout is applied, whatever the
    /// training mode, and nothing is recorded for gradients.
    ///
    /// ```
    /// use tessera_tensor::{Device, Tensor};
    /// use tessera_train::gpt::{Gpt, GptConfig};
    /// let cfg = GptConfig { block_size: 8, n_layer: 2, n_head: 2, n_embd: 16, ..GptConfig::small(11) };
    /// let gpt = Gpt::new(&cfg, &Device::Cpu)?;
    /// let ids = Tensor::from_vec(vec![1u32, 2, 3, 4], [1, 4], &Device::Cpu)?;
    /// let weights = gpt.self_attention_weights(&ids)?;
    /// assert_eq!(weights.len(), 2);
    /// assert_eq!(weights[0].dims(), [2, 4, 4]);
    /// # Ok::<(), tessera_train::Error>(())
    /// ```
    pub fn self_attention_weights(&self, ids: &Tensor) -> Result<Vec<Tensor>> {
        Ok(self.attention_pass(ids, |_, _| Ok(()))?.0)
    }

    /// The pass of [`Gpt::self_attention_weights`]: every layer's weights `[heads, T, T]` and the
    /// last block's output `[1, T, E]`; `visit` sees each layer's index and its queries, keys,
    /// values (`[1, heads, T, head_dim]`) and weights `[1, heads, T, T]`.
    fn attention_pass(
        &self,
        ids: &Tensor,
        mut visit: impl FnMut(usize, [&Tensor; 4]) -> Result<()>,
    ) -> Result<(Vec<Tensor>, Var)> {
        let seq = match *ids.dims() {
            [1, seq] if seq > 0 => seq,
            _ => {
                let dims = ids.dims();
                return Err(Error::Config(format!(
                    "attention weights: ids must be [1, seq] with seq ≥ 1, not {dims:?}"
                )));
            }
        };
        let (heads, t) = (self.config().n_head, self.transformer());
        no_grad(|| {
            let mut x = t.embed(ids, 0)?;
            let mut all = Vec::with_capacity(t.h.len());
            for (layer, block) in t.h.iter().enumerate() {
                let (q, k, v) = block.attn.heads(&block.ln_1.forward(&x)?)?;
                let weights = causal_softmax(q.tensor(), k.tensor())?;
                visit(layer, [q.tensor(), k.tensor(), v.tensor(), &weights])?;
                let y = Var::constant(weights.matmul(v.tensor())?);
                x = x.add(&block.attn.merge(&y)?)?;
                x = x.add(&block.mlp.project(&block.ln_2.forward(&x)?)?)?;
                all.push(weights.reshape([heads, seq, seq])?);
            }
            Ok((all, x))
        })
    }
}

/// `softmax(q kᵀ / sqrt(d))` over the keys, keys after the query hidden (`-inf` before the
/// softmax): `q` and `k` `[batch, heads, T, d]`, the weights `[batch, heads, T, T]`.
fn causal_softmax(q: &Tensor, k: &Tensor) -> Result<Tensor> {
    let (seq, d, device) = (q.dims()[2], q.dims()[3], q.device());
    let scores = q.matmul(&k.transpose(-1, -2)?)?.scale(1.0 / (d as f64).sqrt())?;
    let i = Tensor::arange(0.0, seq as f64, 1.0, DType::I64, device)?.reshape([seq, 1])?;
    let j = Tensor::arange(0.0, seq as f64, 1.0, DType::I64, device)?.reshape([1, seq])?;
    let neg = Tensor::full(f64::NEG_INFINITY, (), scores.dtype(), device)?;
    Ok(j.gt(&i)?.where_cond(&neg, &scores)?.softmax(-1)?)
}

#[cfg(test)]
mod tests {
    use super::super::GptConfig;
    use super::*;
    use tessera_nn::ModuleParts;
    use tessera_tensor::{AttentionSpec, Device};

    /// A tiny GPT with attention far from uniform (its `c_attn` weights scaled up) and dropout
    /// that the weights must not see.
    fn sharp_gpt() -> Gpt {
        let cfg = GptConfig { block_size: 12, n_layer: 2, n_head: 2, n_embd: 16, dropout: 0.3, ..GptConfig::small(13) };
        let mut gpt = Gpt::new(&cfg, &Device::Cpu).unwrap();
        gpt.map_parameters(&mut |name, p| match name.ends_with("c_attn.weight") {
            true => Ok(Var::param(p.tensor().scale(30.0)?)?),
            false => Ok(p.clone()),
        })
        .unwrap();
        gpt
    }

    fn ids(seq: usize) -> Tensor {
        let ids: Vec<u32> = (0..seq as u32).map(|i| (i * 7 + 3) % 13).collect();
        Tensor::from_vec(ids, [1, seq], &Device::Cpu).unwrap()
    }

    fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
        let (a, b) = (a.to_vec_f64().unwrap(), b.to_vec_f64().unwrap());
        assert_eq!(a.len(), b.len());
        a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
    }

    #[test]
    fn rows_are_causal_distributions_far_from_uniform() {
        let (gpt, seq) = (sharp_gpt(), 9);
        let weights = gpt.self_attention_weights(&ids(seq)).unwrap();
        assert_eq!(weights.len(), 2);
        let mut far_from_uniform: f64 = 0.0;
        for w in &weights {
            assert_eq!(w.dims(), [2, seq, seq]);
            let w = w.to_vec::<f32>().unwrap();
            for (r, row) in w.chunks(seq).enumerate() {
                let i = r % seq;
                let sum: f32 = row.iter().sum();
                assert!((sum - 1.0).abs() < 1e-5, "row {r} sums to {sum}");
                assert!(row[i + 1..].iter().all(|&x| x == 0.0), "row {r} sees the future: {row:?}");
                for &x in &row[..=i] {
                    far_from_uniform = far_from_uniform.max((x as f64 - 1.0 / (i + 1) as f64).abs());
                }
            }
        }
        assert!(far_from_uniform > 0.2, "the test model's attention is nearly uniform ({far_from_uniform})");
    }

    #[test]
    fn weights_reproduce_the_fused_attention_and_the_logits() {
        let (gpt, seq) = (sharp_gpt(), 10);
        let causal = AttentionSpec { causal: true, ..Default::default() };
        let mut layers = 0;
        let (weights, last) = gpt
            .attention_pass(&ids(seq), |_, [q, k, v, w]| {
                let (fused, _) = Tensor::attention(q, k, v, None, &causal)?;
                let diff = max_diff(&w.matmul(v)?, &fused);
                assert!(diff < 1e-5, "weights @ v differs from the fused attention by {diff}");
                layers += 1;
                Ok(())
            })
            .unwrap();
        assert_eq!(layers, 2);
        // In training mode the weights ignore dropout: the same as in evaluation mode.
        gpt.set_training(false);
        let again = gpt.self_attention_weights(&ids(seq)).unwrap();
        for (a, b) in weights.iter().zip(&again) {
            assert_eq!(max_diff(a, b), 0.0);
        }
        let logits = gpt.transformer().logits(&last).unwrap();
        let diff = max_diff(logits.tensor(), gpt.forward_ids(&ids(seq)).unwrap().tensor());
        assert!(diff < 1e-4, "the pass's logits differ from the model's by {diff}");
    }

    #[test]
    fn bad_ids_are_refused() {
        let gpt = sharp_gpt();
        let two = Tensor::from_vec(vec![1u32, 2, 3, 4], [2, 2], &Device::Cpu).unwrap();
        assert!(gpt.self_attention_weights(&two).unwrap_err().to_string().contains("[1, seq]"));
        let long = gpt.self_attention_weights(&ids(13)).unwrap_err().to_string();
        assert!(long.contains("context length 12"), "{long}");
    }
}
