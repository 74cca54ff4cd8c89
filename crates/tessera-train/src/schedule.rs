//! Learning-rate schedules.

use crate::{Error, Result};

/// A learning-rate schedule. `Step`, `Exponential` and `ReduceOnPlateau` change the rate at the
/// end of each epoch; `CosineWithWarmup` and `LinearWarmupDecay` after every optimizer step.
#[derive(Debug, Clone, PartialEq)]
pub enum LrSchedule {
    /// Multiply by `gamma` every `step_size` epochs (PyTorch's `StepLR`).
    Step {
        /// Epochs between decays.
        step_size: usize,
        /// Factor.
        gamma: f64,
    },
    /// Multiply by `gamma` every epoch.
    Exponential {
        /// Factor.
        gamma: f64,
    },
    /// Linear warmup from 0 over `warmup` steps, then a cosine from the base rate to `min_lr` at
    /// `total` steps.
    CosineWithWarmup {
        /// Warmup steps.
        warmup: usize,
        /// Total steps.
        total: usize,
        /// Final rate.
        min_lr: f64,
    },
    /// Linear warmup from 0 over `warmup` steps, then linear decay to 0 at `total` steps.
    LinearWarmupDecay {
        /// Warmup steps.
        warmup: usize,
        /// Total steps.
        total: usize,
    },
    /// Multiply by `factor` when the monitored metric has not improved (lower is better) by more
    /// than `threshold` (relative) for `patience` epochs; never below `min_lr`.
    ReduceOnPlateau {
        /// Factor.
        factor: f64,
        /// Epochs without improvement before reducing.
        patience: usize,
        /// Relative improvement that counts.
        threshold: f64,
        /// Lowest rate.
        min_lr: f64,
    },
}

/// A schedule with its running state.
#[derive(Debug, Clone)]
pub struct Scheduler {
    schedule: LrSchedule,
    base_lr: f64,
    current: f64,
    best: f64,
    bad_epochs: usize,
}

impl LrSchedule {
    /// Checks the settings: rates and factors finite and at least 0, a step size of at least 1,
    /// and a plateau factor below 1 (PyTorch's `ReduceLROnPlateau` refuses one of 1 or more,
    /// which would keep or raise the rate it is meant to cut).
    fn check(&self) -> Result<()> {
        let bad = |what: &str, value: f64, want: &str| Err(Error::Config(format!("{what} {value} must be {want}")));
        let (name, rates): (&str, &[(&str, f64)]) = match self {
            LrSchedule::Step { step_size: 0, .. } => return bad("step schedule: step_size", 0.0, "at least 1"),
            LrSchedule::Step { gamma, .. } => ("step schedule", &[("gamma", *gamma)]),
            LrSchedule::Exponential { gamma } => ("exponential schedule", &[("gamma", *gamma)]),
            LrSchedule::CosineWithWarmup { min_lr, .. } => ("cosine schedule", &[("min_lr", *min_lr)]),
            LrSchedule::LinearWarmupDecay { .. } => return Ok(()),
            LrSchedule::ReduceOnPlateau { factor, .. } if !(0.0..1.0).contains(factor) => {
                return bad("plateau schedule: factor", *factor, "in [0, 1)")
            }
            LrSchedule::ReduceOnPlateau { threshold, min_lr, .. } => {
                ("plateau schedule", &[("threshold", *threshold), ("min_lr", *min_lr)])
            }
        };
        match rates.iter().find(|(_, v)| !(v.is_finite() && *v >= 0.0)) {
            Some((what, v)) => bad(&format!("{name}: {what}"), *v, "finite and at least 0"),
            None => Ok(()),
        }
    }
}

impl Scheduler {
    /// Starts `schedule` from `base_lr`; settings that make no schedule (a negative or NaN rate
    /// or factor, a step size of 0, a plateau factor of 1 or more) are errors naming them.
    pub fn new(schedule: LrSchedule, base_lr: f64) -> Result<Self> {
        if !(base_lr.is_finite() && base_lr >= 0.0) {
            return Err(Error::Config(format!(
                "learning-rate schedule: base rate {base_lr} must be finite and at least 0"
            )));
        }
        schedule.check()?;
        let mut s = Scheduler { schedule, base_lr, current: base_lr, best: f64::INFINITY, bad_epochs: 0 };
        s.current = s.after_step(0);
        Ok(s)
    }

    /// The current rate.
    pub fn lr(&self) -> f64 {
        self.current
    }

    /// The rate after `step` optimizer steps (per-step schedules; others keep their rate).
    pub fn after_step(&mut self, step: usize) -> f64 {
        let b = self.base_lr;
        match self.schedule {
            LrSchedule::CosineWithWarmup { warmup, total, min_lr } => {
                self.current = if step < warmup {
                    b * step as f64 / warmup as f64
                } else {
                    let t = ((step - warmup) as f64 / (total.saturating_sub(warmup)).max(1) as f64).min(1.0);
                    min_lr + (b - min_lr) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
                };
            }
            LrSchedule::LinearWarmupDecay { warmup, total } => {
                self.current = if step < warmup {
                    b * step as f64 / warmup as f64
                } else {
                    b * (total.saturating_sub(step)) as f64 / (total.saturating_sub(warmup)).max(1) as f64
                };
            }
            _ => {}
        }
        self.current
    }

    /// The rate for the epoch after `epoch` (1-based) ends with `metric` (for the plateau rule).
    pub fn after_epoch(&mut self, epoch: usize, metric: Option<f64>) -> f64 {
        match self.schedule {
            LrSchedule::Step { step_size, gamma } => {
                self.current = self.base_lr * gamma.powi((epoch / step_size) as i32)
            }
            LrSchedule::Exponential { gamma } => self.current = self.base_lr * gamma.powi(epoch as i32),
            LrSchedule::ReduceOnPlateau { factor, patience, threshold, min_lr } => {
                if let Some(m) = metric {
                    if m < self.best * (1.0 - threshold) {
                        self.best = m;
                        self.bad_epochs = 0;
                    } else {
                        self.bad_epochs += 1;
                        if self.bad_epochs > patience {
                            self.current = (self.current * factor).max(min_lr);
                            self.bad_epochs = 0;
                        }
                    }
                }
            }
            _ => {}
        }
        self.current
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_follow_their_formulas() {
        let mut s = Scheduler::new(LrSchedule::Step { step_size: 2, gamma: 0.5 }, 1.0).unwrap();
        assert_eq!([1, 2, 3, 4].map(|e| s.after_epoch(e, None)), [1.0, 0.5, 0.5, 0.25]);
        let mut e = Scheduler::new(LrSchedule::Exponential { gamma: 0.9 }, 1.0).unwrap();
        assert!((e.after_epoch(2, None) - 0.81).abs() < 1e-12);
        let mut c = Scheduler::new(LrSchedule::CosineWithWarmup { warmup: 10, total: 110, min_lr: 0.0 }, 1.0).unwrap();
        assert_eq!(c.lr(), 0.0);
        assert!((c.after_step(5) - 0.5).abs() < 1e-12);
        assert!((c.after_step(60) - 0.5).abs() < 1e-12);
        assert!(c.after_step(110).abs() < 1e-12);
        let mut l = Scheduler::new(LrSchedule::LinearWarmupDecay { warmup: 10, total: 20 }, 1.0).unwrap();
        assert!((l.after_step(15) - 0.5).abs() < 1e-12);
        let mut p = Scheduler::new(
            LrSchedule::ReduceOnPlateau { factor: 0.1, patience: 1, threshold: 0.0, min_lr: 0.001 },
            1.0,
        )
        .unwrap();
        let lrs: Vec<f64> =
            [1.0, 0.5, 0.6, 0.7, 0.8, 0.9].iter().enumerate().map(|(i, &m)| p.after_epoch(i + 1, Some(m))).collect();
        assert_eq!(lrs, vec![1.0, 1.0, 1.0, 0.1, 0.1, 0.010000000000000002]);
    }

    #[test]
    fn settings_that_make_no_schedule_are_errors() {
        let refused = [
            (LrSchedule::Step { step_size: 0, gamma: 0.5 }, "step schedule: step_size 0 must be at least 1"),
            (LrSchedule::Exponential { gamma: -0.9 }, "exponential schedule: gamma -0.9 must be finite and at least 0"),
            (LrSchedule::CosineWithWarmup { warmup: 1, total: 2, min_lr: f64::NAN }, "cosine schedule: min_lr NaN"),
            (
                LrSchedule::ReduceOnPlateau { factor: 1.0, patience: 0, threshold: 0.0, min_lr: 0.0 },
                "plateau schedule: factor 1 must be in [0, 1)",
            ),
            (
                LrSchedule::ReduceOnPlateau { factor: 0.5, patience: 0, threshold: -1.0, min_lr: 0.0 },
                "plateau schedule: threshold -1 must be",
            ),
        ];
        for (schedule, want) in refused {
            let e = Scheduler::new(schedule, 1.0).unwrap_err().to_string();
            assert!(e.starts_with(&format!("invalid configuration: {want}")), "{e}");
        }
        let e = Scheduler::new(LrSchedule::Exponential { gamma: 0.9 }, -1.0).unwrap_err().to_string();
        assert!(e.contains("base rate -1 must be finite and at least 0"), "{e}");
    }
}
