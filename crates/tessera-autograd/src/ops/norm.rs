//! Fused LayerNorm and RMSNorm, and rotary position embeddings, with their backward rules.

use crate::{Result, Var};
use tessera_tensor::{NormKind, Tensor};

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
            let dx = Tensor::norm_backward(kind, &x, w.as_ref(), c.grad, &stats)?;
            let mut grads = vec![c.needs(0).then_some(dx)];
            // Σ over every dim but the last (none for a single row).
            let sum_rows = |t: &Tensor| -> tessera_tensor::Result<Tensor> {
                match x.rank() {
                    1 => Ok(t.clone()),
                    r => t.sum(&(0..r as isize - 1).collect::<Vec<_>>(), false),
                }
            };
            if let Some(w) = &w {
                // dweight = Σ_rows dy · x̂, x̂ = (x - mean) · rstd, in the statistics' dtype.
                let g = if c.needs(1) {
                    let lead: Vec<usize> = x.dims()[..x.rank() - 1].iter().copied().chain([1]).collect();
                    let (mean, rstd) =
                        (stats.narrow(1, 0, 1)?.reshape(lead.clone())?, stats.narrow(1, 1, 1)?.reshape(lead)?);
                    let xhat = x.to_dtype(stats.dtype())?.sub(&mean)?.mul(&rstd)?;
                    let gw = sum_rows(&c.grad.to_dtype(stats.dtype())?.mul(&xhat)?)?;
                    Some(gw.to_dtype(w.dtype())?)
                } else {
                    None
                };
                grads.push(g);
            }
            if has_bias {
                let slot = grads.len();
                grads.push(c.needs(slot).then(|| sum_rows(c.grad)).transpose()?);
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
