//! `tessera train seq2seq`: an encoder-decoder on tab-separated pairs, or on the generated
//! dates task.

use super::ranges::{beam_width, count, fraction, non_negative, positive};
use super::seq2seq_data::{load_pairs, PairSets};
use super::seq2seq_text::PairTokenizers;
use super::training::{load_last, nothing_trained, open_run, trainer, write_results, RunPlan, TrainOptions};
use super::{distributed, CliResult};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::sync::Arc;
use std::time::Instant;
use tessera_nn::Module;
use tessera_train::callbacks::LrScheduler;
use tessera_train::dist::Communicator;
use tessera_train::optim::{Adam, Clip, Optimizer, OptimizerKind};
use tessera_train::schedule::{LrSchedule, Scheduler};
use tessera_train::seq2seq::{
    decode_all, score, AttentionScore, BeamConfig, EncodedPair, LstmAttentionConfig, Seq2seq, Seq2seqConfig,
    Seq2seqData, Seq2seqModel, Seq2seqOptions, Seq2seqTask, TransformerSeq2seqConfig,
};
use tessera_train::{FitConfig, FitData, Trainer};

/// The checkpoint's model name.
pub const MODEL: &str = "seq2seq";

/// The encoder-decoder architectures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Arch {
    /// LSTM encoder and decoder with Luong's global attention.
    LstmAttention,
    /// Transformer encoder and decoder (pre-LayerNorm unless --post-norm).
    Transformer,
}

/// Arguments of `tessera train seq2seq`. A run folder's `config.json` records them under
/// `train`.
#[derive(Debug, Clone, clap::Args, Serialize, Deserialize)]
#[command(
    mut_arg("lr", |a| a.default_value("0.002").help("Peak learning rate of Adam (after the warm-up)")),
    mut_arg("batch_size", |a| a.default_value("64").help("Pairs per optimizer step")),
    mut_arg("val_split", |a| a.help("Fraction of the training pairs held out for validation when there is no --valid")),
    mut_arg("patience", |a| a.help("Stop when the validation loss has not improved for this many epochs, keeping the best weights"))
)]
pub struct Seq2seqArgs {
    #[command(flatten)]
    #[serde(flatten)]
    pub(super) data: PairSets,
    /// The architecture.
    #[arg(long, value_enum, default_value_t = Arch::LstmAttention)]
    arch: Arch,
    /// Tokenizer of both sides: `char`, `word`, `gpt2` or `bpe:FILE` (a Hugging Face
    /// tokenizer.json with a byte-level BPE).
    #[arg(long, default_value = "char")]
    tokenizer: String,
    /// The source side's tokenizer, if not --tokenizer.
    #[arg(long)]
    source_tokenizer: Option<String>,
    /// The target side's tokenizer, if not --tokenizer.
    #[arg(long)]
    target_tokenizer: Option<String>,
    /// One vocabulary built from both sides (the same ids on both), instead of one per side.
    #[arg(long)]
    shared_vocab: bool,
    /// Largest word vocabulary per side (word tokenizer only).
    #[arg(long, value_parser = count, default_value_t = 10_000)]
    vocab_size: usize,
    /// How the LSTM decoder scores encoder outputs: dot, general or additive (Bahdanau).
    #[arg(long, default_value = "general")]
    attention: String,
    /// Embedding width (the Transformer's d_model).
    #[arg(long, value_parser = count, default_value_t = 128)]
    embed: usize,
    /// LSTM hidden width.
    #[arg(long, value_parser = count, default_value_t = 256)]
    hidden: usize,
    /// Layers of the encoder and of the decoder.
    #[arg(long, value_parser = count, default_value_t = 2)]
    layers: usize,
    /// Transformer attention heads (must divide --embed).
    #[arg(long, value_parser = count, default_value_t = 4)]
    heads: usize,
    /// Transformer feed-forward width.
    #[arg(long, value_parser = count, default_value_t = 512)]
    feedforward: usize,
    /// Transformer blocks normalise after the residual sum (the original Transformer) instead of
    /// before each sub-block.
    #[arg(long)]
    post_norm: bool,
    /// The Transformer's output layer is its target embedding.
    #[arg(long)]
    tie_embeddings: bool,
    /// Dropout.
    #[arg(long, value_parser = fraction, default_value_t = 0.1)]
    dropout: f64,
    /// Label smoothing of the cross-entropy.
    #[arg(long, value_parser = fraction, default_value_t = 0.1)]
    label_smoothing: f64,
    /// Scheduled sampling: probability that a decoder input is the model's own previous
    /// prediction instead of the gold token (0: teacher forcing).
    #[arg(long, value_parser = fraction, default_value_t = 0.0)]
    scheduled_sampling: f64,
    /// Warm-up steps (linear from 0), then a cosine decay to a tenth of --lr at the end.
    #[arg(long, default_value_t = 200)]
    warmup: usize,
    /// Largest global L2 norm of the gradients.
    #[arg(long, value_parser = positive, default_value_t = 1.0)]
    clip: f64,
    /// Beam width of the final test decoding (1: greedy).
    #[arg(long, value_parser = beam_width, default_value_t = 4)]
    beam: usize,
    /// Wu et al.'s length penalty α of beam search.
    #[arg(long, value_parser = non_negative, default_value_t = 0.6)]
    length_penalty: f64,
    #[command(flatten)]
    #[serde(flatten)]
    pub(super) common: TrainOptions,
}

impl Seq2seqArgs {
    /// The model configuration for vocabularies of `source` and `target` ids with `<pad>` `pad`.
    fn model_config(&self, source: usize, target: usize, pad: u32) -> CliResult<Seq2seqConfig> {
        Ok(match self.arch {
            Arch::LstmAttention => Seq2seqConfig::Lstm(LstmAttentionConfig {
                source_vocab: source,
                target_vocab: target,
                embed: self.embed,
                hidden: self.hidden,
                layers: self.layers,
                score: AttentionScore::from_name(&self.attention)?,
                dropout: self.dropout,
                pad,
                seed: self.common.seed,
            }),
            Arch::Transformer => Seq2seqConfig::Transformer(TransformerSeq2seqConfig {
                source_vocab: source,
                target_vocab: target,
                d_model: self.embed,
                heads: self.heads,
                feedforward: self.feedforward,
                encoder_layers: self.layers,
                decoder_layers: self.layers,
                dropout: self.dropout,
                norm_first: !self.post_norm,
                tie_embeddings: self.tie_embeddings,
                pad,
                seed: self.common.seed,
            }),
        })
    }
}

/// Runs `tessera train seq2seq` (data-parallel with `--distributed`: each process takes its
/// pairs of every global batch, padded as the global batch is).
pub fn run(a: Seq2seqArgs) -> CliResult<()> {
    distributed::run_training(a, MODEL, |a| &mut a.common, train)
}

fn train(a: Seq2seqArgs, comm: &Option<Communicator>) -> CliResult<()> {
    distributed::checked_out(comm)?;
    let (device, comm) = distributed::local_device(a.common.device, comm)?;
    let comm = &comm;
    let source_spec = a.source_tokenizer.clone().unwrap_or_else(|| a.tokenizer.clone());
    let target_spec = a.target_tokenizer.clone().unwrap_or_else(|| a.tokenizer.clone());
    let mut loaded = load_pairs(&a.data, a.common.val_split, a.common.seed)?;
    let tokenizers = Arc::new(match &a.common.resume {
        Some(dir) => PairTokenizers::load(&source_spec, &target_spec, dir)?,
        None => PairTokenizers::build(&source_spec, &target_spec, &loaded.train, a.vocab_size, a.shared_vocab)?,
    });
    let encoded = loaded.encode(&tokenizers, &a.data)?;
    let specials = tokenizers.target.specials();
    if tokenizers.source.specials().pad != specials.pad {
        return Err("the source and target tokenizers must share the <pad> id: use the same kind on both sides".into());
    }
    let cfg = a.model_config(tokenizers.source.vocab_size(), tokenizers.target.vocab_size(), specials.pad)?;
    // The longest pair sizes the activations; the target gains its start or end token.
    let longest = |side: fn(&EncodedPair) -> usize| encoded.train.iter().map(side).max().unwrap_or(0);
    let (source_len, target_len) = (longest(|p| p.source.len()), longest(|p| p.target.len()) + 1);
    let estimate = cfg.memory_estimate(a.common.batch_size, source_len, target_len);
    let what =
        format!("the {}; batch {} of up to {source_len} → {target_len} tokens", cfg.describe(), a.common.batch_size);
    estimate.check(estimate.training_bytes(), &what)?;
    let model = Seq2seqModel::new(&cfg, &device)?;
    say!("model: {} ({} parameters)", model.describe(), model.parameter_count());
    let data = Seq2seqData {
        train: encoded.train,
        eval: vec![("val".into(), encoded.valid)],
        specials,
        side: model.source_padding(),
        device,
    };
    let epochs = a.common.epochs.unwrap_or(5);
    let fit = FitConfig { epochs, batch_size: a.common.batch_size, seed: a.common.seed, ..FitConfig::default() };
    // The data must suit the settings before the run folder is written.
    data.plan(&fit)?;
    let adam = Adam { lr: a.common.lr, betas: (0.9, 0.98), eps: 1e-9, ..Adam::default() };
    let mut optimizer =
        Optimizer::new(model.parameters(), OptimizerKind::Adam(adam))?.with_clip(Clip::GlobalNorm(a.clip))?;
    let total = epochs * data.train.len().div_ceil(a.common.batch_size);
    let cosine = LrSchedule::CosineWithWarmup { warmup: a.warmup, total, min_lr: a.common.lr / 10.0 };
    let mut schedule = Scheduler::new(cosine, a.common.lr)?;
    let options = Seq2seqOptions {
        label_smoothing: a.label_smoothing,
        sampling: a.scheduled_sampling,
        max_len: a.data.max_target_len + 1,
    };
    let shared = Arc::clone(&tokenizers);
    let task = Seq2seqTask::new(&model, specials, options, Box::new(move |ids: &[u32]| shared.target.decode(ids)));
    if let Some(c) = distributed::follower(comm) {
        let trainer = Trainer::with_task(task, optimizer).precision(a.common.precision.into());
        distributed::follow(c, &a.common, trainer.callback(LrScheduler::new(schedule, None)), &data, &fit)?;
        return Ok(());
    }
    let extra = json!({ "source_tokenizer": tokenizers.source.spec(), "target_tokenizer": tokenizers.target.spec() });
    let (run, done) = open_run(&a, &a.common, MODEL, &device, extra)?;
    if a.common.resume.is_none() {
        tokenizers.save(run.path())?;
    }
    say!("run folder: {}", run.path().display());
    let run_path = run.path().to_path_buf();
    let model_config = json!({ "model": cfg.to_json(), "source_tokenizer": tokenizers.source.spec(),
        "target_tokenizer": tokenizers.target.spec(), "max_target_len": a.data.max_target_len })
    .to_string();
    load_last(&a.common, &run, done, MODEL, &model, &mut optimizer)?;
    distributed::lead(comm, done)?;
    optimizer.set_learning_rate(schedule.after_step(optimizer.steps() as usize));
    let run_plan = RunPlan { monitor: "val_loss", patience: a.common.patience, precision: a.common.precision.into() };
    let mut trainer =
        trainer(task, optimizer, run, MODEL, &model_config, Some(LrScheduler::new(schedule, None)), run_plan);
    if let Some(c) = comm {
        trainer = trainer.distributed(distributed::parallel(c, &a.common));
    }
    let started = Instant::now();
    let history = trainer.fit_from(&data, &fit, done)?;
    if nothing_trained(&history, &run_path, done) {
        return Ok(());
    }
    let secs = started.elapsed().as_secs_f64();
    // The test set, decoded as `translate` would.
    let beam = BeamConfig { width: a.beam, length_penalty: a.length_penalty, max_len: a.data.max_target_len + 1 };
    let sources: Vec<&[u32]> = encoded.test.iter().map(|p| p.source.as_slice()).collect();
    let outputs = decode_all(&model, &sources, specials, &beam, a.common.batch_size, &device)?;
    let outputs: Vec<Vec<u32>> = outputs.into_iter().map(|h| h.tokens).collect();
    let references: Vec<Vec<u32>> = encoded.test.iter().map(|p| p.target.clone()).collect();
    let scores = score(&outputs, &references, |ids| tokenizers.target.decode(ids))?;
    say!(
        "test ({} pairs, beam {}): exact match {:.2}%, token accuracy {:.2}%, BLEU {:.2}, chrF {:.2} ({secs:.1} s of training)",
        scores.examples,
        a.beam,
        100.0 * scores.exact_match,
        100.0 * scores.token_accuracy,
        scores.bleu.score,
        scores.chrf.score
    );
    // A few outputs, then the first errors, which say more about what is left to learn.
    let decoded: Vec<(usize, &str, String, &str)> = loaded
        .test
        .pairs
        .iter()
        .zip(&outputs)
        .map(|(p, out)| (p.line, p.source.as_str(), tokenizers.target.decode(out), p.target.as_str()))
        .collect();
    let wrong: Vec<_> = decoded.iter().filter(|d| d.2 != d.3).collect();
    for (line, source, out, reference) in decoded.iter().take(3) {
        let mark = if out == reference { "✓" } else { "✗" };
        say!("  {line}. {source} → {out} {mark} (reference {reference})");
    }
    if !wrong.is_empty() {
        say!("{} wrong; the first {}:", wrong.len(), wrong.len().min(5));
    }
    for (line, source, out, reference) in wrong.iter().take(5) {
        say!("  {line}. {source} → {out} ✗ (reference {reference})");
    }
    let last = history.epochs.last();
    let results = json!({ "test_exact_match": scores.exact_match, "test_token_accuracy": scores.token_accuracy,
        "test_bleu": scores.bleu.score, "test_chrf": scores.chrf.score, "test_pairs": scores.examples, "beam": a.beam,
        "val_loss": last.and_then(|e| e.get("val_loss")), "val_exact_match": last.and_then(|e| e.get("val_exact_match")),
        "train_seconds": secs, "train_pairs": data.train.len(), "val_pairs": data.eval[0].1.len() });
    write_results(&run_path, &results)?;
    say!("wrote {0}/metrics.jsonl, {0}/results.json, {0}/checkpoints/", run_path.display());
    say!("translate with: tessera translate --checkpoint {}", run_path.display());
    Ok(())
}
