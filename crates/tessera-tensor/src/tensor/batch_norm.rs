//! Fused batch normalisation over the channels (dim 1) of `[N, C]` or `[N, C, *]` inputs, in
//! training mode (the batch's statistics) or eval mode (running statistics), and its backward.

use super::Tensor;
use crate::{Result, Storage};
use tessera_kernels::plan::{BatchNormBackwardPlan, BatchNormPlan};

/// The statistics of a training-mode batch normalisation, per channel, for updating running
/// estimates as PyTorch does (`running = (1 - momentum) · running + momentum · batch`): the mean
/// and the unbiased variance (divided by `count - 1`), both `[C]`.
#[derive(Debug, Clone)]
pub struct BatchStats {
    /// Each channel's mean.
    pub mean: Tensor,
    /// Each channel's unbiased variance.
    pub var: Tensor,
}

impl Tensor {
    /// Batch normalisation over dim 1, fused: `(x - mean) / sqrt(var + eps) * weight + bias`
    /// per channel (`weight`, `bias` `[C]`, each optional). In training mode the mean and
    /// (population) variance are the batch's, over dim 0 and every dim after 1, which needs
    /// more than one value per channel; in eval mode they are `running = (mean, var)`, which
    /// must then be given (in training mode they are only checked).
    ///
    /// Returns the output and the saved statistics `[3, C]` (f32, or f64 for f64 inputs): each
    /// channel's mean, `1 / sqrt(var + eps)`, and the variance a running estimate takes (the
    /// batch's unbiased variance in training, the running variance in eval), which
    /// [`batch_norm_backward`](Tensor::batch_norm_backward) takes.
    ///
    /// ```
    /// use tessera_tensor::{Device, Tensor};
    /// let x = Tensor::from_vec(vec![1f64, 10., 3., 30.], [2, 2], &Device::Cpu)?;
    /// let (y, saved) = x.batch_norm(None, None, None, true, 0.0)?;
    /// assert_eq!(y.to_vec::<f64>()?, [-1., -1., 1., 1.]);
    /// assert_eq!(saved.to_vec::<f64>()?, [2., 20., 1., 0.1, 2., 200.]);
    /// # Ok::<(), tessera_tensor::Error>(())
    /// ```
    pub fn batch_norm(
        &self,
        weight: Option<&Tensor>,
        bias: Option<&Tensor>,
        running: Option<(&Tensor, &Tensor)>,
        training: bool,
        eps: f64,
    ) -> Result<(Tensor, Tensor)> {
        let (wa, ba) = (weight.map(|w| w.arg()), bias.map(|b| b.arg()));
        let plan = BatchNormPlan::new(self.arg(), wa, ba, running.map(|(m, v)| (m.arg(), v.arg())), training, eps)?;
        let (w, b) = (weight.map(|w| w.storage()), bias.map(|b| b.storage()));
        let (m, v) = (running.map(|r| r.0.storage()), running.map(|r| r.1.storage()));
        let r = m.as_deref().zip(v.as_deref());
        let [y, saved] = Storage::batch_norm(&plan, &self.storage(), w.as_deref(), b.as_deref(), r)?;
        Ok((Tensor::from_storage(y, plan.out_shape.clone()), Tensor::from_storage(saved, [3, plan.channels])))
    }

    /// The gradients of [`batch_norm`](Tensor::batch_norm) of `x` with `weight` in `training`
    /// mode or not, from the output's gradient `dy` and the saved statistics, in one fused pass
    /// per channel: `(dx, dweight, dbias)`, `dweight = Σ dy · x̂` and `dbias = Σ dy` per channel
    /// (`[C]`, in `x`'s dtype, given whether or not there is a weight). In eval mode `dx` is
    /// `dy · weight / sqrt(running_var + eps)`.
    pub fn batch_norm_backward(
        x: &Tensor,
        weight: Option<&Tensor>,
        dy: &Tensor,
        saved: &Tensor,
        training: bool,
    ) -> Result<(Tensor, Tensor, Tensor)> {
        let plan = BatchNormBackwardPlan::new(x.arg(), weight.map(|w| w.arg()), dy.arg(), saved.arg(), training)?;
        let w = weight.map(|w| w.storage());
        let [dx, dw, db] =
            Storage::batch_norm_backward(&plan, &x.storage(), w.as_deref(), &dy.storage(), &saved.storage())?;
        let c = plan.forward.channels;
        Ok((Tensor::from_storage(dx, x.shape().clone()), Tensor::from_storage(dw, [c]), Tensor::from_storage(db, [c])))
    }
}
