//! What [`Trainer`](crate::Trainer) trains through: a [`Task`] turns a batch into a loss and
//! metrics, [`Batches`] are the batches of one pass over some data, and [`FitData`] is data that
//! cuts itself into training batches and evaluation sets.

use super::{Backprop, FitConfig};
use crate::metrics::RunningMean;
use crate::Result;
use std::collections::BTreeMap;
use tessera_autograd::{no_grad, Var};
use tessera_nn::Module;

/// Metric values by name (`loss`, `accuracy`, `ppl`, ...).
pub type Metrics = BTreeMap<String, f64>;

/// Which pass over data begins (see [`Task::begin`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// Training epoch `epoch` (from 1) of a run seeded `seed`.
    Train {
        /// The epoch, from 1.
        epoch: usize,
        /// The run's seed ([`FitConfig::seed`]).
        seed: u64,
    },
    /// An evaluation pass: no graph is recorded and the module is in evaluation mode.
    Eval {
        /// Also report top-k accuracy for this k, where the task has classes.
        top_k: Option<usize>,
    },
}

/// What a task makes of one batch.
pub struct Step {
    /// The loss, a scalar (still attached to the graph when training).
    pub loss: Var,
    /// What the batch counts for in the pass's means: examples, tokens.
    pub weight: f64,
    /// Other metrics of the batch (`accuracy`), averaged over the pass with the same weights.
    pub metrics: Vec<(String, f64)>,
}

/// How a model learns from a batch: a batch in, a loss and metrics out.
///
/// [`Trainer`](crate::Trainer) runs the loop around it (optimizer steps, epochs, evaluation,
/// callbacks, progress, the run folder, resuming). What belongs to the model stays here: a
/// classifier compares its predictions with the targets ([`Supervised`](crate::Supervised)); a
/// recurrent language model carries its state from one window to the next
/// ([`LmTask`](crate::lm::LmTask)).
pub trait Task {
    /// One batch of data.
    type Batch;
    /// What [`Step::weight`] counts, for the progress display (`ex`, `tok`).
    const UNIT: &'static str = "ex";
    /// The name of the throughput metric of each epoch (step weights per second of training),
    /// or `None` for none.
    const THROUGHPUT: Option<&'static str> = None;

    /// The module being trained: its parameters are what the optimizer steps, checkpoints save
    /// and early stopping restores.
    fn module(&self) -> &dyn Module;

    /// A pass over data begins: reset what is carried from batch to batch, reseed what must
    /// draw the same numbers when a run is resumed.
    fn begin(&mut self, _pass: Pass) {}

    /// The loss and metrics of `batch`; the graph is recorded unless the pass is an evaluation.
    fn step(&mut self, batch: &Self::Batch) -> Result<Step>;

    /// A training step's forward and backward: the gradients of `batch`'s loss added to the
    /// module's parameters through `backprop` (which scales the loss for f16 training, see
    /// [`LossScaling`](crate::optim::LossScaling), and in data-parallel training averages the
    /// gradients over the processes while backward runs), and the loss's value (unscaled). The
    /// default runs [`Task::step`] and one [`Backprop::backward`] (none when the loss is not
    /// finite); a task that accumulates gradients over micro-batches runs
    /// [`Backprop::accumulate`] for all but the last, so that only one micro-batch's graph is
    /// alive at a time.
    fn forward_backward(&mut self, batch: &Self::Batch, backprop: &Backprop<'_>) -> Result<(f64, Step)> {
        let step = self.step(batch)?;
        let value = step.loss.tensor().to_scalar_f64()?;
        if value.is_finite() {
            backprop.backward(&step.loss, step.weight)?;
        }
        Ok((value, step))
    }

    /// Adds metrics derived from a pass's means (perplexity from the loss).
    fn derived(&self, _metrics: &mut Metrics) {}
}

/// The batches of one pass over some data, in an order that depends only on the epoch.
pub trait Batches {
    /// One batch.
    type Batch;

    /// The number of batches in a pass.
    fn batches_per_epoch(&self) -> usize;

    /// The batches of epoch `index` (from 0), in order.
    fn epoch(&self, index: usize) -> Box<dyn Iterator<Item = Result<Self::Batch>> + '_>;
}

/// Batches of one kind, boxed.
pub type BoxedBatches<B> = Box<dyn Batches<Batch = B>>;

/// The batches one [`Trainer::fit`](crate::Trainer::fit) walks.
pub struct FitPlan<B> {
    /// The training batches of every epoch.
    pub train: BoxedBatches<B>,
    /// Evaluation sets, each evaluated after every epoch; their metrics are logged with the
    /// name as prefix (`val_loss`, `test_ppl`).
    pub eval: Vec<(String, BoxedBatches<B>)>,
}

/// Data that [`Trainer::fit`](crate::Trainer::fit) can train on: it cuts itself into training
/// batches and evaluation sets as the [`FitConfig`] says.
pub trait FitData {
    /// One batch.
    type Batch;

    /// The batches of a run with `cfg`.
    fn plan(&self, cfg: &FitConfig) -> Result<FitPlan<Self::Batch>>;

    /// Whether [`FitData::plan`] cuts the training batches to [`FitConfig::shard`] (for
    /// data-parallel training; data that cannot are refused in a world of several processes).
    fn shards(&self) -> bool {
        false
    }
}

/// Weighted means of the loss and metrics over a pass.
#[derive(Default)]
pub(crate) struct Means {
    loss: RunningMean,
    metrics: BTreeMap<String, RunningMean>,
    weight: f64,
}

impl Means {
    /// Adds a batch whose loss was `loss`.
    pub(crate) fn add(&mut self, loss: f64, step: &Step) {
        self.loss.add(loss, step.weight);
        for (name, value) in &step.metrics {
            self.metrics.entry(name.clone()).or_default().add(*value, step.weight);
        }
        self.weight += step.weight;
    }

    /// The mean loss so far.
    pub(crate) fn loss(&self) -> f64 {
        self.loss.mean()
    }

    /// The total weight so far (examples, tokens).
    pub(crate) fn weight(&self) -> f64 {
        self.weight
    }

    /// The names of the metrics besides the loss, in order.
    pub(crate) fn names(&self) -> Vec<&str> {
        self.metrics.keys().map(String::as_str).collect()
    }

    /// Adds metric `name` with nothing counted yet (so that a process that saw no batch lines
    /// its sums up with the others').
    pub(crate) fn declare(&mut self, name: &str) {
        self.metrics.entry(name.to_string()).or_default();
    }

    /// The loss's and every metric's weighted sum and weight, then the total weight, in a fixed
    /// order (to add up over processes).
    pub(crate) fn parts(&self) -> Vec<f64> {
        let mut v = Vec::with_capacity(2 * self.metrics.len() + 3);
        for m in std::iter::once(&self.loss).chain(self.metrics.values()) {
            let (s, w) = m.parts();
            v.extend([s, w]);
        }
        v.push(self.weight);
        v
    }

    /// Replaces the sums by `parts` (as [`Means::parts`] orders them).
    pub(crate) fn set_parts(&mut self, parts: &[f64]) {
        let mut it = parts.chunks_exact(2);
        for m in std::iter::once(&mut self.loss).chain(self.metrics.values_mut()) {
            if let Some(p) = it.next() {
                *m = RunningMean::from_parts(p[0], p[1]);
            }
        }
        if let Some(&w) = parts.last() {
            self.weight = w;
        }
    }

    /// The means, with the task's derived metrics.
    pub(crate) fn finish(&self, task: &impl Task) -> Metrics {
        let mut m: Metrics = self.metrics.iter().map(|(k, v)| (k.clone(), v.mean())).collect();
        m.insert("loss".into(), self.loss.mean());
        task.derived(&mut m);
        m
    }
}

/// One pass of `task` over `batches` without recording a graph: the weighted means of the loss
/// and of the task's metrics, and its derived metrics. The module's mode (training or
/// evaluation) is left as it is.
pub fn evaluate_task<T: Task>(
    task: &mut T,
    batches: &dyn Batches<Batch = T::Batch>,
    top_k: Option<usize>,
) -> Result<Metrics> {
    Ok(evaluation_means(task, batches, top_k)?.finish(task))
}

/// [`evaluate_task`]'s sums, before the means are taken.
pub(crate) fn evaluation_means<T: Task>(
    task: &mut T,
    batches: &dyn Batches<Batch = T::Batch>,
    top_k: Option<usize>,
) -> Result<Means> {
    task.begin(Pass::Eval { top_k });
    let mut means = Means::default();
    no_grad(|| -> Result<()> {
        for batch in batches.epoch(0) {
            let batch = batch?;
            // As in a training step: the pool's other threads spin between this batch's kernels.
            let _warm = tessera_tensor::KeepWarm::new();
            let step = task.step(&batch)?;
            means.add(step.loss.tensor().to_scalar_f64()?, &step);
        }
        Ok(())
    })?;
    Ok(means)
}
