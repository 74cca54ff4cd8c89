//! Fused optimizer updates: the formulas every backend applies in one pass, in place.

/// One fused optimizer update of a parameter tensor, given its gradient and state tensors.
///
/// The formulas are PyTorch's (`torch.optim.SGD`, `Adam`, `AdamW`, `RMSprop`), applied to every
/// element in one pass, in place.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OptimStep {
    /// SGD: `g = grad + weight_decay * p`; with momentum, `buf = momentum * buf +
    /// (1 - dampening) * g` (`buf = g` on the first step), `g = nesterov ? g + momentum * buf : buf`;
    /// `p -= lr * g`. State: `[buf]` when `momentum != 0`.
    Sgd {
        /// Learning rate.
        lr: f64,
        /// Momentum factor (0: plain SGD).
        momentum: f64,
        /// Dampening of the momentum.
        dampening: f64,
        /// L2 penalty added to the gradient.
        weight_decay: f64,
        /// Nesterov momentum.
        nesterov: bool,
        /// Whether this is the first step (the buffer starts as the gradient).
        first_step: bool,
    },
    /// Adam (L2 `weight_decay` added to the gradient) or AdamW (`decoupled`: `p *= 1 - lr *
    /// weight_decay` before the update). State: `[m, v]`.
    Adam {
        /// Learning rate.
        lr: f64,
        /// Decay of the first moment.
        beta1: f64,
        /// Decay of the second moment.
        beta2: f64,
        /// Added to the denominator.
        eps: f64,
        /// Weight decay.
        weight_decay: f64,
        /// AdamW's decoupled weight decay.
        decoupled: bool,
        /// The step number, from 1 (for bias correction).
        step: u64,
    },
    /// RMSprop: `v = alpha * v + (1 - alpha) * g^2`, `p -= lr * g / (sqrt(v) + eps)`, with
    /// optional momentum on the scaled gradient. State: `[v]` or `[v, buf]` with momentum.
    RmsProp {
        /// Learning rate.
        lr: f64,
        /// Smoothing constant.
        alpha: f64,
        /// Added to the denominator.
        eps: f64,
        /// L2 penalty added to the gradient.
        weight_decay: f64,
        /// Momentum factor (0: none).
        momentum: f64,
    },
}

impl OptimStep {
    /// How many state tensors (each the parameter's shape) the update reads and writes.
    pub fn state_count(&self) -> usize {
        match self {
            OptimStep::Sgd { momentum, .. } => (*momentum != 0.0) as usize,
            OptimStep::Adam { .. } => 2,
            OptimStep::RmsProp { momentum, .. } => 1 + (*momentum != 0.0) as usize,
        }
    }

    /// The optimizer's name.
    pub fn name(&self) -> &'static str {
        match self {
            OptimStep::Sgd { .. } => "sgd",
            OptimStep::Adam { decoupled: false, .. } => "adam",
            OptimStep::Adam { decoupled: true, .. } => "adamw",
            OptimStep::RmsProp { .. } => "rmsprop",
        }
    }
}

/// An update's per-step constants, derived once in `f64` from the optimizer's hyperparameters:
/// what both device halves compute with (in the parameter's dtype), in the kernels' argument
/// order.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Update {
    /// `p -= lr * (g + wd * p)`.
    Sgd {
        /// Learning rate.
        lr: f64,
        /// L2 penalty.
        wd: f64,
    },
    /// SGD with a momentum buffer.
    SgdMomentum {
        /// Learning rate.
        lr: f64,
        /// Momentum factor.
        momentum: f64,
        /// `1 - dampening`.
        damp: f64,
        /// L2 penalty.
        wd: f64,
        /// Nesterov momentum.
        nesterov: bool,
        /// The buffer starts as the gradient.
        first_step: bool,
    },
    /// Adam and AdamW with bias correction folded into the step size.
    Adam {
        /// `beta1`.
        b1: f64,
        /// `beta2`.
        b2: f64,
        /// `1 - beta1`.
        one_b1: f64,
        /// `1 - beta2`.
        one_b2: f64,
        /// `lr / (1 - beta1^t)`.
        step_size: f64,
        /// `1 / sqrt(1 - beta2^t)`.
        inv_bc2_sqrt: f64,
        /// Added to the denominator.
        eps: f64,
        /// L2 penalty added to the gradient (Adam).
        l2: f64,
        /// `1 - lr * weight_decay` (AdamW), else 1.
        shrink: f64,
    },
    /// RMSprop, with a momentum buffer when `momentum` is set.
    RmsProp {
        /// Learning rate.
        lr: f64,
        /// `alpha`.
        a: f64,
        /// `1 - alpha`.
        one_a: f64,
        /// Added to the denominator.
        eps: f64,
        /// L2 penalty.
        wd: f64,
        /// The momentum factor, when there is a buffer.
        momentum: Option<f64>,
    },
}

impl OptimStep {
    /// This step's constants.
    pub fn update(&self) -> Update {
        match *self {
            OptimStep::Sgd { lr, momentum: 0.0, weight_decay, .. } => Update::Sgd { lr, wd: weight_decay },
            OptimStep::Sgd { lr, momentum, dampening, weight_decay, nesterov, first_step } => {
                Update::SgdMomentum { lr, momentum, damp: 1.0 - dampening, wd: weight_decay, nesterov, first_step }
            }
            OptimStep::Adam { lr, beta1, beta2, eps, weight_decay, decoupled, step } => {
                let bc1 = 1.0 - beta1.powi(step as i32);
                let bc2_sqrt = (1.0 - beta2.powi(step as i32)).sqrt();
                let (l2, shrink) = if decoupled { (0.0, 1.0 - lr * weight_decay) } else { (weight_decay, 1.0) };
                Update::Adam {
                    b1: beta1,
                    b2: beta2,
                    one_b1: 1.0 - beta1,
                    one_b2: 1.0 - beta2,
                    step_size: lr / bc1,
                    inv_bc2_sqrt: 1.0 / bc2_sqrt,
                    eps,
                    l2,
                    shrink,
                }
            }
            OptimStep::RmsProp { lr, alpha, eps, weight_decay, momentum } => Update::RmsProp {
                lr,
                a: alpha,
                one_a: 1.0 - alpha,
                eps,
                wd: weight_decay,
                momentum: (momentum != 0.0).then_some(momentum),
            },
        }
    }
}
