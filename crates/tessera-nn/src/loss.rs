//! Losses. Each takes predictions and targets as [`Var`]s and returns a scalar `Var` (or one
//! value per example with [`Reduction::None`]).

use crate::{Error, Result};
use tessera_autograd::{BackwardCtx, InputGrads, Var};
use tessera_tensor::{DType, Tensor};

/// How per-example losses are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Reduction {
    /// The mean over examples (over non-ignored ones for cross-entropy).
    #[default]
    Mean,
    /// The sum.
    Sum,
    /// One loss per example.
    None,
}

fn reduce(per_example: Var, reduction: Reduction) -> Result<Var> {
    Ok(match reduction {
        Reduction::Mean => per_example.mean(&[], false)?,
        Reduction::Sum => per_example.sum(&[], false)?,
        Reduction::None => per_example,
    })
}

fn check_same_shape(loss: &str, pred: &Var, target: &Var) -> Result<()> {
    if pred.shape() != target.shape() {
        return Err(Error::BadInput {
            layer: loss.into(),
            expected: format!("targets of shape {}", pred.shape()),
            got: target.shape().clone(),
        });
    }
    Ok(())
}

/// Mean squared error `(pred - target)^2`.
pub fn mse(pred: &Var, target: &Var, reduction: Reduction) -> Result<Var> {
    check_same_shape("mse", pred, target)?;
    reduce(pred.sub(target)?.square()?, reduction)
}

/// Binary cross-entropy on logits, `max(x, 0) - x * y + log(1 + exp(-|x|))`: stable for any `x`.
pub fn binary_cross_entropy_with_logits(logits: &Var, target: &Var, reduction: Reduction) -> Result<Var> {
    check_same_shape("binary_cross_entropy_with_logits", logits, target)?;
    let softplus_neg_abs = logits.abs()?.neg()?.exp()?.add_scalar(1.0)?.log()?;
    reduce(logits.relu()?.sub(&logits.mul(target)?)?.add(&softplus_neg_abs)?, reduction)
}

/// Options of [`cross_entropy`] and [`nll`], PyTorch's.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CrossEntropy {
    /// Targets equal to this contribute nothing (and do not count in the mean).
    pub ignore_index: Option<i64>,
    /// Mixes the one-hot target with the uniform distribution: `(1 - s) * onehot + s / classes`.
    pub label_smoothing: f64,
    /// How per-example losses are combined.
    pub reduction: Reduction,
}

impl Default for CrossEntropy {
    fn default() -> Self {
        CrossEntropy { ignore_index: None, label_smoothing: 0.0, reduction: Reduction::Mean }
    }
}

/// Class indices of `targets` checked against `classes`: the gather index (ignored rows point at
/// class 0) and the mask of rows that count.
fn class_indices(loss: &str, scores: &Var, targets: &Var, cfg: &CrossEntropy) -> Result<(Tensor, Tensor, usize)> {
    let (n, classes) = match scores.dims() {
        [n, c] => (*n, *c),
        _ => {
            return Err(Error::BadInput {
                layer: loss.into(),
                expected: "scores [batch, classes]".into(),
                got: scores.shape().clone(),
            })
        }
    };
    let t = targets.tensor();
    if t.dims() != [n] || !matches!(t.dtype(), DType::U32 | DType::I64) {
        return Err(Error::BadInput {
            layer: loss.into(),
            expected: format!("class indices [{n}] of dtype u32 or i64 (got dtype {})", t.dtype()),
            got: t.shape().clone(),
        });
    }
    let values = t.to_vec_f64()?;
    let mut index = Vec::with_capacity(n);
    let mut valid = Vec::with_capacity(n);
    for (i, &v) in values.iter().enumerate() {
        let v = v as i64;
        if Some(v) == cfg.ignore_index {
            index.push(0i64);
            valid.push(0.0);
        } else if v < 0 || v as usize >= classes {
            return Err(Error::Config(format!(
                "{loss}: target {v} at position {i} is out of range for {classes} classes"
            )));
        } else {
            index.push(v);
            valid.push(1.0);
        }
    }
    let dev = scores.tensor().device();
    let dtype = scores.tensor().dtype();
    let count = valid.iter().filter(|&&v| v > 0.0).count();
    let index = Tensor::from_vec(index, [n, 1], &tessera_tensor::Device::Cpu)?.to_device(dev)?;
    let valid = Tensor::from_vec(valid, [n], &tessera_tensor::Device::Cpu)?.to_device(dev)?.to_dtype(dtype)?;
    Ok((index, valid, count))
}

/// Cross-entropy from logits `[batch, classes]` and class indices `[batch]`, with label
/// smoothing and ignore_index as in PyTorch. Fused: the forward needs only each row's
/// log-sum-exp and target logit, and the backward writes `softmax - target distribution` in one
/// pass ([`Tensor::cross_entropy_backward`]), so no `[batch, classes]` intermediate is kept. A
/// mean or sum that will be differentiated (recorded, as in a training step) has its gradient
/// computed with the log-sum-exp in the forward pass ([`Tensor::cross_entropy_with_grad`]): one
/// read of the logits instead of two; the backward then hands it on, multiplied by the upstream
/// gradient unless that is 1.
pub fn cross_entropy(logits: &Var, targets: &Var, cfg: &CrossEntropy) -> Result<Var> {
    if !(0.0..=1.0).contains(&cfg.label_smoothing) {
        return Err(Error::Config(format!("cross_entropy: label smoothing {} must be in [0, 1]", cfg.label_smoothing)));
    }
    let (index, valid, count) = class_indices("cross_entropy", logits, targets, cfg)?;
    let s = cfg.label_smoothing;
    let x = logits.tensor().clone();
    let target = index.squeeze(1)?;
    let scale = match cfg.reduction {
        Reduction::Mean => 1.0 / count.max(1) as f64,
        Reduction::Sum | Reduction::None => 1.0,
    };
    let eager = cfg.reduction != Reduction::None && logits.requires_grad() && tessera_autograd::is_grad_enabled();
    let (lse, grad_at_one) = if eager {
        let (lse, grad) = x.cross_entropy_with_grad(&target, &valid.scale(scale)?, s)?;
        (lse, Some(grad))
    } else {
        (x.logsumexp(1, false)?, None)
    };
    let picked = x.gather(1, &index)?.squeeze(1)?;
    let mut per = lse.sub(&picked)?.scale(1.0 - s)?;
    if s > 0.0 {
        // -(s / classes) * sum_j log p_j = s * (lse - mean_j x_j)
        per = per.add(&lse.sub(&x.mean(&[1], false)?)?.scale(s)?)?;
    }
    let per = per.mul(&valid)?;
    let out = match cfg.reduction {
        Reduction::Mean | Reduction::Sum => per.sum_all()?.scale(scale)?,
        Reduction::None => per,
    };
    let reduction = cfg.reduction;
    let saved = match grad_at_one {
        Some(grad) => CrossEntropySaved::Grad(grad),
        None => CrossEntropySaved::Inputs { logits: x, lse, target },
    };
    let rule = move |ctx: &BackwardCtx<'_>| -> tessera_autograd::Result<InputGrads> {
        let grad = match &saved {
            // The upstream gradient of a mean or sum is a scalar: 1 from a plain backward, a
            // loss scale's factor under mixed precision.
            CrossEntropySaved::Grad(g) if ctx.grad.to_scalar_f64()? == 1.0 => g.clone(),
            CrossEntropySaved::Grad(g) => g.mul(ctx.grad)?,
            CrossEntropySaved::Inputs { logits, lse, target } => {
                let row_scale = match reduction {
                    Reduction::None => ctx.grad.mul(&valid)?,
                    _ => valid.mul(&ctx.grad.expand(valid.shape().clone())?)?.scale(scale)?,
                };
                logits.cross_entropy_backward(lse, target, &row_scale, s)?
            }
        };
        Ok(vec![Some(grad), None])
    };
    Ok(Var::from_op("cross_entropy", out, &[logits, targets], Some(Box::new(rule))))
}

/// What [`cross_entropy`]'s backward reads: the gradient at an upstream gradient of 1, computed
/// in the forward pass, or what it is computed from (which keeps the logits alive until then).
enum CrossEntropySaved {
    Grad(Tensor),
    Inputs { logits: Tensor, lse: Tensor, target: Tensor },
}

/// Negative log-likelihood of log-probabilities `[batch, classes]` at class indices `[batch]`.
pub fn nll(log_probs: &Var, targets: &Var, cfg: &CrossEntropy) -> Result<Var> {
    let (index, valid, count) = class_indices("nll", log_probs, targets, cfg)?;
    let per = log_probs.gather(1, &index)?.squeeze(1)?.neg()?.mul(&Var::constant(valid))?;
    Ok(match cfg.reduction {
        Reduction::Mean => per.sum(&[], false)?.scale(1.0 / count.max(1) as f64)?,
        Reduction::Sum => per.sum(&[], false)?,
        Reduction::None => per,
    })
}

/// Keras' `sparse_categorical_crossentropy` with `from_logits=False`: probabilities
/// `[batch, classes]` (a softmax output) are clipped to `[1e-7, 1 - 1e-7]`, renormalised, and
/// scored by negative log-likelihood at class indices `[batch]`; mean over the batch.
pub fn sparse_categorical_crossentropy(probs: &Var, targets: &Var) -> Result<Var> {
    const EPS: f64 = 1e-7;
    let log_probs = probs.clamp(EPS, 1.0 - EPS)?.log()?.log_softmax(-1)?;
    nll(&log_probs, targets, &CrossEntropy::default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_tensor::Device;

    /// The gradient a recorded mean or sum computes in its forward pass (rows wider than the
    /// narrow kernels' 64 classes, an ignored row, label smoothing) equals the one the backward
    /// computes from the log-sum-exp, which `Reduction::None` followed by the sum (over the rows
    /// not ignored, for the mean) takes; under an upstream gradient of 1 and of 2.5 (a loss
    /// scale's), and the loss equals the unrecorded one.
    #[test]
    fn a_gradient_computed_in_the_forward_pass_equals_the_backwards() {
        let (rows, classes) = (5, 100);
        let x: Vec<f64> = (0..rows * classes).map(|i| (i as f64 * 0.37).sin() * 3.0).collect();
        let x = Tensor::from_vec(x, [rows, classes], &Device::Cpu).unwrap();
        let targets = Var::constant(Tensor::from_vec(vec![3i64, 99, 0, 42, 7], [rows], &Device::Cpu).unwrap());
        for reduction in [Reduction::Mean, Reduction::Sum] {
            let cfg = CrossEntropy { ignore_index: Some(42), label_smoothing: 0.1, reduction };
            let per_row = CrossEntropy { reduction: Reduction::None, ..cfg };
            for upstream in [1.0, 2.5] {
                let grad = |loss: &dyn Fn(&Var) -> Var| {
                    let logits = Var::param(x.clone()).unwrap();
                    loss(&logits).scale(upstream).unwrap().backward().unwrap();
                    logits.grad().unwrap().to_vec::<f64>().unwrap()
                };
                let eager = grad(&|l| cross_entropy(l, &targets, &cfg).unwrap());
                // Four rows are not ignored.
                let kept = if reduction == Reduction::Mean { 0.25 } else { 1.0 };
                let from_rows = grad(&|l| {
                    cross_entropy(l, &targets, &per_row).unwrap().sum(&[], false).unwrap().scale(kept).unwrap()
                });
                for (i, (a, b)) in eager.iter().zip(&from_rows).enumerate() {
                    assert!((a - b).abs() < 1e-14, "{reduction:?}, upstream {upstream}: [{i}] {a} against {b}");
                }
            }
            let recorded = cross_entropy(&Var::param(x.clone()).unwrap(), &targets, &cfg).unwrap();
            let unrecorded = cross_entropy(&Var::constant(x.clone()), &targets, &cfg).unwrap();
            assert_eq!(recorded.to_scalar_f64().unwrap(), unrecorded.to_scalar_f64().unwrap());
        }
    }
}
