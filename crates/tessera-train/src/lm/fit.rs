//! Training a language model with truncated backpropagation through time.

use super::model::LstmLm;
use crate::callbacks::{Callback, EpochLogs, TrainContext};
use crate::metrics::{perplexity, RunningMean};
use crate::optim::Optimizer;
use crate::progress::Progress;
use crate::run_dir::RunDir;
use crate::trainer::end_epoch;
use crate::{Error, History, Result};
use std::time::Instant;
use tessera_autograd::{no_grad, Var};
use tessera_nn::loss::{cross_entropy, CrossEntropy};
use tessera_nn::{LstmState, Module};
use tessera_tensor::{Device, Tensor};
use tessera_text::{StreamBatch, StreamBatches};

/// Token ids of the three splits of a corpus.
#[derive(Debug, Clone, Default)]
pub struct LmSplits {
    /// Training tokens.
    pub train: Vec<u32>,
    /// Validation tokens (early stopping and checkpoints watch their perplexity).
    pub val: Vec<u32>,
    /// Test tokens.
    pub test: Vec<u32>,
}

/// How to train a language model.
#[derive(Debug, Clone, PartialEq)]
pub struct LmFitConfig {
    /// Passes over the training tokens.
    pub epochs: usize,
    /// Parallel streams the training tokens are cut into.
    pub batch_size: usize,
    /// Steps of backpropagation through time per optimizer step.
    pub seq_len: usize,
    /// Streams when evaluating.
    pub eval_batch_size: usize,
    /// Seed of the dropout masks (reseeded from it at every epoch start).
    pub seed: u64,
    /// Show a progress bar (or plain lines when not on a terminal).
    pub progress: bool,
}

impl Default for LmFitConfig {
    fn default() -> Self {
        LmFitConfig { epochs: 1, batch_size: 32, seq_len: 35, eval_batch_size: 10, seed: 0, progress: true }
    }
}

/// Trains an [`LstmLm`] on a token stream: the stream is cut into `batch_size` rows walked
/// `seq_len` steps at a time, the LSTM state is carried from one window to the next but cut
/// from the graph (truncated BPTT), gradients are clipped by the optimizer's [`Clip`]
/// (`crate::optim::Clip`), and every epoch reports `loss`/`ppl` on the training windows and
/// `val_loss`/`val_ppl`, `test_loss`/`test_ppl` on the held-out splits.
///
/// Callbacks are those of [`Trainer`](crate::Trainer): monitor `val_ppl` or `val_loss` for
/// early stopping and checkpoints.
pub struct LmTrainer<'m> {
    model: &'m LstmLm,
    optimizer: Optimizer,
    callbacks: Vec<Box<dyn Callback>>,
    run_dir: Option<RunDir>,
}

/// A window's ids as tensors on `device`: inputs `[batch, len]` and time-major targets
/// `[len * batch]`.
fn window_tensors(w: &StreamBatch, device: &Device) -> Result<(Tensor, Var)> {
    let input = Tensor::from_vec(w.input.clone(), w.shape, &Device::Cpu)?.to_device(device)?;
    let target = Tensor::from_vec(w.target.clone(), w.shape, &Device::Cpu)?;
    let target = LstmLm::time_major_targets(&target)?.to_device(device)?;
    Ok((input, Var::constant(target)))
}

impl<'m> LmTrainer<'m> {
    /// A trainer for `model` with `optimizer` (built over `model.parameters()`).
    pub fn new(model: &'m LstmLm, optimizer: Optimizer) -> Self {
        LmTrainer { model, optimizer, callbacks: Vec::new(), run_dir: None }
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

    /// One optimizer step on `window` from `state`: returns the mean cross-entropy and the
    /// state after the window, detached.
    pub fn train_step(&mut self, window: &StreamBatch, state: Option<&LstmState>) -> Result<(f64, LstmState)> {
        let device = *self.model.parameters()[0].1.device();
        let (input, target) = window_tensors(window, &device)?;
        let (logits, state) = self.model.forward_ids(&input, state)?;
        let loss = cross_entropy(&logits, &target, &CrossEntropy::default())?;
        let value = loss.tensor().to_scalar_f64()?;
        self.optimizer.zero_grad();
        if value.is_finite() {
            loss.backward()?;
            self.optimizer.step()?;
        }
        Ok((value, state.detach()))
    }

    /// Mean cross-entropy per token of the model on `ids` (natural log; its `exp` is the
    /// perplexity), in evaluation mode, with the state carried across windows. Tokens that do
    /// not fill the last of `cfg.eval_batch_size` rows are left out.
    pub fn evaluate(&self, ids: &[u32], cfg: &LmFitConfig) -> Result<f64> {
        self.model.set_training(false);
        let result = evaluate(self.model, ids, cfg.eval_batch_size, cfg.seq_len);
        self.model.set_training(true);
        result
    }

    /// Trains for `cfg.epochs` epochs or until a callback stops it.
    pub fn fit(&mut self, data: &LmSplits, cfg: &LmFitConfig) -> Result<History> {
        self.fit_from(data, cfg, 0)
    }

    /// Resumes after `done` completed epochs (e.g. a checkpoint's epoch): runs epochs
    /// `done + 1 ..= cfg.epochs`, drawing the dropout masks an unbroken run would draw.
    pub fn fit_from(&mut self, data: &LmSplits, cfg: &LmFitConfig, done: usize) -> Result<History> {
        let windows = StreamBatches::new(&data.train, cfg.batch_size, cfg.seq_len)
            .map_err(|e| Error::Config(format!("training split of {} tokens: {e}", data.train.len())))?;
        let mut history = History::default();
        self.model.set_training(true);
        for epoch in done + 1..=cfg.epochs {
            let started = Instant::now();
            self.model.reseed_dropout(cfg.seed.wrapping_add(epoch as u64));
            let label = format!("epoch {epoch}/{}", cfg.epochs);
            let mut progress = cfg.progress.then(|| Progress::new(label, windows.num_batches()).unit("tok"));
            let mut loss_mean = RunningMean::default();
            let (mut state, mut tokens) = (None, 0);
            for (step, window) in windows.clone().enumerate() {
                let (loss, next) = self.train_step(&window, state.as_ref())?;
                if !loss.is_finite() {
                    return Err(Error::NonFiniteLoss { value: loss, epoch, step: step + 1 });
                }
                state = Some(next);
                let n = window.input.len();
                loss_mean.add(loss, n as f64);
                tokens += n;
                if let Some(p) = progress.as_mut() {
                    p.update(step + 1, tokens, loss_mean.mean());
                }
            }
            if let Some(p) = &progress {
                p.finish();
            }
            let train_secs = started.elapsed().as_secs_f64();
            let mut logs = EpochLogs { epoch, ..Default::default() };
            let mut put = |k: &str, v: f64| logs.values.insert(k.into(), v);
            put("loss", loss_mean.mean());
            put("ppl", perplexity(loss_mean.mean()));
            for (name, ids) in [("val", &data.val), ("test", &data.test)] {
                if !ids.is_empty() {
                    let l = self.evaluate(ids, cfg)?;
                    put(&format!("{name}_loss"), l);
                    put(&format!("{name}_ppl"), perplexity(l));
                }
            }
            put("lr", self.optimizer.learning_rate());
            put("tokens_per_sec", tokens as f64 / train_secs.max(1e-9));
            put("seconds", started.elapsed().as_secs_f64());
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

/// Mean cross-entropy per token of `model` on `ids`, without recording a graph, the state
/// carried across `seq_len` windows of `batch` rows. The model's mode (training or evaluation)
/// is left as it is.
pub fn evaluate(model: &LstmLm, ids: &[u32], batch: usize, seq_len: usize) -> Result<f64> {
    let windows = StreamBatches::new(ids, batch, seq_len)
        .map_err(|e| Error::Config(format!("evaluation split of {} tokens: {e}", ids.len())))?;
    let device = *model.parameters()[0].1.device();
    let mut mean = RunningMean::default();
    no_grad(|| -> Result<()> {
        let mut state: Option<LstmState> = None;
        for w in windows {
            let (input, target) = window_tensors(&w, &device)?;
            let (logits, next) = model.forward_ids(&input, state.as_ref())?;
            let loss = cross_entropy(&logits, &target, &CrossEntropy::default())?;
            mean.add(loss.tensor().to_scalar_f64()?, w.input.len() as f64);
            state = Some(next);
        }
        Ok(())
    })?;
    Ok(mean.mean())
}
