//! `Trainer::fit`: the Keras-like loop, and `evaluate`.

use crate::callbacks::{Callback, Control, EpochLogs, TrainContext};
use crate::data::{Augment, Batch, DataLoader, TensorDataset};
use crate::metrics::{accuracy, top_k_accuracy, RunningMean};
use crate::optim::Optimizer;
use crate::progress::Progress;
use crate::run_dir::RunDir;
use crate::{Error, Result};
use std::sync::Arc;
use std::time::Instant;
use tessera_autograd::{no_grad, Var};
use tessera_nn::Module;

/// A loss: predictions and targets to a scalar.
pub type LossFn = Box<dyn Fn(&Var, &Var) -> tessera_nn::Result<Var> + Send + Sync>;

/// Where validation metrics come from.
#[derive(Debug, Clone, Default)]
pub enum Validation {
    /// No validation.
    #[default]
    None,
    /// Hold out this fraction of the training data (shuffled with the seed) before training.
    Split(f64),
    /// A separate dataset.
    Data(TensorDataset),
}

/// How to fit.
#[derive(Debug, Clone)]
pub struct FitConfig {
    /// Passes over the training data.
    pub epochs: usize,
    /// Examples per optimizer step.
    pub batch_size: usize,
    /// Seed of the shuffling (and of the validation split).
    pub seed: u64,
    /// Validation data.
    pub validation: Validation,
    /// Also report top-k accuracy for this k.
    pub top_k: Option<usize>,
    /// Augment training inputs.
    pub augment: Option<Augment>,
    /// Show a progress bar (or plain lines when not on a terminal).
    pub progress: bool,
}

impl Default for FitConfig {
    fn default() -> Self {
        FitConfig {
            epochs: 1,
            batch_size: 32,
            seed: 0,
            validation: Validation::None,
            top_k: None,
            augment: None,
            progress: true,
        }
    }
}

/// Metrics of one pass over some data.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Evaluation {
    /// Mean loss.
    pub loss: f64,
    /// Accuracy, when the targets are class indices.
    pub accuracy: Option<f64>,
    /// Top-k accuracy, when asked for.
    pub top_k: Option<f64>,
}

/// What [`Trainer::fit`] returns: every epoch's logs.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// One entry per completed epoch.
    pub epochs: Vec<EpochLogs>,
    /// Whether a callback stopped training before the last epoch.
    pub stopped_early: bool,
}

/// Trains a model with an optimizer and a loss; callbacks and a run folder are optional.
///
/// The explicit loop stays one call away: [`Trainer::train_step`] does forward, loss, backward
/// and the optimizer step for one batch.
pub struct Trainer<'m> {
    model: &'m dyn Module,
    optimizer: Optimizer,
    loss: LossFn,
    callbacks: Vec<Box<dyn Callback>>,
    run_dir: Option<RunDir>,
    steps: usize,
}

fn classes_of(pred: &Var, targets: &Var) -> bool {
    pred.rank() == 2 && targets.rank() == 1 && targets.tensor().dtype().is_int()
}

impl<'m> Trainer<'m> {
    /// A trainer for `model`.
    pub fn new(model: &'m dyn Module, optimizer: Optimizer, loss: LossFn) -> Self {
        Trainer { model, optimizer, loss, callbacks: Vec::new(), run_dir: None, steps: 0 }
    }

    /// Adds a callback.
    pub fn callback(mut self, cb: impl Callback + 'static) -> Self {
        self.callbacks.push(Box::new(cb));
        self
    }

    /// Records metrics and curves in `run`.
    pub fn run_dir(mut self, run: RunDir) -> Self {
        self.run_dir = Some(run);
        self
    }

    /// The optimizer.
    pub fn optimizer(&self) -> &Optimizer {
        &self.optimizer
    }

    /// The optimizer, mutably (to load a checkpoint's state).
    pub fn optimizer_mut(&mut self) -> &mut Optimizer {
        &mut self.optimizer
    }

    /// One optimizer step on `batch`: returns the loss and the model's output.
    pub fn train_step(&mut self, batch: &Batch) -> Result<(f64, Var)> {
        let x = Var::constant(batch.inputs.clone());
        let y = Var::constant(batch.targets.clone());
        let pred = self.model.forward(&x)?;
        let loss = (self.loss)(&pred, &y)?;
        let value = loss.tensor().to_scalar_f64()?;
        self.optimizer.zero_grad();
        if value.is_finite() {
            loss.backward()?;
            self.optimizer.step()?;
        }
        Ok((value, pred))
    }

    /// Mean loss and accuracy of the model on `data`, in evaluation mode and without recording.
    pub fn evaluate(&self, data: &TensorDataset, batch_size: usize, top_k: Option<usize>) -> Result<Evaluation> {
        self.model.set_training(false);
        let result = evaluate(self.model, &self.loss, data, batch_size, top_k);
        self.model.set_training(true);
        result
    }

    /// Trains for `cfg.epochs` epochs (or until a callback stops it), reporting `loss` and
    /// `accuracy` (and `val_loss`, `val_accuracy` with validation data) every epoch.
    pub fn fit(&mut self, train: &TensorDataset, cfg: &FitConfig) -> Result<History> {
        self.fit_from(train, cfg, 0)
    }

    /// Resumes training after `done` completed epochs (e.g. from a checkpoint's epoch): runs
    /// epochs `done + 1 ..= cfg.epochs` with the same data order an unbroken run would use.
    pub fn fit_from(&mut self, train: &TensorDataset, cfg: &FitConfig, done: usize) -> Result<History> {
        let (train, val) = match &cfg.validation {
            Validation::None => (train.clone(), None),
            Validation::Split(f) => {
                let (t, v) = train.split(*f, cfg.seed)?;
                (t, Some(v))
            }
            Validation::Data(v) => (train.clone(), Some(v.clone())),
        };
        let mut loader = DataLoader::new(Arc::new(train), cfg.batch_size)?.shuffle(cfg.seed);
        if let Some(a) = &cfg.augment {
            loader = loader.augment(a.clone());
        }
        let mut history = History::default();
        self.model.set_training(true);
        for epoch in done + 1..=cfg.epochs {
            let started = Instant::now();
            let mut progress = cfg
                .progress
                .then(|| Progress::new(format!("epoch {epoch}/{}", cfg.epochs), loader.batches_per_epoch()));
            let (mut loss_mean, mut acc_mean) = (RunningMean::default(), RunningMean::default());
            let mut seen = 0;
            for (step, batch) in loader.epoch(epoch - 1).enumerate() {
                let batch = batch?;
                let (loss, pred) = self.train_step(&batch)?;
                if !loss.is_finite() {
                    return Err(Error::NonFiniteLoss { value: loss, epoch, step: step + 1 });
                }
                let n = batch.len() as f64;
                loss_mean.add(loss, n);
                let y = Var::constant(batch.targets.clone());
                if classes_of(&pred, &y) {
                    acc_mean.add(accuracy(pred.tensor(), &batch.targets)?, n);
                }
                seen += batch.len();
                self.steps += 1;
                let mut ctx = TrainContext { model: self.model, optimizer: &mut self.optimizer };
                for cb in &mut self.callbacks {
                    cb.on_batch_end(self.steps, &mut ctx)?;
                }
                if let Some(p) = progress.as_mut() {
                    p.update(step + 1, seen, loss_mean.mean());
                }
            }
            if let Some(p) = &progress {
                p.finish();
            }
            let mut logs = EpochLogs { epoch, ..Default::default() };
            logs.values.insert("loss".into(), loss_mean.mean());
            if acc_mean.mean().is_finite() {
                logs.values.insert("accuracy".into(), acc_mean.mean());
            }
            if let Some(v) = &val {
                let e = self.evaluate(v, cfg.batch_size.max(256), cfg.top_k)?;
                logs.values.insert("val_loss".into(), e.loss);
                if let Some(a) = e.accuracy {
                    logs.values.insert("val_accuracy".into(), a);
                }
                if let (Some(k), Some(t)) = (cfg.top_k, e.top_k) {
                    logs.values.insert(format!("val_top{k}_accuracy"), t);
                }
            }
            logs.values.insert("lr".into(), self.optimizer.learning_rate());
            logs.values.insert("seconds".into(), started.elapsed().as_secs_f64());
            let stop = end_epoch(
                &logs,
                cfg.progress.then_some(cfg.epochs),
                &mut self.callbacks,
                self.run_dir.as_mut(),
                &mut TrainContext { model: self.model, optimizer: &mut self.optimizer },
            )?;
            history.epochs.push(logs);
            if stop {
                history.stopped_early = epoch < cfg.epochs;
                break;
            }
        }
        let mut ctx = TrainContext { model: self.model, optimizer: &mut self.optimizer };
        for cb in &mut self.callbacks {
            cb.on_train_end(&mut ctx)?;
        }
        Ok(history)
    }
}

/// What every training loop does when an epoch ends: prints the logs (when `show` holds the
/// epoch count), runs the callbacks and records the epoch in the run folder. Returns whether a
/// callback asked to stop.
pub(crate) fn end_epoch(
    logs: &EpochLogs,
    show: Option<usize>,
    callbacks: &mut [Box<dyn Callback>],
    run: Option<&mut RunDir>,
    ctx: &mut TrainContext<'_>,
) -> Result<bool> {
    if let Some(epochs) = show {
        eprintln!("epoch {}/{epochs}: {}", logs.epoch, format_logs(logs));
    }
    let mut stop = false;
    for cb in callbacks.iter_mut() {
        stop |= cb.on_epoch_end(logs, ctx)? == Control::Stop;
    }
    if let Some(run) = run {
        let mut m = serde_json::Map::new();
        m.insert("epoch".into(), logs.epoch.into());
        for (k, v) in &logs.values {
            m.insert(k.clone(), (*v).into());
        }
        run.record_epoch(m)?;
    }
    Ok(stop)
}

/// Mean loss and accuracy of `model` on `data` without recording a graph.
pub fn evaluate(
    model: &dyn Module,
    loss_fn: &LossFn,
    data: &TensorDataset,
    batch_size: usize,
    top_k: Option<usize>,
) -> Result<Evaluation> {
    let loader = DataLoader::new(Arc::new(data.clone()), batch_size)?.prefetch(0);
    let (mut loss, mut acc, mut topk) = (RunningMean::default(), RunningMean::default(), RunningMean::default());
    no_grad(|| -> Result<()> {
        for batch in loader.epoch(0) {
            let batch = batch?;
            let (x, y) = (Var::constant(batch.inputs.clone()), Var::constant(batch.targets.clone()));
            let pred = model.forward(&x)?;
            let n = batch.len() as f64;
            loss.add(loss_fn(&pred, &y)?.tensor().to_scalar_f64()?, n);
            if classes_of(&pred, &y) {
                acc.add(accuracy(pred.tensor(), &batch.targets)?, n);
                if let Some(k) = top_k {
                    topk.add(top_k_accuracy(pred.tensor(), &batch.targets, k)?, n);
                }
            }
        }
        Ok(())
    })?;
    let finite = |m: &RunningMean| Some(m.mean()).filter(|v| v.is_finite());
    Ok(Evaluation { loss: loss.mean(), accuracy: finite(&acc), top_k: finite(&topk) })
}

/// `loss 0.2412 accuracy 0.9312 val_loss ...` in a fixed order.
pub fn format_logs(logs: &EpochLogs) -> String {
    let order = ["loss", "ppl", "accuracy", "val_loss", "val_ppl", "val_accuracy", "test_loss", "test_ppl"];
    let mut parts: Vec<String> = order.iter().filter_map(|k| logs.get(k).map(|v| format!("{k} {v:.4}"))).collect();
    for (k, v) in &logs.values {
        if !order.contains(&k.as_str()) {
            parts.push(match k.as_str() {
                "lr" => format!("{k} {v:.2e}"),
                "seconds" => format!("{k} {v:.1}"),
                "tokens_per_sec" => format!("{k} {v:.0}"),
                _ => format!("{k} {v:.4}"),
            });
        }
    }
    parts.join("  ")
}
