//! Training a [`Gpt`] as nanoGPT does: random windows of the token stream, iterations counted
//! in evaluation intervals (the trainer's epochs), gradients accumulated over micro-batches.

use super::model::Gpt;
use crate::metrics;
use crate::optim::{matrices_and_embeddings, Adam, Clip, Optimizer, OptimizerKind};
use crate::rng::SplitMix;
use crate::trainer::{
    shard_eval, shard_rows, Backprop, Batches, FitConfig, FitData, FitPlan, Metrics, Pass, RowBatch, Step, Task,
};
use crate::{Error, Result};
use std::ops::Range;
use tessera_autograd::Var;
use tessera_nn::loss::{cross_entropy, CrossEntropy};
use tessera_nn::Module;
use tessera_tensor::{Device, Tensor};

/// One optimizer step's data: `grad_accum` micro-batches of `batch_size` windows, each window
/// `block_size` input ids and the same ids shifted by one as targets.
#[derive(Debug, Clone)]
pub struct GptBatch {
    /// Per micro-batch: inputs `[batch_size, block_size]` and targets, row-major, as flat ids.
    pub micro: Vec<(Vec<u32>, Vec<u32>)>,
    /// Windows per micro-batch.
    pub batch_size: usize,
    /// Positions per window.
    pub block_size: usize,
}

/// The token streams and nanoGPT's schedule of a run: `iters` optimizer steps in intervals of
/// `eval_interval` (each interval is one of the trainer's epochs), evaluated on `eval_iters`
/// batches of each split.
#[derive(Debug, Clone)]
pub struct GptData {
    /// Training ids (nanoGPT: the first 90% of the stream).
    pub train: Vec<u32>,
    /// Validation ids (the last 10%).
    pub val: Vec<u32>,
    /// Positions per window: the model's context length at most.
    pub block_size: usize,
    /// Optimizer steps in all.
    pub iters: usize,
    /// Steps between evaluations.
    pub eval_interval: usize,
    /// Batches per evaluation of each split.
    pub eval_iters: usize,
    /// Micro-batches per optimizer step.
    pub grad_accum: usize,
}

impl GptData {
    /// The trainer's epochs for this schedule: intervals of `eval_interval` steps, the last one
    /// possibly shorter.
    pub fn intervals(&self) -> usize {
        self.iters.div_ceil(self.eval_interval.max(1))
    }
}

/// Random windows of one split: batch `b` of pass `p` comes from a generator seeded with the
/// run's seed, the pass and the split alone, so a resumed run draws what an unbroken one did.
struct RandomWindows {
    ids: Vec<u32>,
    batch_size: usize,
    block_size: usize,
    grad_accum: usize,
    batches: Box<dyn Fn(usize) -> usize + Send + Sync>,
    seed: u64,
    stream: u64,
}

impl Batches for RandomWindows {
    type Batch = GptBatch;

    fn batches_per_epoch(&self) -> usize {
        (self.batches)(0)
    }

    fn epoch(&self, index: usize) -> Box<dyn Iterator<Item = Result<GptBatch>> + '_> {
        let mut rng = SplitMix::new(self.seed ^ (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15), self.stream);
        let (bs, t) = (self.batch_size, self.block_size);
        let starts = self.ids.len() - t;
        Box::new((0..(self.batches)(index)).map(move |_| {
            let micro = (0..self.grad_accum)
                .map(|_| {
                    let (mut x, mut y) = (Vec::with_capacity(bs * t), Vec::with_capacity(bs * t));
                    for _ in 0..bs {
                        let s = rng.below(starts);
                        x.extend_from_slice(&self.ids[s..s + t]);
                        y.extend_from_slice(&self.ids[s + 1..s + t + 1]);
                    }
                    (x, y)
                })
                .collect();
            Ok(GptBatch { micro, batch_size: bs, block_size: t })
        }))
    }
}

/// Training batches of `cfg.batch_size` windows per micro-batch, drawn anew each interval, and
/// evaluation sets `val` and `train` of `eval_iters` fixed batches each.
impl FitData for GptData {
    type Batch = GptBatch;

    fn plan(&self, cfg: &FitConfig) -> Result<FitPlan<GptBatch>> {
        let t = self.block_size;
        for (what, ids) in [("training", &self.train), ("validation", &self.val)] {
            if ids.len() <= t {
                return Err(Error::Config(format!(
                    "the {what} split has {} tokens: too few for windows of block size {t}",
                    ids.len()
                )));
            }
        }
        if t == 0 || cfg.batch_size == 0 || self.grad_accum == 0 || self.eval_interval == 0 {
            return Err(Error::Config(format!(
                "block size {t}, batch size {}, gradient accumulation {} and evaluation interval {} must be positive",
                cfg.batch_size, self.grad_accum, self.eval_interval
            )));
        }
        let (iters, interval) = (self.iters, self.eval_interval);
        let windows =
            |ids: &Vec<u32>, accum, batches: Box<dyn Fn(usize) -> usize + Send + Sync>, stream| RandomWindows {
                ids: ids.clone(),
                batch_size: cfg.batch_size,
                block_size: t,
                grad_accum: accum,
                batches,
                seed: cfg.seed,
                stream,
            };
        let train = windows(
            &self.train,
            self.grad_accum,
            Box::new(move |i| interval.min(iters - (i * interval).min(iters))),
            1,
        );
        // Each process of a data-parallel run takes its windows of every micro-batch.
        let train = shard_rows(train, cfg.batch_size, cfg.shard)?;
        let eval_iters = self.eval_iters;
        // Each process evaluates its windows of every evaluation batch.
        let eval = vec![
            ("val".to_string(), shard_eval(windows(&self.val, 1, Box::new(move |_| eval_iters), 2), cfg.shard)),
            ("train".to_string(), shard_eval(windows(&self.train, 1, Box::new(move |_| eval_iters), 3), cfg.shard)),
        ];
        Ok(FitPlan { train, eval })
    }

    fn shards(&self) -> bool {
        true
    }
}

impl RowBatch for GptBatch {
    fn rows(&self) -> usize {
        self.batch_size
    }

    fn take_rows(&self, rows: Range<usize>) -> Result<GptBatch> {
        let t = self.block_size;
        let cut = |ids: &[u32]| ids[rows.start * t..rows.end * t].to_vec();
        let micro = self.micro.iter().map(|(x, y)| (cut(x), cut(y))).collect();
        Ok(GptBatch { micro, batch_size: rows.len(), block_size: t })
    }
}

/// nanoGPT's optimizer for `model`: AdamW with betas `(0.9, beta2)` and decoupled weight decay
/// on matrices and embeddings only (none on biases and norm weights), clipping the gradients'
/// global L2 norm at `clip`.
pub fn nanogpt_optimizer(model: &Gpt, lr: f64, beta2: f64, weight_decay: f64, clip: f64) -> Result<Optimizer> {
    let adamw = Adam { lr, betas: (0.9, beta2), weight_decay, ..Adam::adamw() };
    Optimizer::new(model.parameters(), OptimizerKind::Adam(adamw))?
        .with_decay_only(matrices_and_embeddings)
        .with_clip(Clip::GlobalNorm(clip))
}

/// Next-token prediction with a [`Gpt`] over [`GptData`]'s windows. Each training interval
/// reseeds the dropout masks from the run's seed and the interval, so a resumed run draws the
/// masks an unbroken one does. Metrics: `loss` (mean cross-entropy per token, nats), `ppl`.
pub struct GptTask<'m> {
    model: &'m Gpt,
}

impl<'m> GptTask<'m> {
    /// The task of training `model`.
    pub fn new(model: &'m Gpt) -> Self {
        GptTask { model }
    }

    /// The mean loss of one micro-batch, recorded.
    fn micro_loss(&self, batch: &GptBatch, (x, y): &(Vec<u32>, Vec<u32>)) -> Result<Var> {
        let device = self.model.device();
        let shape = [batch.batch_size, batch.block_size];
        let x = Tensor::from_vec(x.clone(), shape, &Device::Cpu)?.to_device(device)?;
        let y = Tensor::from_vec(y.clone(), [x.elem_count()], &Device::Cpu)?.to_device(device)?;
        let logits = self.model.forward_ids(&x)?;
        let logits = logits.reshape([x.elem_count(), self.model.config().vocab])?;
        Ok(cross_entropy(&logits, &Var::constant(y), &CrossEntropy::default())?)
    }
}

impl Task for GptTask<'_> {
    type Batch = GptBatch;
    const UNIT: &'static str = "tok";
    const THROUGHPUT: Option<&'static str> = Some("tokens_per_sec");

    fn module(&self) -> &dyn Module {
        self.model
    }

    fn begin(&mut self, pass: Pass) {
        if let Pass::Train { epoch, seed } = pass {
            self.model.reseed_dropout(seed.wrapping_add(epoch as u64));
        }
    }

    fn step(&mut self, batch: &GptBatch) -> Result<Step> {
        let mut total: Option<Var> = None;
        for micro in &batch.micro {
            let l = self.micro_loss(batch, micro)?;
            total = Some(match total {
                Some(t) => t.add(&l)?,
                None => l,
            });
        }
        let loss = total.ok_or_else(|| Error::Config("a GPT batch without micro-batches".into()))?;
        let tokens = (batch.micro.len() * batch.batch_size * batch.block_size) as f64;
        Ok(Step { loss: loss.scale(1.0 / batch.micro.len() as f64)?, weight: tokens, metrics: Vec::new() })
    }

    /// One backward per micro-batch, each of the loss over the number of micro-batches: the
    /// gradients of the mean loss, with one micro-batch's graph alive at a time. Only the last
    /// one communicates in data-parallel training.
    fn forward_backward(&mut self, batch: &GptBatch, backprop: &Backprop<'_>) -> Result<(f64, Step)> {
        let n = batch.micro.len() as f64;
        let tokens = n * (batch.batch_size * batch.block_size) as f64;
        let mut sum = 0.0;
        for (i, micro) in batch.micro.iter().enumerate() {
            let l = self.micro_loss(batch, micro)?;
            let value = l.tensor().to_scalar_f64()?;
            if !value.is_finite() {
                return Ok((value, Step { loss: l, weight: 0.0, metrics: Vec::new() }));
            }
            let mean_part = l.scale(1.0 / n)?;
            if i + 1 == batch.micro.len() {
                backprop.backward(&mean_part, tokens)?;
            } else {
                backprop.accumulate(&mean_part)?;
            }
            sum += value;
        }
        let mean = sum / n;
        let loss = Var::constant(Tensor::full(mean, (), tessera_tensor::DType::F64, &Device::Cpu)?);
        Ok((mean, Step { loss, weight: tokens, metrics: Vec::new() }))
    }

    fn derived(&self, metrics: &mut Metrics) {
        if let Some(&loss) = metrics.get("loss") {
            metrics.insert("ppl".into(), metrics::perplexity(loss));
        }
    }
}

/// Perplexity of `model` on the token stream `ids`, and the number of tokens predicted: the
/// stream is cut into consecutive non-overlapping windows of the context length (the last one
/// kept when it has at least 2 tokens); inside a window each token after the first is
/// predicted from the ones before it; perplexity is `exp` of the mean negative
/// log-likelihood over every predicted token. Runs in evaluation mode without recording a graph,
/// and puts the model back in training mode.
pub fn perplexity(model: &Gpt, ids: &[u32]) -> Result<(f64, usize)> {
    let block = model.config().block_size;
    let vocab = model.config().vocab;
    if let Some(&bad) = ids.iter().find(|&&id| id as usize >= vocab) {
        return Err(Error::Config(format!("token id {bad} is out of range for the model's vocabulary of {vocab}")));
    }
    model.set_training(false);
    let result = tessera_autograd::no_grad(|| -> Result<(f64, usize)> {
        let (mut nll, mut predicted) = (0.0, 0usize);
        for window in ids.chunks(block).filter(|w| w.len() >= 2) {
            let x = Tensor::from_vec(window.to_vec(), [1, window.len()], &Device::Cpu)?.to_device(model.device())?;
            let logits = model.forward_ids(&x)?.reshape([window.len(), vocab])?.narrow(0, 0, window.len() - 1)?;
            let y =
                Tensor::from_vec(window[1..].to_vec(), [window.len() - 1], &Device::Cpu)?.to_device(model.device())?;
            let loss = cross_entropy(&logits, &Var::constant(y), &CrossEntropy::default())?;
            nll += loss.tensor().to_scalar_f64()? * (window.len() - 1) as f64;
            predicted += window.len() - 1;
        }
        if predicted == 0 {
            return Err(Error::Config(format!("{} tokens: nothing to predict (a window needs 2)", ids.len())));
        }
        Ok(((nll / predicted as f64).exp(), predicted))
    });
    model.set_training(true);
    result
}
