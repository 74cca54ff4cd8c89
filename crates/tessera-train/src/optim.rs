//! Optimizers: SGD (momentum, Nesterov, weight decay), Adam, AdamW, RMSprop, with gradient
//! clipping; each step is one fused in-place update per parameter tensor.

use crate::{Error, Result};
use tessera_nn::Parameters;
use tessera_tensor::{OptimStep, Tensor};

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

/// An optimizer over a model's parameters.
///
/// ```
/// use tessera_autograd::Var;
/// use tessera_tensor::{Device, Tensor};
/// use tessera_train::optim::{Adam, Optimizer, OptimizerKind};
/// let w = Var::param(Tensor::from_vec(vec![1.0f32, -1.0], [2], &Device::Cpu)?)?;
/// let mut opt = Optimizer::new(vec![("w".into(), w.clone())], OptimizerKind::Adam(Adam { lr: 0.1, ..Adam::default() }))?;
/// w.square()?.sum_all()?.backward()?;
/// opt.step()?;
/// assert_eq!(w.tensor().to_vec::<f32>()?, vec![0.9, -0.9]);
/// # Ok::<(), tessera_train::Error>(())
/// ```
pub struct Optimizer {
    kind: OptimizerKind,
    params: Parameters,
    state: Vec<Vec<Tensor>>,
    steps: u64,
    clip: Option<Clip>,
    /// Per parameter: whether weight decay applies to it.
    decays: Vec<bool>,
}

impl Optimizer {
    /// An optimizer for `params`, with zeroed state.
    pub fn new(params: Parameters, kind: OptimizerKind) -> Result<Optimizer> {
        let decays = vec![true; params.len()];
        let mut opt = Optimizer { kind, params, state: Vec::new(), steps: 0, clip: None, decays };
        if opt.learning_rate().is_nan() || opt.learning_rate() < 0.0 {
            return Err(Error::Config(format!("learning rate {} must be >= 0", opt.learning_rate())));
        }
        let n = opt.fused(1.0, true).state_count();
        opt.state = opt
            .params
            .iter()
            .map(|(_, p)| (0..n).map(|_| p.tensor().zeros_like()).collect())
            .collect::<std::result::Result<_, _>>()?;
        Ok(opt)
    }

    /// Clips gradients before every step.
    pub fn with_clip(mut self, clip: Clip) -> Self {
        self.clip = Some(clip);
        self
    }

    /// Applies weight decay only to the parameters `decays` selects by name and value (PyTorch's
    /// parameter groups as nanoGPT builds them: see [`matrices_and_embeddings`]); the others
    /// are updated without it.
    pub fn with_decay_only(mut self, decays: impl Fn(&str, &Tensor) -> bool) -> Self {
        self.decays = self.params.iter().map(|(n, p)| decays(n, p.tensor())).collect();
        self
    }

    /// The parameters it updates.
    pub fn params(&self) -> &Parameters {
        &self.params
    }

    /// The optimizer and its settings.
    pub fn kind(&self) -> &OptimizerKind {
        &self.kind
    }

    /// Steps taken so far.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// The current learning rate.
    pub fn learning_rate(&self) -> f64 {
        match self.kind {
            OptimizerKind::Sgd(s) => s.lr,
            OptimizerKind::Adam(a) => a.lr,
            OptimizerKind::RmsProp(r) => r.lr,
        }
    }

    /// Changes the learning rate (schedules call this).
    pub fn set_learning_rate(&mut self, lr: f64) {
        match &mut self.kind {
            OptimizerKind::Sgd(s) => s.lr = lr,
            OptimizerKind::Adam(a) => a.lr = lr,
            OptimizerKind::RmsProp(r) => r.lr = lr,
        }
    }

    /// Forgets every parameter's gradient.
    pub fn zero_grad(&self) {
        for (_, p) in &self.params {
            p.zero_grad();
        }
    }

    fn fused(&self, step: f64, decay: bool) -> OptimStep {
        let wd = |w: f64| if decay { w } else { 0.0 };
        match self.kind {
            OptimizerKind::Sgd(s) => OptimStep::Sgd {
                lr: s.lr,
                momentum: s.momentum,
                dampening: s.dampening,
                weight_decay: wd(s.weight_decay),
                nesterov: s.nesterov,
                first_step: step == 1.0,
            },
            OptimizerKind::Adam(a) => OptimStep::Adam {
                lr: a.lr,
                beta1: a.betas.0,
                beta2: a.betas.1,
                eps: a.eps,
                weight_decay: wd(a.weight_decay),
                decoupled: a.decoupled,
                step: step as u64,
            },
            OptimizerKind::RmsProp(r) => OptimStep::RmsProp {
                lr: r.lr,
                alpha: r.alpha,
                eps: r.eps,
                weight_decay: wd(r.weight_decay),
                momentum: r.momentum,
            },
        }
    }

    /// Updates every parameter that has a gradient (clipping first, if configured).
    pub fn step(&mut self) -> Result<()> {
        let grads: Vec<Option<Tensor>> = self.params.iter().map(|(_, p)| p.grad()).collect();
        let scale = match self.clip {
            Some(Clip::GlobalNorm(max)) => {
                let norm = global_norm(grads.iter().flatten())?;
                // PyTorch's clip_grad_norm_: scale by max / (norm + 1e-6) when that is below 1.
                let coef = max / (norm + 1e-6);
                (coef < 1.0).then_some(coef)
            }
            _ => None,
        };
        self.steps += 1;
        let (decayed, plain) = (self.fused(self.steps as f64, true), self.fused(self.steps as f64, false));
        for ((((_, p), g), state), &decays) in self.params.iter().zip(grads).zip(&self.state).zip(&self.decays) {
            let Some(mut g) = g else { continue };
            if let Some(c) = scale {
                g = g.scale(c)?;
            }
            if let Some(Clip::Value(v)) = self.clip {
                g = g.clamp(-v, v)?;
            }
            let refs: Vec<&Tensor> = state.iter().collect();
            p.tensor().optim_step_(if decays { &decayed } else { &plain }, &g, &refs)?;
        }
        Ok(())
    }

    /// The optimizer state as named tensors (`<param>.state<k>`) plus the step count, for
    /// checkpoints.
    pub fn state_dict(&self) -> (Vec<(String, Tensor)>, u64) {
        let tensors = self
            .params
            .iter()
            .zip(&self.state)
            .flat_map(|((n, _), s)| s.iter().enumerate().map(move |(k, t)| (format!("{n}.state{k}"), t.clone())))
            .collect();
        (tensors, self.steps)
    }

    /// Restores state saved by [`Optimizer::state_dict`] (in place).
    pub fn load_state_dict(&mut self, tensors: &[(String, Tensor)], steps: u64) -> Result<()> {
        let by_name: std::collections::HashMap<&str, &Tensor> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
        let expected: usize = self.state.iter().map(Vec::len).sum();
        if tensors.len() != expected {
            return Err(Error::Config(format!(
                "optimizer state holds {} tensors, this optimizer has {expected}",
                tensors.len()
            )));
        }
        for ((n, _), s) in self.params.iter().zip(&self.state) {
            for (k, t) in s.iter().enumerate() {
                let name = format!("{n}.state{k}");
                let src = by_name
                    .get(name.as_str())
                    .ok_or_else(|| Error::Config(format!("optimizer state '{name}' is missing")))?;
                t.assign_(&src.to_dtype(t.dtype())?)?;
            }
        }
        self.steps = steps;
        Ok(())
    }
}

/// nanoGPT's choice of what weight decay applies to: tensors of two or more dims (weight
/// matrices and embeddings), not biases or norm weights. For [`Optimizer::with_decay_only`].
pub fn matrices_and_embeddings(_name: &str, param: &Tensor) -> bool {
    param.rank() >= 2
}

/// The L2 norm of all the given gradients together.
pub fn global_norm<'a>(grads: impl Iterator<Item = &'a Tensor>) -> Result<f64> {
    let mut sum = 0.0;
    for g in grads {
        sum += g.square()?.sum_all()?.to_scalar_f64()?;
    }
    Ok(sum.sqrt())
}
