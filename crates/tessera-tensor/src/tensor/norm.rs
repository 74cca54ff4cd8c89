//! Fused normalisations over the last dim (LayerNorm, RMSNorm) and rotary position embeddings.

use super::Tensor;
use crate::{Result, Storage};
use tessera_kernels::plan::{NormBackwardPlan, NormKind, NormPlan, RotaryPlan};

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

    /// The gradient of `x` of a normalisation of `kind` given its `weight`, the output's gradient
    /// `dy` and the forward's statistics, in one fused pass per row. (The weight's gradient is
    /// `Σ dy · x̂` and the bias's `Σ dy` over the rows.)
    pub fn norm_backward(
        kind: NormKind,
        x: &Tensor,
        weight: Option<&Tensor>,
        dy: &Tensor,
        stats: &Tensor,
    ) -> Result<Tensor> {
        let forward = NormPlan::new(kind, x.arg(), weight.map(|w| w.arg()), None, 0.0)?;
        let plan = NormBackwardPlan::new(forward, dy.arg(), stats.arg())?;
        let w = weight.map(|w| w.storage());
        let dx = Storage::norm_backward(&plan, &x.storage(), w.as_deref(), &dy.storage(), &stats.storage())?;
        Ok(Tensor::from_storage(dx, x.shape().clone()))
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
