//! `tessera train lm`: the LSTM language model on a text corpus, beside a Kneser-Ney bigram
//! baseline trained on the same split.

use super::device::{open, DeviceChoice};
use super::lm_text::{bigram_baseline, read_corpus, split_lines, stream, LmTokenizer, SHIPPED_NAME};
use super::CliResult;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::time::Instant;
use tessera_nn::{summary, Module};
use tessera_tensor::{DType, Device};
use tessera_train::callbacks::{EarlyStopping, LrScheduler, Mode, ModelCheckpoint};
use tessera_train::checkpoint;
use tessera_train::lm::{generate, LmSplits, LmTask, LstmLm, LstmLmConfig, Sampling};
use tessera_train::optim::{Adam, Clip, Optimizer, OptimizerKind};
use tessera_train::run_dir::RunDir;
use tessera_train::schedule::{LrSchedule, Scheduler};
use tessera_train::{FitConfig, Trainer};

/// The checkpoint's model name.
pub const MODEL: &str = "lstm-lm";

/// Arguments of `tessera train lm`.
#[derive(Debug, Clone, clap::Args)]
pub struct LmArgs {
    /// Text files, concatenated. Default: seven Shakespeare plays shipped with Tessera.
    #[arg(long, num_args = 1..)]
    corpus: Vec<PathBuf>,
    /// `word` (lowercased words and punctuation), `char`, or `bpe:FILE` (a Hugging Face
    /// tokenizer.json with a byte-level BPE).
    #[arg(long, default_value = "word")]
    tokenizer: String,
    /// Largest word vocabulary (the most frequent training words; the rest become `<unk>`).
    #[arg(long, default_value_t = 10_000)]
    vocab_size: usize,
    /// Embedding size.
    #[arg(long, default_value_t = 128)]
    embed: usize,
    /// LSTM hidden size.
    #[arg(long, default_value_t = 256)]
    hidden: usize,
    /// Stacked LSTM layers.
    #[arg(long, default_value_t = 1)]
    layers: usize,
    /// Dropout on the embeddings, between LSTM layers and on the LSTM output.
    #[arg(long, default_value_t = 0.3)]
    dropout: f64,
    /// Steps of backpropagation through time.
    #[arg(long, default_value_t = 35)]
    seq_len: usize,
    /// Parallel streams the training text is cut into.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Passes over the training text (default 6; with `--resume`, the run's own count).
    #[arg(long)]
    epochs: Option<usize>,
    /// Adam's learning rate (quartered whenever the validation perplexity does not improve).
    #[arg(long, default_value_t = 2e-3)]
    lr: f64,
    /// Largest global L2 norm of the gradients.
    #[arg(long, default_value_t = 0.5)]
    clip: f64,
    /// Stop when the validation perplexity has not improved for this many epochs (the best
    /// weights are kept).
    #[arg(long, default_value_t = 2)]
    patience: usize,
    /// Fraction of the lines held out for validation (taken before the test lines).
    #[arg(long, default_value_t = 0.1)]
    val_split: f64,
    /// Fraction of the lines held out for testing (the last lines).
    #[arg(long, default_value_t = 0.1)]
    test_split: f64,
    /// Where to run.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Cpu)]
    device: DeviceChoice,
    /// Seed of the weights and the dropout masks.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The run folder (default: runs/lstm-lm-<date>-<time>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Continue the run in this folder from its last checkpoint, up to `--epochs` epochs in all;
    /// every other setting comes from the run's config.json.
    #[arg(long, conflicts_with = "out")]
    resume: Option<PathBuf>,
}

impl LmArgs {
    /// The settings a run folder records, enough to resume it.
    fn to_json(&self) -> Value {
        json!({ "corpus": self.corpus, "tokenizer": self.tokenizer, "vocab_size": self.vocab_size,
                "embed": self.embed, "hidden": self.hidden, "layers": self.layers, "dropout": self.dropout,
                "seq_len": self.seq_len, "batch_size": self.batch_size, "epochs": self.epochs(), "lr": self.lr,
                "clip": self.clip, "patience": self.patience, "val_split": self.val_split,
                "test_split": self.test_split, "seed": self.seed })
    }

    fn epochs(&self) -> usize {
        self.epochs.unwrap_or(6)
    }

    /// The settings of the run in `dir`, with `epochs` from the command line when given.
    fn from_run(dir: &Path, base: &LmArgs) -> CliResult<LmArgs> {
        let path = dir.join("config.json");
        let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let v: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let train = v.get("train").ok_or_else(|| format!("{}: no `train` settings", path.display()))?;
        let mut args: LmArgs = LmArgs { resume: base.resume.clone(), device: base.device, ..base.clone() };
        let missing = |k: &str| format!("{}: `train.{k}` is missing or malformed", path.display());
        let num = |k: &str| train.get(k).and_then(Value::as_u64).map(|n| n as usize).ok_or_else(|| missing(k));
        let real = |k: &str| train.get(k).and_then(Value::as_f64).ok_or_else(|| missing(k));
        args.corpus = serde_json::from_value(train.get("corpus").cloned().unwrap_or_default()).unwrap_or_default();
        args.tokenizer = train.get("tokenizer").and_then(Value::as_str).ok_or_else(|| missing("tokenizer"))?.into();
        (args.vocab_size, args.embed, args.hidden, args.layers) =
            (num("vocab_size")?, num("embed")?, num("hidden")?, num("layers")?);
        (args.seq_len, args.batch_size, args.patience) = (num("seq_len")?, num("batch_size")?, num("patience")?);
        (args.dropout, args.lr, args.clip) = (real("dropout")?, real("lr")?, real("clip")?);
        (args.val_split, args.test_split, args.seed) = (real("val_split")?, real("test_split")?, num("seed")? as u64);
        args.epochs = Some(base.epochs.map_or_else(|| num("epochs"), Ok)?);
        Ok(args)
    }
}

/// Runs `tessera train lm`.
pub fn run(mut a: LmArgs) -> CliResult<()> {
    let device = open(a.device)?;
    if let Some(dir) = &a.resume {
        a = LmArgs::from_run(dir, &a)?;
    }
    let text = read_corpus(&a.corpus)?;
    let source = if a.corpus.is_empty() {
        SHIPPED_NAME.to_string()
    } else {
        a.corpus.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    };
    let lines = split_lines(&text, a.val_split, a.test_split)?;
    let tokenizer = match &a.resume {
        Some(dir) => LmTokenizer::load(&a.tokenizer, dir)?,
        None => LmTokenizer::build(&a.tokenizer, &lines.train, a.vocab_size)?,
    };
    let end = tokenizer.line_end();
    let (train, val, test) =
        (tokenizer.encode_lines(&lines.train), tokenizer.encode_lines(&lines.val), tokenizer.encode_lines(&lines.test));
    let data = LmSplits { train: stream(&train, end), val: stream(&val, end), test: stream(&test, end) };
    println!(
        "data: {source}: {} / {} / {} tokens (train / validation / test), {} tokenizer, vocabulary {}",
        data.train.len(),
        data.val.len(),
        data.test.len(),
        tokenizer.spec(),
        tokenizer.vocab_size()
    );
    let started = Instant::now();
    let (bigram_val, bigram_test) = bigram_baseline(&train, &val, &test)?;
    println!(
        "baseline: Kneser-Ney bigram, validation perplexity {bigram_val:.2}, test perplexity {bigram_test:.2} ({:.1} s)",
        started.elapsed().as_secs_f64()
    );

    let cfg = LstmLmConfig {
        vocab: tokenizer.vocab_size(),
        embed: a.embed,
        hidden: a.hidden,
        layers: a.layers,
        dropout: a.dropout,
        seed: a.seed,
    };
    let model = LstmLm::new(&cfg, &device)?;
    println!("{}", summary::summarize(&model, &[a.seq_len], DType::U32, &device)?);
    let (run, done) = open_run(&a, &tokenizer, &device)?;
    let run_path = run.path().to_path_buf();
    println!("run folder: {}", run_path.display());

    let model_config = json!({ "model": cfg.to_json(), "tokenizer": tokenizer.spec() }).to_string();
    let adam = Adam { lr: a.lr, ..Adam::default() };
    let mut optimizer =
        Optimizer::new(model.parameters(), OptimizerKind::Adam(adam))?.with_clip(Clip::GlobalNorm(a.clip));
    if a.resume.is_some() {
        checkpoint::load(&run_path.join("checkpoints/last.safetensors"), MODEL, &model, Some(&mut optimizer))?;
        println!("resumed after epoch {done} (learning rate {:.2e})", optimizer.learning_rate());
    }
    let plateau = LrSchedule::ReduceOnPlateau { factor: 0.25, patience: 0, threshold: 0.0, min_lr: 0.0 };
    let lr_now = optimizer.learning_rate();
    let mut trainer = Trainer::with_task(LmTask::new(&model), optimizer)
        .callback(ModelCheckpoint::new(run_path.join("checkpoints"), "val_ppl", Mode::Min, MODEL, &model_config))
        .callback(LrScheduler::new(Scheduler::new(plateau, lr_now), Some("val_ppl")))
        .callback(EarlyStopping::new("val_ppl", Mode::Min, a.patience).restore_best_weights(true))
        .run_dir(run);
    let fit = FitConfig {
        epochs: a.epochs(),
        batch_size: a.batch_size,
        seq_len: a.seq_len,
        eval_batch_size: Some(10),
        seed: a.seed,
        ..FitConfig::default()
    };
    let started = Instant::now();
    let history = trainer.fit_from(&data, &fit, done)?;
    let secs = started.elapsed().as_secs_f64();
    let val_ppl = trainer.evaluate(&data.val, &fit)?.exp();
    let test_ppl = trainer.evaluate(&data.test, &fit)?.exp();
    let tokens_per_sec = history.epochs.iter().filter_map(|e| e.get("tokens_per_sec")).fold(0.0, f64::max);
    println!("trained {} epochs in {secs:.1} s (best {tokens_per_sec:.0} training tokens/s)", history.epochs.len());
    println!("perplexity        validation      test");
    println!("LSTM (best)     {val_ppl:>12.2} {test_ppl:>9.2}");
    println!("KN bigram       {bigram_val:>12.2} {bigram_test:>9.2}");
    println!("LSTM / bigram   {:>12.3} {:>9.3}", val_ppl / bigram_val, test_ppl / bigram_test);

    let sampling = Sampling { temperature: 0.8, top_k: Some(40), seed: a.seed };
    let sample = tokenizer.decode(&generate(&model, &[end], 40, &sampling)?)?;
    println!("sample (temperature 0.8, top-k 40):\n{}", sample.trim());
    let results = json!({ "val_ppl": val_ppl, "test_ppl": test_ppl, "bigram_val_ppl": bigram_val,
        "bigram_test_ppl": bigram_test, "test_ppl_vs_bigram": test_ppl / bigram_test,
        "epochs": history.epochs.len() + done, "stopped_early": history.stopped_early,
        "train_seconds": secs, "best_tokens_per_sec": tokens_per_sec, "vocab": cfg.vocab,
        "train_tokens": data.train.len() });
    tessera_train::fs::write_atomic(&run_path.join("results.json"), format!("{results:#}\n").as_bytes())?;
    println!("wrote {0}/metrics.jsonl, {0}/perplexity.svg, {0}/results.json, {0}/checkpoints/", run_path.display());
    println!("sample more with: tessera generate --checkpoint {}", run_path.display());
    Ok(())
}

/// A new run folder with the config and vocabulary, or the resumed one and its epochs done.
fn open_run(a: &LmArgs, tokenizer: &LmTokenizer, device: &Device) -> CliResult<(RunDir, usize)> {
    if let Some(dir) = &a.resume {
        let done = checkpoint::read_info(&dir.join("checkpoints/last.safetensors"))?.epoch;
        return Ok((RunDir::resume(dir, done)?, done));
    }
    let run = RunDir::create(a.out.as_deref(), MODEL)?;
    tokenizer.save(run.path())?;
    run.write_config(&json!({ "model": MODEL, "train": a.to_json(), "device": device.to_string() }))?;
    Ok((run, 0))
}
