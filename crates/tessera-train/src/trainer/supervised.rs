//! [`Supervised`]: the task of a model fitted to targets with a loss (a classifier, a
//! regression), on a [`TensorDataset`], and its evaluation.

use super::distributed::{shard_eval, RowBatch, ShardedLoader};
use super::task::{evaluate_task, Batches, FitData, FitPlan, Metrics, Pass, Step, Task};
use super::{FitConfig, Trainer, Validation};
use crate::data::{Batch, DataLoader, TensorDataset};
use crate::metrics::{accuracy, top_k_accuracy};
use crate::optim::Optimizer;
use crate::Result;
use std::sync::Arc;
use tessera_autograd::Var;
use tessera_nn::Module;

/// A loss: predictions and targets to a scalar.
pub type LossFn = Box<dyn Fn(&Var, &Var) -> tessera_nn::Result<Var> + Send + Sync>;

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

/// A model fitted to targets: `loss(model(inputs), targets)`, and the accuracy when the model
/// scores classes (`[n, classes]` against `[n]` integer targets), weighted by examples.
pub struct Supervised<'m, L = LossFn> {
    model: &'m dyn Module,
    loss: L,
    top_k: Option<usize>,
}

impl<'m, L> Supervised<'m, L>
where
    L: Fn(&Var, &Var) -> tessera_nn::Result<Var>,
{
    /// `model` with `loss`.
    pub fn new(model: &'m dyn Module, loss: L) -> Self {
        Supervised { model, loss, top_k: None }
    }
}

fn classes_of(pred: &Var, targets: &Var) -> bool {
    pred.rank() == 2 && targets.rank() == 1 && targets.tensor().dtype().is_int()
}

impl<L> Task for Supervised<'_, L>
where
    L: Fn(&Var, &Var) -> tessera_nn::Result<Var>,
{
    type Batch = Batch;

    fn module(&self) -> &dyn Module {
        self.model
    }

    fn begin(&mut self, pass: Pass) {
        self.top_k = match pass {
            Pass::Eval { top_k } => top_k,
            Pass::Train { epoch, seed } => {
                // Dropout masks follow the epoch, so a resumed run draws what an unbroken one does.
                self.model.reseed(seed.wrapping_add(epoch as u64));
                None
            }
        };
    }

    fn step(&mut self, batch: &Batch) -> Result<Step> {
        let (x, y) = (Var::constant(batch.inputs.clone()), Var::constant(batch.targets.clone()));
        let pred = self.model.forward(&x)?;
        let loss = (self.loss)(&pred, &y)?;
        let mut metrics = Vec::new();
        if classes_of(&pred, &y) {
            metrics.push(("accuracy".to_string(), accuracy(pred.tensor(), &batch.targets)?));
            if let Some(k) = self.top_k {
                metrics.push((format!("top{k}_accuracy"), top_k_accuracy(pred.tensor(), &batch.targets, k)?));
            }
        }
        Ok(Step { loss, weight: batch.len() as f64, metrics })
    }
}

impl Batches for DataLoader {
    type Batch = Batch;

    fn batches_per_epoch(&self) -> usize {
        DataLoader::batches_per_epoch(self)
    }

    fn epoch(&self, index: usize) -> Box<dyn Iterator<Item = Result<Batch>> + '_> {
        Box::new(DataLoader::epoch(self, index))
    }
}

/// Batches of `data` in order, prepared on the caller's thread (for evaluation).
fn in_order(data: &TensorDataset, batch_size: usize) -> Result<DataLoader> {
    Ok(DataLoader::new(Arc::new(data.clone()), batch_size)?.prefetch(0))
}

/// Shuffled with `cfg.seed` every epoch, augmented with `cfg.augment`, and validated as
/// `cfg.validation` says (an evaluation set named `val`).
impl FitData for TensorDataset {
    type Batch = Batch;

    fn plan(&self, cfg: &FitConfig) -> Result<FitPlan<Batch>> {
        let (train, val) = match &cfg.validation {
            Validation::None => (self.clone(), None),
            Validation::Split(f) => {
                let (t, v) = self.split(*f, cfg.seed)?;
                (t, Some(v))
            }
            Validation::Data(v) => (self.clone(), Some(v.clone())),
        };
        let mut loader = DataLoader::new(Arc::new(train), cfg.batch_size)?.shuffle(cfg.seed);
        if let Some(a) = &cfg.augment {
            loader = loader.augment(a.clone());
        }
        let eval_batch = cfg.eval_batch_size.unwrap_or(cfg.batch_size.max(256));
        // Every process walks the global batches and keeps its shard of each, and evaluates its
        // rows of every evaluation batch.
        let eval = match val {
            Some(v) => vec![("val".to_string(), shard_eval(in_order(&v, eval_batch)?, cfg.shard))],
            None => Vec::new(),
        };
        let train: Box<dyn Batches<Batch = Batch>> = if cfg.shard.world > 1 {
            if !cfg.batch_size.is_multiple_of(cfg.shard.world) {
                return Err(crate::Error::Config(format!(
                    "batch size {} is not divisible by the {} processes: the global batch is split evenly",
                    cfg.batch_size, cfg.shard.world
                )));
            }
            Box::new(ShardedLoader { loader, shard: cfg.shard })
        } else {
            Box::new(loader)
        };
        Ok(FitPlan { train, eval })
    }

    fn shards(&self) -> bool {
        true
    }
}

fn evaluation(m: &Metrics, top_k: Option<usize>) -> Evaluation {
    Evaluation {
        loss: m.get("loss").copied().unwrap_or(f64::NAN),
        accuracy: m.get("accuracy").copied(),
        top_k: top_k.and_then(|k| m.get(&format!("top{k}_accuracy")).copied()),
    }
}

/// Mean loss and accuracy of `model` on `data` without recording a graph (the model's mode is
/// left as it is).
pub fn evaluate(
    model: &dyn Module,
    loss_fn: &LossFn,
    data: &TensorDataset,
    batch_size: usize,
    top_k: Option<usize>,
) -> Result<Evaluation> {
    let m = evaluate_task(&mut Supervised::new(model, loss_fn), &in_order(data, batch_size)?, top_k)?;
    Ok(evaluation(&m, top_k))
}

impl<'m> Trainer<Supervised<'m>> {
    /// A trainer for `model` with `optimizer` (built over `model.parameters()`) and `loss`.
    pub fn new(model: &'m dyn Module, optimizer: Optimizer, loss: LossFn) -> Self {
        Trainer::with_task(Supervised::new(model, loss), optimizer)
    }

    /// Mean loss and accuracy of the model on `data`, in evaluation mode and without recording.
    /// In a data-parallel trainer every process must call it, and each evaluates its rows of
    /// every batch (see [`Trainer::distributed`]).
    pub fn evaluate(&mut self, data: &TensorDataset, batch_size: usize, top_k: Option<usize>) -> Result<Evaluation> {
        let m = self.evaluate_rows(in_order(data, batch_size)?, top_k)?;
        Ok(evaluation(&m, top_k))
    }
}

/// Examples are rows: evaluation sets are split across data-parallel processes by them.
impl RowBatch for Batch {
    fn rows(&self) -> usize {
        self.len()
    }

    fn take_rows(&self, rows: std::ops::Range<usize>) -> Result<Batch> {
        let take = |t: &tessera_tensor::Tensor| t.narrow(0, rows.start, rows.len());
        Ok(Batch { inputs: take(&self.inputs)?, targets: take(&self.targets)? })
    }
}
