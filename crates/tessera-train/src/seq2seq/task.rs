//! Training an encoder-decoder with teacher forcing (optionally scheduled sampling and label
//! smoothing), and scoring its greedy outputs on the evaluation sets: exact match and BLEU.

use super::batch::{Seq2seqBatch, Specials};
use super::decode::greedy;
use super::model::Seq2seq;
use crate::rng::SplitMix;
use crate::trainer::{Metrics, Pass, Step, Task};
use crate::Result;
use tessera_autograd::{no_grad, Var};
use tessera_nn::loss::{cross_entropy, CrossEntropy};
use tessera_nn::Module;
use tessera_tensor::{DType, Device, Tensor};

/// Turns target ids back into text (for BLEU).
pub type Detokenize = Box<dyn Fn(&[u32]) -> String + Send>;

/// How [`Seq2seqTask`] trains.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seq2seqOptions {
    /// Label smoothing of the cross-entropy (0 for none).
    pub label_smoothing: f64,
    /// Scheduled sampling: the probability that a decoder input (after `<bos>`) is the model's
    /// own previous prediction instead of the gold token (0: pure teacher forcing).
    pub sampling: f64,
    /// Tokens generated at most when the evaluation sets are decoded.
    pub max_len: usize,
}

impl Default for Seq2seqOptions {
    fn default() -> Self {
        Seq2seqOptions { label_smoothing: 0.0, sampling: 0.0, max_len: 100 }
    }
}

/// What an evaluation pass's greedy outputs added up to.
#[derive(Default)]
struct Tally {
    exact: usize,
    examples: usize,
    hypotheses: Vec<String>,
    references: Vec<String>,
}

/// Teacher-forced training of a [`Seq2seq`] model. Metrics: `loss` (cross-entropy per target
/// token, with smoothing when set), `token_accuracy` (teacher-forced); on evaluation sets also
/// `exact_match` and `bleu` (sacreBLEU's corpus BLEU) of greedy outputs. Each training epoch
/// reseeds the dropout masks and the scheduled-sampling draws from the run's seed and the
/// epoch, so a resumed run draws what an unbroken one did.
pub struct Seq2seqTask<'m, M: Seq2seq> {
    model: &'m M,
    specials: Specials,
    options: Seq2seqOptions,
    detokenize: Detokenize,
    rng: SplitMix,
    tally: Option<Tally>,
}

impl<'m, M: Seq2seq> Seq2seqTask<'m, M> {
    /// The task of training `model`; `detokenize` writes target ids as text for BLEU.
    pub fn new(model: &'m M, specials: Specials, options: Seq2seqOptions, detokenize: Detokenize) -> Self {
        Seq2seqTask { model, specials, options, detokenize, rng: SplitMix::new(0, 5), tally: None }
    }

    /// Decoder inputs where each token after `<bos>` is, with probability `sampling`, the
    /// model's own prediction at the previous position (from a teacher-forced pass without a
    /// graph), else the gold token.
    fn sampled_inputs(&mut self, memory: &M::Memory, batch: &Seq2seqBatch) -> Result<Tensor> {
        let gold = &batch.decoder_input;
        let predicted = no_grad(|| -> Result<Vec<u32>> {
            let logits = self.model.decode_teacher(memory, gold)?;
            Ok(logits.tensor().argmax(-1, false)?.to_dtype(DType::U32)?.to_vec::<u32>()?)
        })?;
        let mut ids = gold.to_vec::<u32>()?;
        let (rows, steps) = (gold.dims()[0], gold.dims()[1]);
        for r in 0..rows {
            for t in 1..steps.min(batch.targets[r].len() + 1) {
                if self.rng.unit() < self.options.sampling {
                    ids[r * steps + t] = predicted[r * steps + t - 1];
                }
            }
        }
        Ok(Tensor::from_vec(ids, [rows, steps], &Device::Cpu)?.to_device(gold.device())?)
    }

    /// The greedy outputs of `batch` counted into the tally.
    fn score_outputs(&mut self, batch: &Seq2seqBatch) -> Result<()> {
        let outputs = greedy(self.model, &batch.source, self.specials, self.options.max_len)?;
        let Some(tally) = self.tally.as_mut() else { return Ok(()) };
        for (hyp, target) in outputs.iter().zip(&batch.targets) {
            tally.exact += usize::from(&hyp.tokens == target);
            tally.examples += 1;
            tally.hypotheses.push((self.detokenize)(&hyp.tokens));
            tally.references.push((self.detokenize)(target));
        }
        Ok(())
    }
}

impl<M: Seq2seq> Task for Seq2seqTask<'_, M> {
    type Batch = Seq2seqBatch;
    const UNIT: &'static str = "tok";
    const THROUGHPUT: Option<&'static str> = Some("tokens_per_sec");

    fn module(&self) -> &dyn Module {
        self.model
    }

    fn begin(&mut self, pass: Pass) {
        match pass {
            Pass::Train { epoch, seed } => {
                let s = seed.wrapping_add(epoch as u64);
                self.model.reseed(s);
                self.rng = SplitMix::new(s, 5);
                self.tally = None;
            }
            Pass::Eval { .. } => self.tally = Some(Tally::default()),
        }
    }

    fn step(&mut self, batch: &Seq2seqBatch) -> Result<Step> {
        let memory = self.model.encode(&batch.source)?;
        let training = tessera_autograd::is_grad_enabled() && self.tally.is_none();
        let input = match training && self.options.sampling > 0.0 {
            true => self.sampled_inputs(&memory, batch)?,
            false => batch.decoder_input.clone(),
        };
        let logits = self.model.decode_teacher(&memory, &input)?;
        let (rows, steps) = (input.dims()[0], input.dims()[1]);
        let logits = logits.reshape([rows * steps, self.model.target_vocab()])?;
        let targets = batch.decoder_target.reshape([rows * steps])?;
        let options = CrossEntropy {
            ignore_index: Some(self.specials.pad as i64),
            label_smoothing: self.options.label_smoothing,
            ..CrossEntropy::default()
        };
        let loss = cross_entropy(&logits, &Var::constant(targets.clone()), &options)?;
        let accuracy = token_accuracy(logits.tensor(), &targets, self.specials.pad)?;
        if self.tally.is_some() {
            self.score_outputs(batch)?;
        }
        Ok(Step { loss, weight: batch.target_tokens() as f64, metrics: vec![("token_accuracy".into(), accuracy)] })
    }

    fn derived(&self, metrics: &mut Metrics) {
        let Some(tally) = &self.tally else { return };
        if tally.examples == 0 {
            return;
        }
        metrics.insert("exact_match".into(), tally.exact as f64 / tally.examples as f64);
        if let Ok(bleu) = tessera_text::metrics::corpus_bleu(&tally.hypotheses, &tally.references) {
            metrics.insert("bleu".into(), bleu.score);
        }
    }
}

/// The fraction of positions whose target is not `pad` where the most likely class of
/// `logits` `[n, classes]` is the target `[n]`.
fn token_accuracy(logits: &Tensor, targets: &Tensor, pad: u32) -> Result<f64> {
    let predicted = logits.argmax(-1, false)?.to_dtype(DType::U32)?.to_vec::<u32>()?;
    let targets = targets.to_vec::<u32>()?;
    let (mut right, mut counted) = (0usize, 0usize);
    for (p, t) in predicted.iter().zip(&targets).filter(|(_, &t)| t != pad) {
        right += usize::from(p == t);
        counted += 1;
    }
    Ok(if counted == 0 { 0.0 } else { right as f64 / counted as f64 })
}
