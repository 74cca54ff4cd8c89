//! The optimizers' settings (PyTorch's names and defaults) and gradient clipping.

use crate::{Error, Result};

/// SGD's settings (PyTorch's defaults except the learning rate, which has none there).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sgd {
    /// Learning rate.
    pub lr: f64,
    /// Momentum factor.
    pub momentum: f64,
    /// Dampening of momentum.
    pub dampening: f64,
    /// Nesterov momentum.
    pub nesterov: bool,
    /// L2 penalty.
    pub weight_decay: f64,
}

impl Default for Sgd {
    fn default() -> Self {
        Sgd { lr: 0.01, momentum: 0.0, dampening: 0.0, nesterov: false, weight_decay: 0.0 }
    }
}

/// Adam's settings (PyTorch's defaults). With `decoupled` it is AdamW.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Adam {
    /// Learning rate.
    pub lr: f64,
    /// Decay rates of the first and second moments.
    pub betas: (f64, f64),
    /// Added to the denominator.
    pub eps: f64,
    /// Weight decay: an L2 term in the gradient (Adam) or a decoupled shrink (AdamW).
    pub weight_decay: f64,
    /// AdamW: decoupled weight decay.
    pub decoupled: bool,
}

impl Default for Adam {
    fn default() -> Self {
        Adam { lr: 1e-3, betas: (0.9, 0.999), eps: 1e-8, weight_decay: 0.0, decoupled: false }
    }
}

impl Adam {
    /// AdamW with PyTorch's defaults (weight decay 0.01).
    pub fn adamw() -> Self {
        Adam { weight_decay: 0.01, decoupled: true, ..Adam::default() }
    }
}

/// RMSprop's settings (PyTorch's defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RmsProp {
    /// Learning rate.
    pub lr: f64,
    /// Smoothing constant.
    pub alpha: f64,
    /// Added to the denominator.
    pub eps: f64,
    /// L2 penalty.
    pub weight_decay: f64,
    /// Momentum factor.
    pub momentum: f64,
}

impl Default for RmsProp {
    fn default() -> Self {
        RmsProp { lr: 0.01, alpha: 0.99, eps: 1e-8, weight_decay: 0.0, momentum: 0.0 }
    }
}

/// Which optimizer, with its settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OptimizerKind {
    /// Stochastic gradient descent.
    Sgd(Sgd),
    /// Adam or AdamW.
    Adam(Adam),
    /// RMSprop.
    RmsProp(RmsProp),
}

/// Gradient clipping applied before each step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Clip {
    /// Scales all gradients so that their global L2 norm is at most this.
    GlobalNorm(f64),
    /// Clamps every gradient element to `[-v, v]`.
    Value(f64),
}

/// `Err` naming `optimizer`, the setting and its value unless `value >= 0` (NaN is refused).
fn at_least_zero(optimizer: &str, settings: &[(&str, f64)]) -> Result<()> {
    match settings.iter().find(|(_, v)| v.is_nan() || *v < 0.0) {
        Some((what, v)) => Err(Error::Config(format!("{optimizer}: {what} {v} must be >= 0"))),
        None => Ok(()),
    }
}

impl OptimizerKind {
    /// Checks the settings as PyTorch's constructors do: rates, epsilons, momenta and decays at
    /// least 0, Adam's betas in `[0, 1)` (a beta of 1 divides by zero in the bias correction),
    /// and Nesterov momentum only with a momentum and without dampening.
    pub(crate) fn check(&self) -> Result<()> {
        match *self {
            OptimizerKind::Sgd(s) => {
                at_least_zero(
                    "SGD",
                    &[("learning rate", s.lr), ("momentum", s.momentum), ("weight decay", s.weight_decay)],
                )?;
                if s.nesterov && (s.momentum <= 0.0 || s.dampening != 0.0) {
                    return Err(Error::Config(format!(
                        "SGD: Nesterov momentum needs a momentum above 0 and no dampening (momentum {}, dampening {})",
                        s.momentum, s.dampening
                    )));
                }
            }
            OptimizerKind::Adam(a) => {
                let name = if a.decoupled { "AdamW" } else { "Adam" };
                at_least_zero(name, &[("learning rate", a.lr), ("eps", a.eps), ("weight decay", a.weight_decay)])?;
                for (i, beta) in [a.betas.0, a.betas.1].into_iter().enumerate() {
                    if !(0.0..1.0).contains(&beta) {
                        return Err(Error::Config(format!("{name}: beta{} {beta} must be in [0, 1)", i + 1)));
                    }
                }
            }
            OptimizerKind::RmsProp(r) => at_least_zero(
                "RMSprop",
                &[
                    ("learning rate", r.lr),
                    ("alpha", r.alpha),
                    ("eps", r.eps),
                    ("weight decay", r.weight_decay),
                    ("momentum", r.momentum),
                ],
            )?,
        }
        Ok(())
    }
}

impl Clip {
    /// Checks the bound: at least 0 (a negative norm bound turned every gradient around, and
    /// NaN switched clipping off); infinity means no clipping.
    pub(crate) fn check(&self) -> Result<()> {
        match *self {
            Clip::GlobalNorm(max) => at_least_zero("gradient clipping", &[("global norm bound", max)]),
            Clip::Value(v) => at_least_zero("gradient clipping", &[("value bound", v)]),
        }
    }
}
