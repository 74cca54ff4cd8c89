//! Fused LayerNorm and RMSNorm, and rotary position embeddings, with their backward rules.

use crate::{Result, Var};
use tessera_tensor::{NormKind, NormParamGrads, Tensor};

impl Var {
    /// LayerNorm over the last dim (see `Tensor::layer_norm`), with an optional weight and bias.
    pub fn layer_norm(&self, weight: Option<&Var>, bias: Option<&Var>, eps: f64) -> Result<Var> {
        self.norm(NormKind::Layer, weight, bias, eps)
    }

    /// RMSNorm over the last dim (see `Tensor::rms_norm`), with an optional weight.
    pub fn rms_norm(&self, weight: Option<&Var>, eps: f64) -> Result<Var> {
        self.norm(NormKind::Rms, weight, None, eps)
    }

    fn norm(&self, kind: NormKind, weight: Option<&Var>, bias: Option<&Var>, eps: f64) -> Result<Var> {
        let (wt, bt) = (weight.map(|w| w.tensor()), bias.map(|b| b.tensor()));
        let (y, stats) = match kind {
            NormKind::Layer => self.tensor().layer_norm(wt, bt, eps)?,
            NormKind::Rms => self.tensor().rms_norm(wt, eps)?,
        };
        let mut inputs = vec![self];
        inputs.extend(weight);
        inputs.extend(bias);
        let (x, w, has_bias) = (self.tensor().clone(), wt.cloned(), bias.is_some());
        Ok(Var::record(kind.name(), y, &inputs, move |c| {
            // The parameters' gradients are summed over the rows in the input gradient's pass.
            let bias_slot = 1 + w.is_some() as usize;
            let params = NormParamGrads { weight: w.is_some() && c.needs(1), bias: has_bias && c.needs(bias_slot) };
            let g = Tensor::norm_backward(kind, &x, w.as_ref(), c.grad, &stats, params)?;
            let mut grads = vec![c.needs(0).then_some(g.x)];
            if w.is_some() {
                grads.push(g.weight);
            }
            if has_bias {
                grads.push(g.bias);
            }
            Ok(grads)
        }))
    }

    /// Rotary position embeddings over `[..., seq, dim]` (see `Tensor::rotary`); the gradient is
    /// the inverse rotation.
    pub fn rotary(&self, offset: usize, base: f64) -> Result<Var> {
        let y = self.tensor().rotary(offset, base)?;
        Ok(Var::record("rotary", y, &[self], move |c| Ok(vec![Some(c.grad.rotary_inverse(offset, base)?)])))
    }
}
