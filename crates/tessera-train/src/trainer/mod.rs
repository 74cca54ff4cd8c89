//! [`Trainer`]: one training loop for every model, through a [`Task`].

mod backprop;
mod config;
mod distributed;
mod reducer;
mod supervised;
mod task;

pub use backprop::Backprop;
pub(crate) use config::end_epoch;
pub use config::{format_logs, FitConfig, History, Validation};
pub(crate) use distributed::{shard_eval, shard_rows, RowBatch};
pub use distributed::{DataParallel, Shard};
pub use supervised::{evaluate, Evaluation, LossFn, Supervised};
pub use task::{evaluate_task, Batches, BoxedBatches, FitData, FitPlan, Metrics, Pass, Step, Task};

use crate::callbacks::{Callback, Control, EpochLogs, TrainContext};
use crate::optim::Optimizer;
use crate::progress::Progress;
use crate::run_dir::RunDir;
use crate::{Error, Result};
use std::time::Instant;
use task::{evaluation_means, Means};
use tessera_autograd::{AutocastGuard, Precision};

/// Trains a model with an optimizer, through a [`Task`] (a batch in, a loss and metrics out):
/// epochs with a progress display, evaluation sets after each epoch, callbacks (early stopping,
/// checkpoints, schedules), a run folder, and resuming from a checkpoint's epoch.
///
/// [`Trainer::new`] trains a model on examples with a loss ([`Supervised`], Keras'
/// `compile` + `fit`); [`Trainer::with_task`] trains through any task, e.g. a language model
/// with truncated backpropagation through time ([`LmTask`](crate::lm::LmTask)). The explicit
/// loop stays one call away: [`Trainer::train_step`] does forward, loss, backward and the
/// optimizer step for one batch.
pub struct Trainer<T: Task> {
    task: T,
    optimizer: Optimizer,
    callbacks: Vec<Box<dyn Callback>>,
    run_dir: Option<RunDir>,
    dist: Option<DataParallel>,
    precision: Precision,
}

impl<T: Task> Trainer<T> {
    /// A trainer for `task` with `optimizer` (built over the task's module's parameters).
    pub fn with_task(task: T, optimizer: Optimizer) -> Self {
        Trainer { task, optimizer, callbacks: Vec::new(), run_dir: None, dist: None, precision: Precision::F32 }
    }

    /// Trains data-parallel in the job `dp`'s communicator joins (a
    /// [`Communicator`](tessera_dist::Communicator) converts into one with default buckets):
    /// [`Trainer::fit`] checks that every process built the same model and starts from rank
    /// 0's parameters, each process takes its [`Shard`] of every global batch, gradients are
    /// averaged over the processes (bucketed all-reduce) before each step, and the epoch's
    /// training metrics are means over all processes' examples. Only rank 0 shows progress and
    /// logs and records epochs in the run folder; give the other ranks no run folder and no
    /// callbacks that write files.
    pub fn distributed(mut self, dp: impl Into<DataParallel>) -> Self {
        self.dist = Some(dp.into());
        self
    }

    /// Trains (and evaluates) in `precision`: with bf16 or f16 the task's forward runs inside
    /// an autocast scope (products in the low precision, everything else and the parameters
    /// in f32: see [`Precision`]). f16 also scales the loss dynamically when the optimizer does
    /// not already ([`Optimizer::scale_loss_for`], PyTorch's `GradScaler`): steps whose
    /// gradients overflow are skipped.
    pub fn precision(mut self, precision: Precision) -> Self {
        self.optimizer.scale_loss_for(precision);
        self.precision = precision;
        self
    }

    /// The precision it trains in.
    pub fn training_precision(&self) -> Precision {
        self.precision
    }

    /// The data-parallel settings, when distributed.
    pub fn data_parallel(&self) -> Option<&DataParallel> {
        self.dist.as_ref()
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

    /// The task.
    pub fn task(&self) -> &T {
        &self.task
    }

    /// The task, mutably.
    pub fn task_mut(&mut self) -> &mut T {
        &mut self.task
    }

    /// The optimizer.
    pub fn optimizer(&self) -> &Optimizer {
        &self.optimizer
    }

    /// The optimizer, mutably (to load a checkpoint's state).
    pub fn optimizer_mut(&mut self) -> &mut Optimizer {
        &mut self.optimizer
    }

    /// One optimizer step on `batch`: the task's forward and loss, backward (see
    /// [`Task::forward_backward`]), the step. Returns the loss value and the task's step
    /// (metrics, weight). A loss that is not finite is returned without a step; with loss
    /// scaling, so are gradients that overflowed (see [`Optimizer::with_loss_scaling`]).
    ///
    /// Distributed, the gradients are first averaged over the processes (weighted by their
    /// steps' weights), and the returned loss is this process's unless the loss is not finite
    /// on some process (then NaN on every one, and no process steps).
    ///
    /// The other threads of the calling rayon pool spin for work during the step
    /// ([`KeepWarm`](tessera_tensor::KeepWarm)) instead of sleeping between its kernels.
    pub fn train_step(&mut self, batch: &T::Batch) -> Result<(f64, Step)> {
        let _warm = tessera_tensor::KeepWarm::new();
        self.optimizer.zero_grad();
        let scale = self.optimizer.loss_scale();
        let task = &mut self.task;
        let _cast = AutocastGuard::new(self.precision);
        let (value, step) = match &self.dist {
            Some(dp) if dp.communicator().world() > 1 => {
                let ((value, step), global) =
                    dp.step(self.optimizer.params(), scale, |bp| task.forward_backward(batch, bp))?;
                (if global.is_finite() { value } else { global }, step)
            }
            _ => task.forward_backward(batch, &Backprop::local(scale))?,
        };
        drop(_cast);
        if value.is_finite() {
            self.optimizer.step()?;
        }
        Ok((value, step))
    }

    /// The metrics of the task over `batches`, in evaluation mode and without recording (the
    /// module goes back to training mode after), in the trainer's precision.
    pub fn evaluate_on(&mut self, batches: &dyn Batches<Batch = T::Batch>, top_k: Option<usize>) -> Result<Metrics> {
        Ok(self.evaluation_means(batches, top_k)?.finish(&self.task))
    }

    /// The metrics of the task over `batches`, as [`evaluate_on`](Trainer::evaluate_on); in a
    /// data-parallel trainer of several processes, every process must call it: rank 0's
    /// parameters are copied to every rank first (rank 0 alone may have restored its best
    /// epoch's at the end of `fit`), each evaluates its rows of every batch, and the sums are
    /// added, so every rank gets the whole set's metrics.
    pub(crate) fn evaluate_rows<B>(&mut self, batches: B, top_k: Option<usize>) -> Result<Metrics>
    where
        B: Batches<Batch = T::Batch> + 'static,
        T::Batch: RowBatch,
    {
        let shard = match &self.dist {
            Some(dp) if dp.communicator().world() > 1 => {
                dp.sync_parameters(self.task.module())?;
                dp.shard()
            }
            _ => return self.evaluate_on(&batches, top_k),
        };
        self.evaluate_summed(shard_eval(batches, shard).as_ref(), top_k)
    }

    /// [`evaluate_on`](Trainer::evaluate_on) with the processes' sums added first in a
    /// data-parallel trainer (each process evaluated its rows of the set, or all of it: the
    /// means are then those of one process).
    fn evaluate_summed(&mut self, batches: &dyn Batches<Batch = T::Batch>, top_k: Option<usize>) -> Result<Metrics> {
        let mut means = self.evaluation_means(batches, top_k)?;
        if let Some(dp) = &self.dist {
            dp.reduce_means(&mut means)?;
        }
        Ok(means.finish(&self.task))
    }

    /// [`evaluate_on`](Trainer::evaluate_on)'s sums, before the means are taken.
    fn evaluation_means(&mut self, batches: &dyn Batches<Batch = T::Batch>, top_k: Option<usize>) -> Result<Means> {
        self.task.module().set_training(false);
        let result = {
            let _cast = AutocastGuard::new(self.precision);
            evaluation_means(&mut self.task, batches, top_k)
        };
        self.task.module().set_training(true);
        result
    }

    /// Trains for `cfg.epochs` epochs (or until a callback stops it), reporting `loss` and the
    /// task's metrics, then every evaluation set's (`val_loss`, ...), `lr`, the optimizer's
    /// `penalty` when it has L1/L2 penalties, and `seconds` every epoch.
    pub fn fit<D: FitData<Batch = T::Batch>>(&mut self, data: &D, cfg: &FitConfig) -> Result<History> {
        self.fit_from(data, cfg, 0)
    }

    /// Resumes training after `done` completed epochs (e.g. from a checkpoint's epoch): runs
    /// epochs `done + 1 ..= cfg.epochs` with the data order (and, for tasks that reseed, the
    /// random draws) an unbroken run would use. With a run folder reopened by
    /// [`RunDir::resume`], the callbacks first replay its recorded epochs (best values, epochs
    /// without improvement, plateau schedules), and a run that had stopped early trains no more.
    pub fn fit_from<D: FitData<Batch = T::Batch>>(
        &mut self,
        data: &D,
        cfg: &FitConfig,
        done: usize,
    ) -> Result<History> {
        let sharded;
        let cfg = match &self.dist {
            Some(dp) => {
                if dp.communicator().world() > 1 && !data.shards() {
                    return Err(distributed::not_shardable(dp.communicator().world()));
                }
                dp.sync_parameters(self.task.module())?;
                dp.sync_optimizer(&mut self.optimizer)?;
                // Each process draws its rows' part of the masks the whole batch would get.
                let shard = dp.shard();
                self.task.module().share_dropout(shard.rank, shard.world)?;
                let root = dp.communicator().is_root();
                sharded = FitConfig { shard: dp.shard(), progress: cfg.progress && root, ..cfg.clone() };
                &sharded
            }
            None => cfg,
        };
        let root = self.dist.as_ref().is_none_or(|dp| dp.communicator().is_root());
        let plan = data.plan(cfg)?;
        let mut history = History::default();
        let replayed = self.run_dir.as_ref().map(|run| run.history()).unwrap_or_default();
        let mut stopped = false;
        for logs in replayed.iter().filter(|l| l.epoch <= done) {
            stopped = false;
            for cb in &mut self.callbacks {
                stopped |= cb.replay(logs)? == Control::Stop;
            }
        }
        if let Some(dp) = &self.dist {
            // Only rank 0 has the run folder to replay: every rank follows its verdict.
            stopped = dp.any(stopped)?;
        }
        history.stopped_early = stopped;
        self.task.module().set_training(true);
        for epoch in (done + 1..=cfg.epochs).take_while(|_| !stopped) {
            let started = Instant::now();
            let (values, weight) = self.train_epoch(plan.train.as_ref(), epoch, cfg)?;
            let train_secs = started.elapsed().as_secs_f64();
            let mut logs = EpochLogs { epoch, values };
            for (name, batches) in &plan.eval {
                for (k, v) in self.evaluate_summed(batches.as_ref(), cfg.top_k)? {
                    logs.values.insert(format!("{name}_{k}"), v);
                }
            }
            logs.values.insert("lr".into(), self.optimizer.learning_rate());
            if self.optimizer.has_penalty() {
                // The L1/L2 penalties' value at the epoch's end (the loss does not include it).
                logs.values.insert("penalty".into(), self.optimizer.penalty_value()?);
            }
            if let Some(name) = T::THROUGHPUT {
                logs.values.insert(name.into(), weight / train_secs.max(1e-9));
            }
            logs.values.insert("seconds".into(), started.elapsed().as_secs_f64());
            if let Some(dp) = &self.dist {
                // Nothing of an epoch whose gradients NCCL failed to reduce may be recorded.
                dp.communicator().check_health()?;
            }
            let mut stop = end_epoch(
                &logs,
                cfg.progress.then_some(cfg.epochs),
                &mut self.callbacks,
                self.run_dir.as_mut().filter(|_| root),
                &mut TrainContext { model: self.task.module(), optimizer: &mut self.optimizer },
            )?;
            if let Some(dp) = &self.dist {
                // Every process stops together, and goes on at rank 0's learning rate.
                stop = dp.any(stop)?;
                dp.sync_learning_rate(&mut self.optimizer)?;
            }
            history.epochs.push(logs);
            if stop {
                history.stopped_early = epoch < cfg.epochs;
                break;
            }
        }
        if self.dist.is_some() {
            self.task.module().share_dropout(0, 1)?;
        }
        let mut ctx = TrainContext { model: self.task.module(), optimizer: &mut self.optimizer };
        for cb in &mut self.callbacks {
            cb.on_train_end(&mut ctx)?;
        }
        Ok(history)
    }

    /// One training epoch: its metrics and the total weight of its batches.
    fn train_epoch(
        &mut self,
        batches: &dyn Batches<Batch = T::Batch>,
        epoch: usize,
        cfg: &FitConfig,
    ) -> Result<(Metrics, f64)> {
        self.task.begin(Pass::Train { epoch, seed: cfg.seed });
        let label = format!("epoch {epoch}/{}", cfg.epochs);
        let mut progress = cfg.progress.then(|| Progress::new(label, batches.batches_per_epoch()).unit(T::UNIT));
        let mut means = Means::default();
        for (i, batch) in batches.epoch(epoch - 1).enumerate() {
            let (loss, step) = self.train_step(&batch?)?;
            if !loss.is_finite() {
                return Err(Error::NonFiniteLoss { value: loss, epoch, step: i + 1 });
            }
            means.add(loss, &step);
            // The optimizer's count survives a checkpoint: per-step schedules resume where they were.
            let steps = self.optimizer.steps() as usize;
            let mut ctx = TrainContext { model: self.task.module(), optimizer: &mut self.optimizer };
            for cb in &mut self.callbacks {
                cb.on_batch_end(steps, &mut ctx)?;
            }
            if let Some(p) = progress.as_mut() {
                p.update(i + 1, means.weight() as usize, means.loss());
            }
        }
        if let Some(p) = &progress {
            p.finish();
        }
        if let Some(dp) = &self.dist {
            dp.reduce_means(&mut means)?;
        }
        Ok((means.finish(&self.task), means.weight()))
    }
}
