//! Fused normalisations over the last dim (LayerNorm, RMSNorm) and rotary position embeddings.

use super::Tensor;
use crate::{Result, Storage};
use tessera_kernels::plan::{NormBackwardPlan, NormKind, NormParamGrads, NormPlan, RotaryPlan};

/// The gradients [`Tensor::norm_backward`] gives: the input's, and the parameters' it was asked
/// for (`[width]` each).
#[derive(Debug, Clone)]
pub struct NormGrads {
    /// The input's gradient, `x`'s shape.
    pub x: Tensor,
    /// The weight's gradient, where asked for.
    pub weight: Option<Tensor>,
    /// The bias's gradient, where asked for.
    pub bias: Option<Tensor>,
}

impl Tensor {
    fn norm(
        &self,
        kind: NormKind,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        eps: f64,
    ) -> Result<(Tensor, Tensor)> {
        let plan = NormPlan::new(kind, self.arg(), weight.map(|w| w.arg()), bias.map(|b| b.arg()), eps)?;
        let (w, b) = (weight.map(|w| w.storage()), bias.map(|b| b.storage()));
        let [y, stats] = Storage::norm(&plan, &self.storage(), w.as_deref(), b.as_deref())?;
        Ok((Tensor::from_storage(y, plan.out_shape.clone()), Tensor::from_storage(stats, [plan.rows, 2])))
    }

    /// LayerNorm over the last dim, fused: `(x - mean) / sqrt(var + eps) * weight + bias`
    /// (population variance; weight and bias `[last dim]`, each optional). Returns the output and
    /// each row's statistics `[rows, 2]` (mean, `1 / sqrt(var + eps)`; f32, or f64 for f64
    /// inputs), which [`norm_backward`](Tensor::norm_backward) takes.
    ///
    /// ```
    /// use tessera_tensor::{DType, Device, Tensor};
    /// let x = Tensor::from_vec(vec![1f64, 2., 3., 4.], [2, 2], &Device::Cpu)?;
    /// let (y, _) = x.layer_norm(None, None, 0.0)?;
    /// assert_eq!(y.to_vec::<f64>()?, [-1., 1., -1., 1.]);
    /// # Ok::<(), tessera_tensor::Error>(())
    /// ```
    pub fn layer_norm(&self, weight: Option<&Tensor>, bias: Option<&Tensor>, eps: f64) -> Result<(Tensor, Tensor)> {
        self.norm(NormKind::Layer, weight, bias, eps)
    }

    /// RMSNorm over the last dim, fused: `x / sqrt(mean(x²) + eps) * weight`. Returns the output
    /// and the statistics as [`layer_norm`](Tensor::layer_norm) does (the means are 0).
    pub fn rms_norm(&self, weight: Option<&Tensor>, eps: f64) -> Result<(Tensor, Tensor)> {
        self.norm(NormKind::Rms, weight, None, eps)
    }

    /// The gradients of a normalisation of `kind` given its `weight`, the output's gradient
    /// `dy` and the forward's statistics, in one fused pass over the rows: the input's, and the
    /// weight's (`Σ dy · x̂` over the rows, `x̂ = (x - mean) · rstd`) and the bias's (`Σ dy`)
    /// where `params` asks for them, in the parameters' dtype.
    ///
    /// ```
    /// use tessera_tensor::{Device, NormKind, NormParamGrads, Tensor};
    /// let x = Tensor::from_vec(vec![1f64, 3., 0., 4.], [2, 2], &Device::Cpu)?;
    /// let w = Tensor::from_vec(vec![1f64, 1.], [2], &Device::Cpu)?;
    /// let (_, stats) = x.layer_norm(Some(&w), None, 0.0)?;
    /// let dy = Tensor::from_vec(vec![1f64, 0., 0., 1.], [2, 2], &Device::Cpu)?;
    /// let params = NormParamGrads { weight: true, bias: true };
    /// let grads = Tensor::norm_backward(NormKind::Layer, &x, Some(&w), &dy, &stats, params)?;
    /// // Both rows normalise to [-1, 1].
    /// assert_eq!(grads.weight.unwrap().to_vec::<f64>()?, [-1., 1.]);
    /// assert_eq!(grads.bias.unwrap().to_vec::<f64>()?, [1., 1.]);
    /// # Ok::<(), tessera_tensor::Error>(())
    /// ```
    pub fn norm_backward(
        kind: NormKind,
        x: &Tensor,
        weight: Option<&Tensor>,
        dy: &Tensor,
        stats: &Tensor,
        params: NormParamGrads,
    ) -> Result<NormGrads> {
        let forward = NormPlan::new(kind, x.arg(), weight.map(|w| w.arg()), None, 0.0)?;
        let plan = NormBackwardPlan::new(forward, dy.arg(), stats.arg(), params)?;
        let w = weight.map(|w| w.storage());
        let (dx, [dw, db]) =
            Storage::norm_backward(&plan, &x.storage(), w.as_deref(), &dy.storage(), &stats.storage())?;
        let param = |g: Option<Storage>| g.map(|g| Tensor::from_storage(g, [plan.forward.width]));
        Ok(NormGrads { x: Tensor::from_storage(dx, x.shape().clone()), weight: param(dw), bias: param(db) })
    }

    /// Rotary position embeddings over `[..., seq, dim]` (`dim` even; the "rotate half" layout of
    /// GPT-NeoX and LLaMA): features `c` and `c + dim / 2` at sequence position `offset + s` are
    /// rotated by `(offset + s) · base^(-2c / dim)` radians.
    pub fn rotary(&self, offset: usize, base: f64) -> Result<Tensor> {
        self.rotate(RotaryPlan::new(self.arg(), offset, base, false)?)
    }

    /// The inverse of [`rotary`](Tensor::rotary) (the same angles, negated): its gradient.
    pub fn rotary_inverse(&self, offset: usize, base: f64) -> Result<Tensor> {
        self.rotate(RotaryPlan::new(self.arg(), offset, base, true)?)
    }

    fn rotate(&self, plan: RotaryPlan) -> Result<Tensor> {
        Ok(Tensor::from_storage(self.storage().rotary(&plan)?, plan.out_shape))
    }
}
