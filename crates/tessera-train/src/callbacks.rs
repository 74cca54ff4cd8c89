//! Callbacks: early stopping, checkpoints, learning-rate schedules and user code, run by
//! [`Trainer::fit`](crate::Trainer::fit) after every batch and epoch.

use crate::checkpoint::{self, CheckpointInfo};
use crate::optim::Optimizer;
use crate::schedule::Scheduler;
use crate::{Error, Result};
use std::collections::BTreeMap;
use std::path::PathBuf;
use tessera_nn::Module;
use tessera_tensor::Tensor;

/// One epoch's metrics: `loss`, `accuracy`, `val_loss`, `val_accuracy`, `lr`, ... by name.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EpochLogs {
    /// The epoch, from 1.
    pub epoch: usize,
    /// Metric values by name.
    pub values: BTreeMap<String, f64>,
}

impl EpochLogs {
    /// The value of `metric`, if recorded.
    pub fn get(&self, metric: &str) -> Option<f64> {
        self.values.get(metric).copied()
    }
}

/// What a callback may touch.
pub struct TrainContext<'a> {
    /// The model.
    pub model: &'a dyn Module,
    /// The optimizer.
    pub optimizer: &'a mut Optimizer,
}

/// Whether training goes on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    /// Keep training.
    Continue,
    /// Stop after this epoch.
    Stop,
}

/// Code run during [`Trainer::fit`](crate::Trainer::fit).
pub trait Callback: Send {
    /// After every optimizer step (`step` counts from 1 over the whole run).
    fn on_batch_end(&mut self, _step: usize, _ctx: &mut TrainContext<'_>) -> Result<()> {
        Ok(())
    }
    /// After every epoch, with its metrics.
    fn on_epoch_end(&mut self, logs: &EpochLogs, ctx: &mut TrainContext<'_>) -> Result<Control>;
    /// When a run resumes, once per epoch done before, with that epoch's recorded metrics: takes
    /// up the state the callback had then (best value, epochs without improvement, ...) without
    /// acting on the model or the optimizer. Returns whether the run had stopped there.
    fn replay(&mut self, _logs: &EpochLogs) -> Result<Control> {
        Ok(Control::Continue)
    }
    /// Once, when training ends (normally or stopped early).
    fn on_train_end(&mut self, _ctx: &mut TrainContext<'_>) -> Result<()> {
        Ok(())
    }
}

/// Whether lower or higher values of a metric are better.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Lower is better (losses, perplexity).
    Min,
    /// Higher is better (accuracy).
    Max,
}

impl Mode {
    fn improved(self, value: f64, best: Option<f64>, min_delta: f64) -> bool {
        match best {
            None => value.is_finite(),
            Some(b) => match self {
                Mode::Min => value < b - min_delta,
                Mode::Max => value > b + min_delta,
            },
        }
    }
}

fn monitored(logs: &EpochLogs, metric: &str) -> Result<f64> {
    logs.get(metric).ok_or_else(|| {
        Error::Config(format!(
            "monitored metric '{metric}' is not recorded (have: {:?})",
            logs.values.keys().collect::<Vec<_>>()
        ))
    })
}

/// Stops when the monitored metric has not improved by `min_delta` for `patience` epochs; can
/// put back the best weights at the end (Keras' `restore_best_weights`).
pub struct EarlyStopping {
    monitor: String,
    mode: Mode,
    patience: usize,
    min_delta: f64,
    restore_best: bool,
    best: Option<f64>,
    wait: usize,
    best_weights: Option<Vec<Tensor>>,
    best_checkpoint: Option<(PathBuf, String)>,
}

impl EarlyStopping {
    /// Monitors `monitor` (e.g. `val_loss` with [`Mode::Min`]).
    pub fn new(monitor: &str, mode: Mode, patience: usize) -> Self {
        EarlyStopping {
            monitor: monitor.into(),
            mode,
            patience,
            min_delta: 0.0,
            restore_best: false,
            best: None,
            wait: 0,
            best_weights: None,
            best_checkpoint: None,
        }
    }

    /// The smallest change that counts as an improvement.
    pub fn min_delta(mut self, d: f64) -> Self {
        self.min_delta = d;
        self
    }

    /// Restores the best epoch's weights when training ends.
    pub fn restore_best_weights(mut self, on: bool) -> Self {
        self.restore_best = on;
        self
    }

    /// Where the best weights of a resumed run's earlier epochs are: the checkpoint `path` of a
    /// model named `model`, restored at the end when no later epoch beats them.
    pub fn best_checkpoint(mut self, path: impl Into<PathBuf>, model: &str) -> Self {
        self.best_checkpoint = Some((path.into(), model.into()));
        self
    }

    /// The best value seen.
    pub fn best(&self) -> Option<f64> {
        self.best
    }

    /// Takes `value` into account; whether it improved on the best.
    fn observe(&mut self, value: f64) -> bool {
        if self.mode.improved(value, self.best, self.min_delta) {
            self.best = Some(value);
            self.wait = 0;
            true
        } else {
            self.wait += 1;
            false
        }
    }

    fn control(&self) -> Control {
        if self.wait >= self.patience {
            Control::Stop
        } else {
            Control::Continue
        }
    }
}

impl Callback for EarlyStopping {
    fn on_epoch_end(&mut self, logs: &EpochLogs, ctx: &mut TrainContext<'_>) -> Result<Control> {
        if self.observe(monitored(logs, &self.monitor)?) && self.restore_best {
            self.best_weights = Some(
                ctx.model.parameters().iter().map(|(_, p)| p.tensor().copy()).collect::<std::result::Result<_, _>>()?,
            );
        }
        Ok(self.control())
    }

    fn replay(&mut self, logs: &EpochLogs) -> Result<Control> {
        self.observe(monitored(logs, &self.monitor)?);
        Ok(self.control())
    }

    fn on_train_end(&mut self, ctx: &mut TrainContext<'_>) -> Result<()> {
        if !self.restore_best {
            return Ok(());
        }
        if self.best_weights.is_none() && self.best.is_some() {
            // The best epoch came before the run resumed: its weights are in its checkpoint.
            if let Some((path, model)) = &self.best_checkpoint {
                checkpoint::load(path, model, ctx.model, None)?;
            }
        }
        if let Some(best) = &self.best_weights {
            for ((_, p), w) in ctx.model.parameters().iter().zip(best) {
                p.tensor().assign_(w)?;
            }
        }
        Ok(())
    }
}

/// Writes `last.safetensors` after every epoch and `best.safetensors` when the monitored metric
/// improves, each atomically, with the optimizer state (so training can resume).
pub struct ModelCheckpoint {
    dir: PathBuf,
    monitor: String,
    mode: Mode,
    info: CheckpointInfo,
    best: Option<f64>,
}

impl ModelCheckpoint {
    /// Checkpoints into `dir` for a model named `model` with its JSON `config`.
    pub fn new(dir: impl Into<PathBuf>, monitor: &str, mode: Mode, model: &str, config: &str) -> Self {
        let info = CheckpointInfo { model: model.into(), epoch: 0, config: config.into() };
        ModelCheckpoint { dir: dir.into(), monitor: monitor.into(), mode, info, best: None }
    }
}

impl Callback for ModelCheckpoint {
    fn on_epoch_end(&mut self, logs: &EpochLogs, ctx: &mut TrainContext<'_>) -> Result<Control> {
        crate::fs::create_dir(&self.dir)?;
        self.info.epoch = logs.epoch;
        checkpoint::save(&self.dir.join("last.safetensors"), ctx.model, Some(ctx.optimizer), &self.info)?;
        let v = monitored(logs, &self.monitor)?;
        if self.mode.improved(v, self.best, 0.0) {
            self.best = Some(v);
            checkpoint::save(&self.dir.join("best.safetensors"), ctx.model, Some(ctx.optimizer), &self.info)?;
        }
        Ok(Control::Continue)
    }

    fn replay(&mut self, logs: &EpochLogs) -> Result<Control> {
        let v = monitored(logs, &self.monitor)?;
        if self.mode.improved(v, self.best, 0.0) {
            self.best = Some(v);
        }
        Ok(Control::Continue)
    }
}

/// Applies a learning-rate schedule: per step or per epoch, as the schedule says.
pub struct LrScheduler {
    scheduler: Scheduler,
    monitor: Option<String>,
}

impl LrScheduler {
    /// Drives `scheduler`; `monitor` names the metric a plateau schedule watches.
    pub fn new(scheduler: Scheduler, monitor: Option<&str>) -> Self {
        LrScheduler { scheduler, monitor: monitor.map(String::from) }
    }
}

impl Callback for LrScheduler {
    fn on_batch_end(&mut self, step: usize, ctx: &mut TrainContext<'_>) -> Result<()> {
        ctx.optimizer.set_learning_rate(self.scheduler.after_step(step));
        Ok(())
    }

    fn on_epoch_end(&mut self, logs: &EpochLogs, ctx: &mut TrainContext<'_>) -> Result<Control> {
        let metric = match &self.monitor {
            Some(m) => Some(monitored(logs, m)?),
            None => None,
        };
        ctx.optimizer.set_learning_rate(self.scheduler.after_epoch(logs.epoch, metric));
        Ok(Control::Continue)
    }

    fn replay(&mut self, logs: &EpochLogs) -> Result<Control> {
        let metric = match &self.monitor {
            Some(m) => Some(monitored(logs, m)?),
            None => None,
        };
        self.scheduler.after_epoch(logs.epoch, metric);
        Ok(Control::Continue)
    }
}

/// A callback from a closure over the epoch's logs.
pub struct OnEpochEnd<F>(pub F);

impl<F: FnMut(&EpochLogs) -> Result<Control> + Send> Callback for OnEpochEnd<F> {
    fn on_epoch_end(&mut self, logs: &EpochLogs, _ctx: &mut TrainContext<'_>) -> Result<Control> {
        (self.0)(logs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::optim::{Adam, OptimizerKind};
    use crate::schedule::LrSchedule;
    use tessera_nn::Linear;
    use tessera_tensor::{DType, Device, Generator};

    fn logs(epoch: usize, val: f64) -> EpochLogs {
        EpochLogs { epoch, values: [("val".to_string(), val)].into() }
    }

    #[test]
    fn replayed_epochs_restore_patience_and_plateau_cuts() {
        let mut stopping = EarlyStopping::new("val", Mode::Min, 2);
        let controls: Vec<Control> =
            [1.0, 1.5, 1.2].iter().enumerate().map(|(i, &v)| stopping.replay(&logs(i + 1, v)).unwrap()).collect();
        assert_eq!(controls, [Control::Continue, Control::Continue, Control::Stop]);
        assert_eq!(stopping.best(), Some(1.0));
        let plateau = LrSchedule::ReduceOnPlateau { factor: 0.25, patience: 0, threshold: 0.0, min_lr: 0.0 };
        let mut schedule = LrScheduler::new(Scheduler::new(plateau, 1.0).unwrap(), Some("val"));
        for (i, v) in [1.0, 1.5, 0.9, 0.95].into_iter().enumerate() {
            schedule.replay(&logs(i + 1, v)).unwrap();
        }
        assert_eq!(schedule.scheduler.lr(), 0.0625, "two cuts replayed");
    }

    #[test]
    fn a_resumed_run_keeps_its_best_checkpoint_over_a_worse_epoch() {
        let dir = std::env::temp_dir().join(format!("tessera-best-kept-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let model = Linear::new(&mut Generator::new(0), 2, 1, DType::F32, &Device::Cpu).unwrap();
        let mut optimizer = Optimizer::new(model.parameters(), OptimizerKind::Adam(Adam::default())).unwrap();
        let mut ctx = TrainContext { model: &model, optimizer: &mut optimizer };
        let mut saver = ModelCheckpoint::new(&dir, "val", Mode::Min, "linear", "{}");
        saver.replay(&logs(1, 1.0)).unwrap();
        saver.on_epoch_end(&logs(2, 2.0), &mut ctx).unwrap();
        assert!(dir.join("last.safetensors").exists() && !dir.join("best.safetensors").exists());
        saver.on_epoch_end(&logs(3, 0.5), &mut ctx).unwrap();
        assert_eq!(checkpoint::read_info(&dir.join("best.safetensors")).unwrap().epoch, 3);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
