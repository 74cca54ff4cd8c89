//! Dynamic loss scaling for f16 training (PyTorch's `GradScaler`): the loss is multiplied by a
//! large factor before backward so that small gradients survive f16's narrow range; the
//! optimizer divides it out again, skips a step whose gradients overflowed, and adapts the
//! factor.

use super::Optimizer;
use crate::{Error, Result};
use tessera_autograd::Precision;

/// The settings of dynamic loss scaling (PyTorch's `GradScaler` defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossScaling {
    /// The first scale.
    pub init_scale: f64,
    /// The scale is multiplied by this after `growth_interval` steps in a row without overflow.
    pub growth_factor: f64,
    /// The scale is multiplied by this when a step's gradients overflow (the step is skipped).
    pub backoff_factor: f64,
    /// Clean steps in a row before the scale grows.
    pub growth_interval: u64,
}

impl Default for LossScaling {
    fn default() -> Self {
        LossScaling { init_scale: 65536.0, growth_factor: 2.0, backoff_factor: 0.5, growth_interval: 2000 }
    }
}

impl LossScaling {
    /// An error naming the first setting out of range.
    pub(crate) fn check(&self) -> Result<()> {
        let bad = |what: &str, value: f64, want: &str| {
            Err(Error::Config(format!("loss scaling: {what} {value} must be {want}")))
        };
        if !(self.init_scale.is_finite() && self.init_scale > 0.0) {
            return bad("init_scale", self.init_scale, "finite and > 0");
        }
        if !(self.growth_factor.is_finite() && self.growth_factor >= 1.0) {
            return bad("growth_factor", self.growth_factor, "finite and >= 1");
        }
        if !(self.backoff_factor > 0.0 && self.backoff_factor < 1.0) {
            return bad("backoff_factor", self.backoff_factor, "in (0, 1)");
        }
        if self.growth_interval == 0 {
            return bad("growth_interval", 0.0, ">= 1");
        }
        Ok(())
    }
}

/// The state of dynamic loss scaling: the current scale and the clean steps since it last
/// changed. Checkpoints save both, so a resumed run scales as the unbroken one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LossScaler {
    settings: LossScaling,
    scale: f64,
    clean_steps: u64,
    skipped: u64,
}

impl Default for LossScaler {
    /// A scaler with [`LossScaling::default`]'s settings.
    fn default() -> Self {
        let settings = LossScaling::default();
        LossScaler { settings, scale: settings.init_scale, clean_steps: 0, skipped: 0 }
    }
}

impl LossScaler {
    /// A scaler at `settings.init_scale`; settings out of range are an error naming the first.
    pub fn new(settings: LossScaling) -> Result<Self> {
        settings.check()?;
        Ok(LossScaler { settings, scale: settings.init_scale, clean_steps: 0, skipped: 0 })
    }

    /// The settings.
    pub fn settings(&self) -> &LossScaling {
        &self.settings
    }

    /// What the loss is multiplied by before backward.
    pub fn scale(&self) -> f64 {
        self.scale
    }

    /// Clean steps since the scale last changed.
    pub fn clean_steps(&self) -> u64 {
        self.clean_steps
    }

    /// Steps skipped because their gradients overflowed, in this process's life (not saved).
    pub fn skipped_steps(&self) -> u64 {
        self.skipped
    }

    /// Takes up a saved scale and count of clean steps.
    pub fn restore(&mut self, scale: f64, clean_steps: u64) -> Result<()> {
        if !(scale.is_finite() && scale > 0.0) {
            return Err(Error::Config(format!("loss scale {scale} must be finite and > 0")));
        }
        (self.scale, self.clean_steps) = (scale, clean_steps);
        Ok(())
    }

    /// Records a step: `overflowed` backs the scale off (that step was skipped), a clean one
    /// counts towards growing it.
    pub(crate) fn update(&mut self, overflowed: bool) {
        if overflowed {
            self.scale *= self.settings.backoff_factor;
            self.clean_steps = 0;
            self.skipped += 1;
        } else {
            self.clean_steps += 1;
            if self.clean_steps == self.settings.growth_interval {
                // Never to infinity: a scale that cannot grow stays.
                let grown = self.scale * self.settings.growth_factor;
                self.scale = if grown.is_finite() { grown } else { self.scale };
                self.clean_steps = 0;
            }
        }
    }
}

impl Optimizer {
    /// Scales the loss dynamically (f16 training; see [`LossScaling`]): the gradients reaching
    /// [`Optimizer::step`] are those of the loss times [`Optimizer::loss_scale`], which the step
    /// divides out before penalties, clipping and the update. A step whose gradients hold an
    /// infinity or NaN is skipped (parameters, state and step count untouched) and the scale
    /// backs off; it grows again after enough clean steps.
    ///
    /// ```
    /// use tessera_autograd::Var;
    /// use tessera_tensor::{Device, Tensor};
    /// use tessera_train::optim::{LossScaling, Optimizer, OptimizerKind, Sgd};
    /// let w = Var::param(Tensor::from_vec(vec![1.0f32], [1], &Device::Cpu)?)?;
    /// let sgd = OptimizerKind::Sgd(Sgd { lr: 0.5, ..Sgd::default() });
    /// let mut opt = Optimizer::new(vec![("w".into(), w.clone())], sgd)?.with_loss_scaling(LossScaling::default())?;
    /// w.sum_all()?.scale(opt.loss_scale())?.backward()?; // the gradient is 65536
    /// opt.step()?;
    /// assert_eq!(w.tensor().to_vec::<f32>()?, vec![0.5]); // 1 - 0.5 · 1
    /// # Ok::<(), tessera_train::Error>(())
    /// ```
    pub fn with_loss_scaling(mut self, settings: LossScaling) -> Result<Self> {
        self.set_loss_scaling(Some(settings))?;
        Ok(self)
    }

    /// Turns dynamic loss scaling on with `settings` (from its initial scale) or off.
    pub fn set_loss_scaling(&mut self, settings: Option<LossScaling>) -> Result<()> {
        self.scaler = settings.map(LossScaler::new).transpose()?;
        Ok(())
    }

    /// Scales the loss as training in `precision` needs: f16 turns on [`LossScaling::default`]
    /// unless scaling is configured already; the other precisions leave it as it is (bf16 has
    /// f32's range).
    pub fn scale_loss_for(&mut self, precision: Precision) {
        if precision == Precision::F16 {
            self.scaler.get_or_insert_with(LossScaler::default);
        }
    }

    /// The loss scaler's state, when the loss is scaled.
    pub fn loss_scaler(&self) -> Option<&LossScaler> {
        self.scaler.as_ref()
    }

    /// The loss scaler, mutably (to restore a checkpoint's scale).
    pub fn loss_scaler_mut(&mut self) -> Option<&mut LossScaler> {
        self.scaler.as_mut()
    }

    /// What to multiply the loss by before backward: the scaler's scale, or 1.
    pub fn loss_scale(&self) -> f64 {
        self.scaler.map_or(1.0, |s| s.scale())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backs_off_on_overflow_and_grows_after_the_interval() {
        let settings = LossScaling { init_scale: 1024.0, growth_interval: 3, ..LossScaling::default() };
        let mut s = LossScaler::new(settings).unwrap();
        s.update(true);
        assert_eq!((s.scale(), s.clean_steps(), s.skipped_steps()), (512.0, 0, 1));
        s.update(false);
        s.update(false);
        assert_eq!((s.scale(), s.clean_steps()), (512.0, 2));
        s.update(false);
        assert_eq!((s.scale(), s.clean_steps()), (1024.0, 0));
        s.update(false);
        s.update(true);
        assert_eq!((s.scale(), s.clean_steps(), s.skipped_steps()), (512.0, 0, 2));
    }

    #[test]
    fn settings_out_of_range_are_refused_by_name() {
        for (bad, name) in [
            (LossScaling { init_scale: 0.0, ..LossScaling::default() }, "init_scale"),
            (LossScaling { growth_factor: 0.5, ..LossScaling::default() }, "growth_factor"),
            (LossScaling { backoff_factor: 1.0, ..LossScaling::default() }, "backoff_factor"),
            (LossScaling { growth_interval: 0, ..LossScaling::default() }, "growth_interval"),
        ] {
            let e = LossScaler::new(bad).unwrap_err().to_string();
            assert!(e.contains(name), "{e}");
        }
        assert!(LossScaler::new(LossScaling::default()).unwrap().restore(f64::INFINITY, 0).is_err());
    }
}
