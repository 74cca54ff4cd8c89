//! Optimizers: SGD (momentum, Nesterov, weight decay), Adam, AdamW, RMSprop, with gradient
//! clipping, L1/L2 penalties on chosen parameters and parameter groups with their own learning
//! rate and weight decay, and dynamic loss scaling for f16; each step is one fused in-place update
//! per parameter tensor.

mod loss_scale;
mod regularize;
mod settings;
mod state;

pub use loss_scale::{LossScaler, LossScaling};
pub use regularize::{GroupOptions, Penalty};
pub use settings::{Adam, Clip, OptimizerKind, RmsProp, Sgd};

use crate::{Error, Result};
use regularize::ParamOptions;
use state::{fresh_state, updated};
use tessera_nn::Parameters;
use tessera_tensor::{DType, OptimStep, Tensor};

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
///
/// Per parameter, [`Optimizer::with_group`] changes the learning rate and weight decay
/// (PyTorch's parameter groups) and [`Optimizer::with_penalty`] adds L1 and L2 penalties:
///
/// ```
/// # use tessera_autograd::Var;
/// # use tessera_tensor::{Device, Tensor};
/// use tessera_train::optim::{matrices_and_embeddings, GroupOptions, Penalty, Optimizer, OptimizerKind, Sgd};
/// let w = Var::param(Tensor::from_vec(vec![1.0f32, -1.0], [1, 2], &Device::Cpu)?)?;
/// let b = Var::param(Tensor::from_vec(vec![0.5f32], [1], &Device::Cpu)?)?;
/// let params = vec![("w".into(), w.clone()), ("b".into(), b.clone())];
/// let mut opt = Optimizer::new(params, OptimizerKind::Sgd(Sgd { lr: 0.1, ..Sgd::default() }))?
///     .with_penalty(Penalty { l1: 0.0, l2: 0.5 }, matrices_and_embeddings)? // on `w` only
///     .with_group(|name, _| name == "b", GroupOptions { lr_scale: Some(0.0), ..GroupOptions::default() })?;
/// assert_eq!(opt.penalty_value()?, 0.5 * 2.0);
/// w.sum_all()?.add(&b.sum_all()?)?.backward()?;
/// opt.step()?;
/// assert_eq!(w.tensor().to_vec::<f32>()?, vec![1.0 - 0.1 * (1.0 + 1.0), -1.0 - 0.1 * (1.0 - 1.0)]);
/// assert_eq!(b.tensor().to_vec::<f32>()?, vec![0.5]); // its group's rate is 0
/// # Ok::<(), tessera_train::Error>(())
/// ```
pub struct Optimizer {
    kind: OptimizerKind,
    params: Parameters,
    state: Vec<Vec<Tensor>>,
    steps: u64,
    clip: Option<Clip>,
    /// Per parameter: its group's learning rate and decay, whether decay applies, its penalty.
    options: Vec<ParamOptions>,
    groups: usize,
    scaler: Option<LossScaler>,
}

impl Optimizer {
    /// An optimizer for `params`, with zeroed state. An f16 or bf16 parameter gets an f32
    /// master copy and f32 state (the last of its state tensors is the master): steps update
    /// the master and round it into the parameter, so that updates smaller than the parameter's
    /// precision add up instead of vanishing. The master is taken when the optimizer is built
    /// and travels with its state (checkpoints, [`Optimizer::load_state_dict`]): load weights
    /// before building it, or load its state with them. Settings PyTorch's constructors refuse
    /// are errors naming the setting and its value: a negative or NaN rate, epsilon, momentum or
    /// decay, an Adam beta outside `[0, 1)`, Nesterov momentum without a momentum or with
    /// dampening.
    pub fn new(params: Parameters, kind: OptimizerKind) -> Result<Optimizer> {
        let options = vec![ParamOptions::default(); params.len()];
        let mut opt =
            Optimizer { kind, params, state: Vec::new(), steps: 0, clip: None, options, groups: 0, scaler: None };
        opt.kind.check()?;
        let n = opt.fused(1.0, &ParamOptions::default()).state_count();
        opt.state = opt.params.iter().map(|(_, p)| fresh_state(p.tensor(), n)).collect::<Result<_>>()?;
        Ok(opt)
    }

    /// Clips gradients before every step; a negative or NaN bound is refused.
    pub fn with_clip(mut self, clip: Clip) -> Result<Self> {
        clip.check()?;
        self.clip = Some(clip);
        Ok(self)
    }

    /// Applies weight decay only to the parameters `decays` selects by name and value (PyTorch's
    /// parameter groups as nanoGPT builds them: see [`matrices_and_embeddings`]); the others
    /// are updated without it. A [`GroupOptions::weight_decay`] overrides this choice.
    pub fn with_decay_only(mut self, decays: impl Fn(&str, &Tensor) -> bool) -> Self {
        for ((n, p), o) in self.params.iter().zip(&mut self.options) {
            o.decays = decays(n, p.tensor());
        }
        self
    }

    /// Adds `penalty` (L1 and L2, Keras' convention: see [`Penalty`]) to the loss of the
    /// parameters `selects` chooses by name and value, e.g. [`matrices_and_embeddings`] for
    /// the weights but not the biases. Its gradient is added to theirs before clipping and the
    /// update; [`Optimizer::penalty_value`] gives its value, which the loss does not include.
    /// A later call replaces the penalty of the parameters it selects. Negative or non-finite
    /// weights are refused.
    pub fn with_penalty(mut self, penalty: Penalty, selects: impl Fn(&str, &Tensor) -> bool) -> Result<Self> {
        penalty.check()?;
        for ((n, p), o) in self.params.iter().zip(&mut self.options) {
            if selects(n, p.tensor()) {
                o.penalty = penalty;
            }
        }
        Ok(self)
    }

    /// Puts the parameters `selects` chooses by name and value into a new group with its own
    /// learning-rate scale and weight decay (PyTorch's `param_groups`; see [`GroupOptions`]).
    /// Groups may not overlap, and a group must select something: either is an error naming
    /// the parameter or the group (numbered from 0 in the order they are added).
    pub fn with_group(mut self, selects: impl Fn(&str, &Tensor) -> bool, options: GroupOptions) -> Result<Self> {
        options.check()?;
        let group = self.groups;
        let mut chosen = 0;
        for ((n, p), o) in self.params.iter().zip(&mut self.options) {
            if !selects(n, p.tensor()) {
                continue;
            }
            if let Some(other) = o.group {
                return Err(Error::Config(format!("parameter '{n}' is in group {other} already, not also in {group}")));
            }
            o.group = Some(group);
            o.lr_scale = options.lr_scale.unwrap_or(1.0);
            o.weight_decay = options.weight_decay;
            chosen += 1;
        }
        if chosen == 0 {
            return Err(Error::Config(format!("parameter group {group} selects no parameter")));
        }
        self.groups += 1;
        Ok(self)
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

    /// The current learning rate (of parameters outside any group; a group's is this times its
    /// scale).
    pub fn learning_rate(&self) -> f64 {
        match self.kind {
            OptimizerKind::Sgd(s) => s.lr,
            OptimizerKind::Adam(a) => a.lr,
            OptimizerKind::RmsProp(r) => r.lr,
        }
    }

    /// Changes the learning rate (schedules call this); every group's follows in proportion.
    pub fn set_learning_rate(&mut self, lr: f64) {
        match &mut self.kind {
            OptimizerKind::Sgd(s) => s.lr = lr,
            OptimizerKind::Adam(a) => a.lr = lr,
            OptimizerKind::RmsProp(r) => r.lr = lr,
        }
    }

    /// The learning rate and weight decay that apply to parameter `name` now (`None` when it
    /// has no such parameter).
    pub fn param_settings(&self, name: &str) -> Option<(f64, f64)> {
        let i = self.params.iter().position(|(n, _)| n == name)?;
        let o = &self.options[i];
        Some((self.learning_rate() * o.lr_scale, self.weight_decay_of(o)))
    }

    /// The penalties' value on the current parameters (`Σ l1 · Σ|w| + l2 · Σw²` over the
    /// penalised parameters; 0 without penalties), to report beside the loss.
    pub fn penalty_value(&self) -> Result<f64> {
        let mut total = 0.0;
        for ((_, p), o) in self.params.iter().zip(&self.options) {
            if !o.penalty.is_zero() {
                total += o.penalty.value(p.tensor())?;
            }
        }
        Ok(total)
    }

    /// Whether some parameter has a penalty.
    pub fn has_penalty(&self) -> bool {
        self.options.iter().any(|o| !o.penalty.is_zero())
    }

    /// Forgets every parameter's gradient.
    pub fn zero_grad(&self) {
        for (_, p) in &self.params {
            p.zero_grad();
        }
    }

    /// The optimizer's weight decay.
    fn base_weight_decay(&self) -> f64 {
        match self.kind {
            OptimizerKind::Sgd(s) => s.weight_decay,
            OptimizerKind::Adam(a) => a.weight_decay,
            OptimizerKind::RmsProp(r) => r.weight_decay,
        }
    }

    /// The weight decay of a parameter with options `o`.
    fn weight_decay_of(&self, o: &ParamOptions) -> f64 {
        o.weight_decay.unwrap_or(if o.decays { self.base_weight_decay() } else { 0.0 })
    }

    /// The fused update's constants at step `step` for a parameter with options `o`.
    fn fused(&self, step: f64, o: &ParamOptions) -> OptimStep {
        let (scale, wd) = (o.lr_scale, self.weight_decay_of(o));
        match self.kind {
            OptimizerKind::Sgd(s) => OptimStep::Sgd {
                lr: s.lr * scale,
                momentum: s.momentum,
                dampening: s.dampening,
                weight_decay: wd,
                nesterov: s.nesterov,
                first_step: step == 1.0,
            },
            OptimizerKind::Adam(a) => OptimStep::Adam {
                lr: a.lr * scale,
                beta1: a.betas.0,
                beta2: a.betas.1,
                eps: a.eps,
                weight_decay: wd,
                decoupled: a.decoupled,
                step: step as u64,
            },
            OptimizerKind::RmsProp(r) => OptimStep::RmsProp {
                lr: r.lr * scale,
                alpha: r.alpha,
                eps: r.eps,
                weight_decay: wd,
                momentum: r.momentum,
            },
        }
    }

    /// Updates every parameter that has a gradient: the loss scale divided out (when scaling),
    /// penalties' gradients added, then clipping (if configured), then one fused update per
    /// parameter with its group's constants. With loss scaling, gradients that are not all
    /// finite skip the step (see [`Optimizer::with_loss_scaling`]).
    pub fn step(&mut self) -> Result<()> {
        let unscale = 1.0 / self.loss_scale();
        // Each gradient (f32 for a half parameter) and the factor still to apply to it: the
        // unscaling, unless a penalty's gradient had to be added to the unscaled one first.
        let mut grads: Vec<Option<(Tensor, f64)>> = Vec::with_capacity(self.params.len());
        for (((_, p), o), state) in self.params.iter().zip(&self.options).zip(&self.state) {
            let target = updated(p.tensor(), state);
            let grad = p.grad().map(|g| g.to_dtype(target.dtype())).transpose()?;
            grads.push(match grad {
                Some(g) if !o.penalty.is_zero() => {
                    let g = if unscale == 1.0 { g } else { g.scale(unscale)? };
                    Some((o.penalty.add_gradient(target, &g)?, 1.0))
                }
                g => g.map(|g| (g, unscale)),
            });
        }
        let clip_norm = match self.clip {
            Some(Clip::GlobalNorm(max)) => Some(max),
            _ => None,
        };
        let norm = if clip_norm.is_some() || self.scaler.is_some() {
            Some(scaled_norm(grads.iter().flatten().map(|(g, f)| (g, *f)))?)
        } else {
            None
        };
        if let Some(scaler) = &mut self.scaler {
            let overflowed = !norm.is_some_and(f64::is_finite);
            scaler.update(overflowed);
            if overflowed {
                return Ok(());
            }
        }
        // PyTorch's clip_grad_norm_: scale by max / (norm + 1e-6) when that is below 1.
        let clip = match (clip_norm, norm) {
            (Some(max), Some(norm)) => (max / (norm + 1e-6)).min(1.0),
            _ => 1.0,
        };
        self.steps += 1;
        let step = self.steps as f64;
        for ((((_, p), g), state), o) in self.params.iter().zip(grads).zip(&self.state).zip(&self.options) {
            let Some((mut g, mut factor)) = g else { continue };
            factor *= clip;
            if let Some(Clip::Value(v)) = self.clip {
                g = g.scale(factor)?.clamp(-v, v)?;
                factor = 1.0;
            }
            let target = updated(p.tensor(), state);
            let refs: Vec<&Tensor> = state.iter().filter(|t| !std::ptr::eq(*t, target)).collect();
            // The gradient's factor is applied as the update reads it, in the same pass.
            if std::ptr::eq(target, p.tensor()) {
                target.optim_step_(&self.fused(step, o), &g, &refs, factor)?;
            } else {
                // The master's update and the rounding into the half-precision parameter, too.
                p.tensor().optim_step_master_(target, &self.fused(step, o), &g, &refs, factor)?;
            }
        }
        Ok(())
    }
}

/// nanoGPT's choice of what weight decay applies to: tensors of two or more dims (weight
/// matrices and embeddings), not biases or norm weights. For [`Optimizer::with_decay_only`],
/// and for [`Optimizer::with_penalty`] to penalise weights only.
pub fn matrices_and_embeddings(_name: &str, param: &Tensor) -> bool {
    param.rank() >= 2
}

/// The L2 norm of all the given gradients together (infinite or NaN when one holds an
/// infinity or NaN).
pub fn global_norm<'a>(grads: impl Iterator<Item = &'a Tensor>) -> Result<f64> {
    scaled_norm(grads.map(|g| (g, 1.0)))
}

/// The L2 norm of the gradients each multiplied by its factor. The squares are summed on the
/// gradients' device in one pass each (`Tensor::sum_squares`: in f32 for f16, whose squares
/// overflow from 256 up), each tensor's sum taken to f64, and read back once.
fn scaled_norm<'a>(grads: impl Iterator<Item = (&'a Tensor, f64)>) -> Result<f64> {
    let mut total: Option<Tensor> = None;
    for (g, factor) in grads {
        let mut sum = g.sum_squares()?.to_dtype(DType::F64)?;
        if factor != 1.0 {
            sum = sum.scale(factor * factor)?;
        }
        total = Some(match total {
            Some(t) => t.add(&sum)?,
            None => sum,
        });
    }
    Ok(total.map_or(Ok(0.0), |t| t.to_scalar_f64())?.sqrt())
}

#[cfg(test)]
mod tests;
