//! What an [`Optimizer`](super::Optimizer) can do per parameter beyond its settings: L1 and L2
//! penalties ([`Penalty`]) and parameter groups with their own learning rate and weight decay
//! ([`GroupOptions`]).

use crate::{Error, Result};
use tessera_tensor::Tensor;

/// L1 and L2 penalties on parameters, with Keras' convention (`regularizers.L1L2(l1, l2)`):
/// the loss gains `l1 · Σ|w| + l2 · Σw²`, so the gradient gains `l1 · sign(w) + 2 · l2 · w`
/// (`sign(0) = 0`).
///
/// This is not PyTorch's `weight_decay`, which adds `weight_decay · w` to the gradient (the
/// gradient of `weight_decay / 2 · Σw²`): `l2 = λ` here shrinks twice as fast as
/// `weight_decay = λ`. Nor is it AdamW's decoupled decay: the penalty's gradient goes through
/// Adam's moments like the loss's. PyTorch has no L1 option; adding `l1 · Σ|w|` to the loss by
/// hand gives the same gradient as this.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Penalty {
    /// Weight of `Σ|w|`.
    pub l1: f64,
    /// Weight of `Σw²`.
    pub l2: f64,
}

impl Penalty {
    /// Whether it adds nothing.
    pub fn is_zero(&self) -> bool {
        self.l1 == 0.0 && self.l2 == 0.0
    }

    /// Refuses weights that are negative or not finite, naming them.
    pub(crate) fn check(&self) -> Result<()> {
        for (name, v) in [("l1", self.l1), ("l2", self.l2)] {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::Config(format!("{name} penalty {v} must be a finite number >= 0")));
            }
        }
        Ok(())
    }

    /// The penalty's value on `w`: `l1 · Σ|w| + l2 · Σw²`.
    pub fn value(&self, w: &Tensor) -> Result<f64> {
        let mut v = 0.0;
        if self.l1 != 0.0 {
            v += self.l1 * w.abs()?.sum_all()?.to_scalar_f64()?;
        }
        if self.l2 != 0.0 {
            v += self.l2 * w.sum_squares()?.to_scalar_f64()?;
        }
        Ok(v)
    }

    /// `grad + l1 · sign(w) + 2 · l2 · w` (in `grad`'s dtype).
    pub fn add_gradient(&self, w: &Tensor, grad: &Tensor) -> Result<Tensor> {
        let w = w.to_dtype(grad.dtype())?;
        let mut g = grad.clone();
        if self.l1 != 0.0 {
            g = g.add(&sign(&w)?.scale(self.l1)?)?;
        }
        if self.l2 != 0.0 {
            g = g.add(&w.scale(2.0 * self.l2)?)?;
        }
        Ok(g)
    }
}

/// `-1`, `0` or `1` per element, as `torch.sign` (0 for 0, and for NaN).
fn sign(w: &Tensor) -> Result<Tensor> {
    let (dtype, device) = (w.dtype(), w.device());
    let zero = Tensor::scalar(0.0, dtype, device)?;
    let (one, minus_one) = (Tensor::scalar(1.0, dtype, device)?, Tensor::scalar(-1.0, dtype, device)?);
    let negative = w.lt(&zero)?.where_cond(&minus_one, &zero)?;
    Ok(w.gt(&zero)?.where_cond(&one, &negative)?)
}

/// A parameter group's options (PyTorch's `param_groups`): what differs from the optimizer's
/// own settings for the parameters the group selects. `None` keeps the optimizer's.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct GroupOptions {
    /// Multiplies the optimizer's learning rate for this group (0 freezes it). A schedule
    /// changes the optimizer's rate, so every group's rate follows in proportion, as PyTorch's
    /// schedulers scale each group's rate by the same factor.
    pub lr_scale: Option<f64>,
    /// The weight decay of this group, in place of the optimizer's (and of
    /// [`Optimizer::with_decay_only`](super::Optimizer::with_decay_only)'s choice).
    pub weight_decay: Option<f64>,
}

impl GroupOptions {
    /// Refuses values that are negative or not finite, naming them.
    pub(crate) fn check(&self) -> Result<()> {
        for (name, v) in [("learning-rate scale", self.lr_scale), ("weight decay", self.weight_decay)] {
            if let Some(v) = v.filter(|v| !(v.is_finite() && *v >= 0.0)) {
                return Err(Error::Config(format!("parameter group {name} {v} must be a finite number >= 0")));
            }
        }
        Ok(())
    }
}

/// What applies to one parameter: its learning-rate scale, its weight decay (`None`: the
/// optimizer's), whether the optimizer's decay applies, its penalty, and its group.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct ParamOptions {
    pub lr_scale: f64,
    pub weight_decay: Option<f64>,
    pub decays: bool,
    pub penalty: Penalty,
    pub group: Option<usize>,
}

impl Default for ParamOptions {
    fn default() -> Self {
        ParamOptions { lr_scale: 1.0, weight_decay: None, decays: true, penalty: Penalty::default(), group: None }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_tensor::Device;

    #[test]
    fn penalty_value_and_gradient_follow_keras() {
        let w = Tensor::from_vec(vec![1.0f32, -2.0, 0.0], [3], &Device::Cpu).unwrap();
        let p = Penalty { l1: 0.01, l2: 0.1 };
        assert!((p.value(&w).unwrap() - (0.01 * 3.0 + 0.1 * 5.0)).abs() < 1e-6);
        let g = p.add_gradient(&w, &w.ones_like().unwrap()).unwrap().to_vec::<f32>().unwrap();
        assert_eq!(g, vec![1.0 + 0.01 + 0.2, 1.0 - 0.01 - 0.4, 1.0]);
        assert!(Penalty { l1: -1.0, l2: 0.0 }.check().unwrap_err().to_string().contains("l1 penalty -1"));
        assert!(Penalty { l1: 0.0, l2: f64::NAN }.check().is_err());
        let bad = GroupOptions { lr_scale: Some(-0.5), weight_decay: None };
        assert!(bad.check().unwrap_err().to_string().contains("learning-rate scale -0.5"));
    }
}
