//! `tessera train gpt`: nanoGPT's recipe for a small GPT on a text corpus.

use super::lm_text::{corpus_name, open_lm_run, read_corpus, stream, LmTokenizer};
use super::ranges::{count, fraction, non_negative, positive};
use super::training::{load_last, nothing_trained, trainer, write_results, RunPlan, TrainOptions};
use super::{distributed, CliResult};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;
use tessera_nn::summary;
use tessera_tensor::DType;
use tessera_train::callbacks::LrScheduler;
use tessera_train::dist::Communicator;
use tessera_train::gpt::{nanogpt_optimizer, Gpt, GptConfig, GptData, GptTask};
use tessera_train::lm::{generate, Sampling};
use tessera_train::schedule::{LrSchedule, Scheduler};
use tessera_train::{FitConfig, FitData, Trainer};

/// The checkpoint's model name.
pub const MODEL: &str = "gpt";

/// Arguments of `tessera train gpt`. The defaults are nanoGPT's CPU recipe for character-level
/// Shakespeare. A run folder's `config.json` records them under `train`.
#[derive(Debug, Clone, clap::Args, Serialize, Deserialize)]
#[command(
    mut_arg("lr", |a| a.default_value("0.001").help("Peak learning rate of AdamW (after the warm-up)")),
    mut_arg("batch_size", |a| a.default_value("12").help("Windows per micro-batch")),
    mut_arg("val_split", |a| a.help("Fraction of the token stream that validates (its end)")),
    mut_arg("epochs", |a| a.hide(true)),
    mut_arg("seed", |a| a.default_value("1337"))
)]
pub struct GptArgs {
    /// Text files, concatenated. Default: seven Shakespeare plays shipped with Tessera.
    #[arg(long, num_args = 1..)]
    corpus: Vec<PathBuf>,
    /// `char`, `word` (lowercased words and punctuation), `gpt2` (GPT-2's byte-level BPE, built
    /// in) or `bpe:FILE` (a Hugging Face tokenizer.json with a byte-level BPE).
    #[arg(long, default_value = "char")]
    tokenizer: String,
    /// Largest word vocabulary (word tokenizer only).
    #[arg(long, value_parser = count, default_value_t = 10_000)]
    vocab_size: usize,
    /// Transformer blocks.
    #[arg(long, value_parser = count, default_value_t = 4)]
    layers: usize,
    /// Attention heads (must divide --embed).
    #[arg(long, value_parser = count, default_value_t = 4)]
    heads: usize,
    /// Width of the residual stream.
    #[arg(long, value_parser = count, default_value_t = 128)]
    embed: usize,
    /// Context length: positions per window.
    #[arg(long, value_parser = count, default_value_t = 64)]
    block_size: usize,
    /// Optimizer steps.
    #[arg(long, value_parser = count, default_value_t = 2000)]
    iters: usize,
    /// Learning rate at the end of the cosine decay.
    #[arg(long, value_parser = non_negative, default_value_t = 1e-4)]
    min_lr: f64,
    /// Warm-up steps (linear from 0).
    #[arg(long, default_value_t = 100)]
    warmup: usize,
    /// AdamW's decoupled weight decay, on matrices and embeddings only.
    #[arg(long, value_parser = non_negative, default_value_t = 0.1)]
    weight_decay: f64,
    /// AdamW's second-moment decay (the first is 0.9).
    #[arg(long, value_parser = fraction, default_value_t = 0.99)]
    beta2: f64,
    /// Dropout on embeddings, attention weights and residual branches.
    #[arg(long, value_parser = fraction, default_value_t = 0.0)]
    dropout: f64,
    /// Micro-batches whose gradients make one step.
    #[arg(long, value_parser = count, default_value_t = 1)]
    grad_accum: usize,
    /// Largest global L2 norm of the gradients.
    #[arg(long, value_parser = positive, default_value_t = 1.0)]
    clip: f64,
    /// Steps between evaluations (and checkpoints).
    #[arg(long, value_parser = count, default_value_t = 250)]
    eval_interval: usize,
    /// Batches per evaluation of each split.
    #[arg(long, value_parser = count, default_value_t = 20)]
    eval_iters: usize,
    #[command(flatten)]
    #[serde(flatten)]
    pub(super) common: TrainOptions,
}

/// Runs `tessera train gpt` (data-parallel with `--distributed`: each process takes its windows
/// of every micro-batch).
pub fn run(a: GptArgs) -> CliResult<()> {
    distributed::run_training(a, MODEL, |a| &mut a.common, train)
}

fn train(a: GptArgs, comm: &Option<Communicator>) -> CliResult<()> {
    distributed::checked_out(comm)?;
    let (device, comm) = distributed::local_device(a.common.device, comm)?;
    let comm = &comm;
    let text = read_corpus(&a.corpus)?;
    let source = corpus_name(&a.corpus);
    let lines: Vec<&str> = text.lines().collect();
    let tokenizer = match &a.common.resume {
        Some(dir) => LmTokenizer::load(&a.tokenizer, dir)?,
        None => LmTokenizer::build(&a.tokenizer, &lines, a.vocab_size)?,
    };
    // nanoGPT's split: the first 90% of the token stream trains, the rest validates.
    let ids = stream(&tokenizer.encode_lines(&lines), tokenizer.line_end());
    let cut = ((ids.len() as f64) * (1.0 - a.common.val_split)).round() as usize;
    let data = GptData {
        train: ids[..cut].to_vec(),
        val: ids[cut..].to_vec(),
        block_size: a.block_size,
        iters: a.iters,
        eval_interval: a.eval_interval,
        eval_iters: a.eval_iters,
        grad_accum: a.grad_accum,
    };
    say!(
        "data: {source}: {} / {} tokens (train / validation), {} tokenizer, vocabulary {}",
        data.train.len(),
        data.val.len(),
        tokenizer.spec(),
        tokenizer.vocab_size()
    );
    let cfg = GptConfig {
        vocab: tokenizer.vocab_size(),
        block_size: a.block_size,
        n_layer: a.layers,
        n_head: a.heads,
        n_embd: a.embed,
        dropout: a.dropout,
        seed: a.common.seed,
        ..GptConfig::small(tokenizer.vocab_size())
    };
    let mut estimate = cfg.memory_estimate(a.common.batch_size, a.block_size);
    // A step's micro-batches are drawn together: inputs and targets of every window.
    estimate.activations += 2.0 * a.grad_accum as f64 * a.common.batch_size as f64 * a.block_size as f64;
    let what = format!(
        "a GPT (vocabulary {}, {} layers of width {}, context {}; batch {} × {} micro-batches)",
        cfg.vocab, cfg.n_layer, cfg.n_embd, cfg.block_size, a.common.batch_size, a.grad_accum
    );
    estimate.check(estimate.training_bytes(), &what)?;
    let model = Gpt::new(&cfg, &device)?;
    say!("{}", summary::summarize(&model, &[a.block_size], DType::U32, &device)?);
    let fit = FitConfig {
        epochs: data.intervals(),
        batch_size: a.common.batch_size,
        seed: a.common.seed,
        ..FitConfig::default()
    };
    // The data must suit the settings before the run folder is written.
    data.plan(&fit)?;
    let mut optimizer = nanogpt_optimizer(&model, a.common.lr, a.beta2, a.weight_decay, a.clip)?;
    let cosine = LrSchedule::CosineWithWarmup { warmup: a.warmup, total: a.iters, min_lr: a.min_lr };
    let mut schedule = Scheduler::new(cosine, a.common.lr)?;
    if let Some(c) = distributed::follower(comm) {
        let trainer = Trainer::with_task(GptTask::new(&model), optimizer).precision(a.common.precision.into());
        distributed::follow(c, &a.common, trainer.callback(LrScheduler::new(schedule, None)), &data, &fit)?;
        return Ok(());
    }
    let (run, done) = open_lm_run(&a, &a.common, MODEL, &device, &tokenizer)?;
    let run_path = run.path().to_path_buf();
    let model_config = json!({ "model": cfg.to_json(), "tokenizer": tokenizer.spec() }).to_string();
    load_last(&a.common, &run, done, MODEL, &model, &mut optimizer)?;
    distributed::lead(comm, done)?;
    optimizer.set_learning_rate(schedule.after_step(optimizer.steps() as usize));
    let run_plan = RunPlan { monitor: "val_loss", patience: a.common.patience, precision: a.common.precision.into() };
    let schedule = Some(LrScheduler::new(schedule, None));
    let mut trainer = trainer(GptTask::new(&model), optimizer, run, MODEL, &model_config, schedule, run_plan);
    if let Some(c) = comm {
        trainer = trainer.distributed(distributed::parallel(c, &a.common));
    }
    say!("{} iterations in {} evaluation intervals of {}", a.iters, data.intervals(), a.eval_interval);
    let started = Instant::now();
    let history = trainer.fit_from(&data, &fit, done)?;
    if nothing_trained(&history, &run_path, done) {
        return Ok(());
    }
    let secs = started.elapsed().as_secs_f64();
    let last = history.epochs.last();
    let (train_loss, val_loss) = (last.and_then(|e| e.get("train_loss")), last.and_then(|e| e.get("val_loss")));
    let tokens_per_sec = history.epochs.iter().filter_map(|e| e.get("tokens_per_sec")).fold(0.0, f64::max);
    if let (Some(t), Some(v)) = (train_loss, val_loss) {
        say!("final: train loss {t:.4}, val loss {v:.4} ({secs:.1} s, best {tokens_per_sec:.0} tokens/s)");
    }
    let sampling = Sampling { temperature: 0.8, top_k: Some(40), top_p: None, seed: a.common.seed };
    let sample = tokenizer.decode(&generate(&model, &[tokenizer.line_end()], 200, &sampling)?)?;
    say!("sample (temperature 0.8, top-k 40):\n{}", sample.trim());
    let results = json!({ "train_loss": train_loss, "val_loss": val_loss, "iters": a.iters,
        "train_seconds": secs, "best_tokens_per_sec": tokens_per_sec, "vocab": cfg.vocab,
        "train_tokens": data.train.len(), "val_tokens": data.val.len() });
    write_results(&run_path, &results)?;
    say!("wrote {0}/metrics.jsonl, {0}/results.json, {0}/checkpoints/", run_path.display());
    say!("sample more with: tessera generate --checkpoint {}", run_path.display());
    Ok(())
}
