//! Fused batch normalisation with its backward rule, in training and eval mode.

use crate::{Result, Var};
use tessera_tensor::{BatchStats, Tensor};

impl Var {
    /// Batch normalisation over dim 1 of `[N, C]` or `[N, C, *]` (see `Tensor::batch_norm`),
    /// with an optional weight and bias `[C]`. In training mode (`training == true`) the batch's
    /// statistics normalise, and they are returned as [`BatchStats`] (mean and unbiased
    /// variance, in the input's dtype) for the caller's running estimates; `running` is then
    /// only checked. In eval mode `running = (mean, var)` is required and normalises, and no
    /// statistics are returned. Gradients flow to the input, the weight and the bias in both
    /// modes (eval-mode gradients are what saliency maps use); the running statistics are
    /// constants.
    pub fn batch_norm(
        &self,
        weight: Option<&Var>,
        bias: Option<&Var>,
        running: Option<(&Tensor, &Tensor)>,
        training: bool,
        eps: f64,
    ) -> Result<(Var, Option<BatchStats>)> {
        let (wt, bt) = (weight.map(|w| w.tensor()), bias.map(|b| b.tensor()));
        let (y, saved) = self.tensor().batch_norm(wt, bt, running, training, eps)?;
        let stats = if training {
            let c = saved.dims()[1];
            let row = |k: usize| -> Result<Tensor> { Ok(saved.narrow(0, k, 1)?.reshape([c])?.to_dtype(self.dtype())?) };
            Some(BatchStats { mean: row(0)?, var: row(2)? })
        } else {
            None
        };
        let mut inputs = vec![self];
        inputs.extend(weight);
        inputs.extend(bias);
        let (x, w, has_bias) = (self.tensor().clone(), wt.cloned(), bias.is_some());
        let var = Var::record("batch_norm", y, &inputs, move |c| {
            let (dx, dw, db) = Tensor::batch_norm_backward(&x, w.as_ref(), c.grad, &saved, training)?;
            let mut grads = vec![c.needs(0).then_some(dx)];
            if w.is_some() {
                grads.push(c.needs(1).then_some(dw));
            }
            if has_bias {
                grads.push(c.needs(grads.len()).then_some(db));
            }
            Ok(grads)
        });
        Ok((var, stats))
    }
}
