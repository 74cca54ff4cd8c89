//! Training a language model with truncated backpropagation through time: the [`LmTask`] that
//! [`Trainer`] runs, the token splits it trains on, and perplexity.

use super::model::LstmLm;
use crate::metrics::perplexity;
use crate::trainer::{
    evaluate_task, shard_eval, shard_rows, Batches, FitConfig, FitData, FitPlan, Metrics, Pass, RowBatch, Step, Task,
    Trainer,
};
use crate::{Error, Result};
use std::ops::Range;
use tessera_autograd::Var;
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

/// Next-token prediction with an [`LstmLm`] over token-stream windows: the stream is cut into
/// rows walked a window at a time ([`StreamBatches`]), and the LSTM state is carried from one
/// window to the next but cut from the graph (truncated backpropagation through time). Each
/// pass starts from a zero state; each training epoch reseeds the dropout masks from the run's
/// seed and the epoch, so a resumed run draws the masks an unbroken run draws.
///
/// Its metrics are `loss` (mean cross-entropy per token, in nats) and `ppl` (perplexity), and
/// `tokens_per_sec` for training.
pub struct LmTask<'m> {
    model: &'m LstmLm,
    state: Option<LstmState>,
}

impl<'m> LmTask<'m> {
    /// The task of training `model`.
    pub fn new(model: &'m LstmLm) -> Self {
        LmTask { model, state: None }
    }
}

/// A window's ids as tensors on `device`: inputs `[batch, len]` and time-major targets
/// `[len * batch]`.
fn window_tensors(w: &StreamBatch, device: &Device) -> Result<(Tensor, Var)> {
    let input = Tensor::from_vec(w.input.clone(), w.shape, &Device::Cpu)?.to_device(device)?;
    let target = Tensor::from_vec(w.target.clone(), w.shape, &Device::Cpu)?;
    let target = LstmLm::time_major_targets(&target)?.to_device(device)?;
    Ok((input, Var::constant(target)))
}

impl Task for LmTask<'_> {
    type Batch = StreamBatch;
    const UNIT: &'static str = "tok";
    const THROUGHPUT: Option<&'static str> = Some("tokens_per_sec");

    fn module(&self) -> &dyn Module {
        self.model
    }

    fn begin(&mut self, pass: Pass) {
        self.state = None;
        if let Pass::Train { epoch, seed } = pass {
            self.model.reseed_dropout(seed.wrapping_add(epoch as u64));
        }
    }

    fn step(&mut self, window: &StreamBatch) -> Result<Step> {
        let (input, target) = window_tensors(window, self.model.device())?;
        let (logits, state) = self.model.forward_ids(&input, self.state.as_ref())?;
        self.state = Some(state.detach());
        let loss = cross_entropy(&logits, &target, &CrossEntropy::default())?;
        Ok(Step { loss, weight: window.input.len() as f64, metrics: Vec::new() })
    }

    fn derived(&self, metrics: &mut Metrics) {
        if let Some(&loss) = metrics.get("loss") {
            metrics.insert("ppl".into(), perplexity(loss));
        }
    }
}

/// The windows of `ids` (`what` names the split in errors).
fn windows(what: &str, ids: &[u32], rows: usize, seq_len: usize) -> Result<StreamBatches> {
    StreamBatches::new(ids, rows, seq_len)
        .map_err(|e| Error::Config(format!("{what} split of {} tokens: {e}", ids.len())))
}

impl Batches for StreamBatches {
    type Batch = StreamBatch;

    fn batches_per_epoch(&self) -> usize {
        self.num_batches()
    }

    fn epoch(&self, _index: usize) -> Box<dyn Iterator<Item = Result<StreamBatch>> + '_> {
        Box::new(self.clone().map(Ok))
    }
}

/// Training windows of `cfg.batch_size` rows and `cfg.seq_len` steps; the validation and test
/// tokens (when there are any) as evaluation sets `val` and `test` of `cfg.eval_batch_size`
/// rows (default 10). Tokens that do not fill the last row are left out.
impl FitData for LmSplits {
    type Batch = StreamBatch;

    fn plan(&self, cfg: &FitConfig) -> Result<FitPlan<StreamBatch>> {
        let train = windows("training", &self.train, cfg.batch_size, cfg.seq_len)?;
        // Each process of a data-parallel run takes its rows (streams) of every window.
        let train = shard_rows(train, cfg.batch_size, cfg.shard)?;
        let rows = cfg.eval_batch_size.unwrap_or(10);
        let mut eval = Vec::new();
        for (name, ids) in [("val", &self.val), ("test", &self.test)] {
            if !ids.is_empty() {
                // Each process evaluates its rows (streams) of every window.
                eval.push((name.to_string(), shard_eval(windows("evaluation", ids, rows, cfg.seq_len)?, cfg.shard)));
            }
        }
        Ok(FitPlan { train, eval })
    }

    fn shards(&self) -> bool {
        true
    }
}

impl RowBatch for StreamBatch {
    fn rows(&self) -> usize {
        self.shape[0]
    }

    fn take_rows(&self, rows: Range<usize>) -> Result<StreamBatch> {
        let len = self.shape[1];
        let cut = |ids: &[u32]| ids[rows.start * len..rows.end * len].to_vec();
        Ok(StreamBatch { input: cut(&self.input), target: cut(&self.target), shape: [rows.len(), len] })
    }
}

/// Mean cross-entropy per token of `model` on `ids` (natural log; its `exp` is the perplexity),
/// without recording a graph, the state carried across `seq_len` windows of `batch` rows. The
/// model's mode (training or evaluation) is left as it is.
pub fn evaluate(model: &LstmLm, ids: &[u32], batch: usize, seq_len: usize) -> Result<f64> {
    let m = evaluate_task(&mut LmTask::new(model), &windows("evaluation", ids, batch, seq_len)?, None)?;
    Ok(m.get("loss").copied().unwrap_or(f64::NAN))
}

impl Trainer<LmTask<'_>> {
    /// Mean cross-entropy per token of the model on `ids` in evaluation mode, over windows of
    /// `cfg.eval_batch_size` rows (default 10) and `cfg.seq_len` steps. In a data-parallel
    /// trainer every process must call it, and each evaluates its rows (streams) of every
    /// window.
    pub fn evaluate(&mut self, ids: &[u32], cfg: &FitConfig) -> Result<f64> {
        let batches = windows("evaluation", ids, cfg.eval_batch_size.unwrap_or(10), cfg.seq_len)?;
        Ok(self.evaluate_rows(batches, None)?.get("loss").copied().unwrap_or(f64::NAN))
    }
}
