//! `tessera train lm`: the LSTM language model on a text corpus, beside a Kneser-Ney bigram
//! baseline trained on the same split.

use super::lm_text::{bigram_baseline, corpus_name, open_lm_run, read_corpus, split_lines, stream, LmTokenizer};
use super::ranges::{count, fraction, open_fraction, positive};
use super::training::{load_last, nothing_trained, trainer, write_results, RunPlan, TrainOptions};
use super::{distributed, CliResult};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::PathBuf;
use std::time::Instant;
use tessera_nn::{summary, Module};
use tessera_tensor::DType;
use tessera_train::callbacks::LrScheduler;
use tessera_train::dist::Communicator;
use tessera_train::lm::{generate, LmSplits, LmTask, LstmLm, LstmLmConfig, Sampling};
use tessera_train::optim::{Adam, Clip, Optimizer, OptimizerKind};
use tessera_train::schedule::{LrSchedule, Scheduler};
use tessera_train::{FitConfig, FitData, Trainer};

/// The checkpoint's model name.
pub const MODEL: &str = "lstm-lm";

/// Arguments of `tessera train lm`. A run folder's `config.json` records them under `train`.
#[derive(Debug, Clone, clap::Args, Serialize, Deserialize)]
#[command(
    mut_arg("lr", |a| a.default_value("0.002")
        .help("Adam's learning rate (quartered whenever the validation perplexity does not improve)")),
    mut_arg("patience", |a| a.default_value("2"))
)]
pub struct LmArgs {
    /// Text files, concatenated. Default: seven Shakespeare plays shipped with Tessera.
    #[arg(long, num_args = 1..)]
    corpus: Vec<PathBuf>,
    /// `word` (lowercased words and punctuation), `char`, `gpt2` (GPT-2's byte-level BPE, built
    /// in) or `bpe:FILE` (a Hugging Face tokenizer.json with a byte-level BPE).
    #[arg(long, default_value = "word")]
    tokenizer: String,
    /// Largest word vocabulary (the most frequent training words; the rest become `<unk>`).
    #[arg(long, value_parser = count, default_value_t = 10_000)]
    vocab_size: usize,
    /// Embedding size.
    #[arg(long, value_parser = count, default_value_t = 128)]
    embed: usize,
    /// LSTM hidden size.
    #[arg(long, value_parser = count, default_value_t = 256)]
    hidden: usize,
    /// Stacked LSTM layers.
    #[arg(long, value_parser = count, default_value_t = 1)]
    layers: usize,
    /// Dropout on the embeddings, between LSTM layers and on the LSTM output.
    #[arg(long, value_parser = fraction, default_value_t = 0.3)]
    dropout: f64,
    /// Steps of backpropagation through time.
    #[arg(long, value_parser = count, default_value_t = 35)]
    seq_len: usize,
    /// Largest global L2 norm of the gradients.
    #[arg(long, value_parser = positive, default_value_t = 0.5)]
    clip: f64,
    /// Fraction of the lines held out for testing (the last lines).
    #[arg(long, value_parser = open_fraction, default_value_t = 0.1)]
    test_split: f64,
    /// A word2vec (text or binary) or GloVe file whose vectors start the embedding (their
    /// dimension must equal --embed; words not in it get random vectors, counted in the output).
    #[arg(long)]
    #[serde(default)]
    pretrained_embeddings: Option<PathBuf>,
    /// Keep the pretrained embedding fixed: it gets no gradient and the optimizer never changes it.
    #[arg(long, requires = "pretrained_embeddings")]
    #[serde(default)]
    freeze_embeddings: bool,
    #[command(flatten)]
    #[serde(flatten)]
    pub(super) common: TrainOptions,
}

/// Runs `tessera train lm` (data-parallel with `--distributed`: each process takes its rows of
/// every window).
pub fn run(a: LmArgs) -> CliResult<()> {
    distributed::run_training(a, MODEL, |a| &mut a.common, train)
}

fn train(mut a: LmArgs, comm: &Option<Communicator>) -> CliResult<()> {
    distributed::checked_out(comm)?;
    let epochs = *a.common.epochs.get_or_insert(6);
    let (device, comm) = distributed::local_device(a.common.device, comm)?;
    let comm = &comm;
    let text = read_corpus(&a.corpus)?;
    let source = corpus_name(&a.corpus);
    let lines = split_lines(&text, a.common.val_split, a.test_split)?;
    let tokenizer = match &a.common.resume {
        Some(dir) => LmTokenizer::load(&a.tokenizer, dir)?,
        None => LmTokenizer::build(&a.tokenizer, &lines.train, a.vocab_size)?,
    };
    let end = tokenizer.line_end();
    let (train, val, test) =
        (tokenizer.encode_lines(&lines.train), tokenizer.encode_lines(&lines.val), tokenizer.encode_lines(&lines.test));
    let data = LmSplits { train: stream(&train, end), val: stream(&val, end), test: stream(&test, end) };
    say!(
        "data: {source}: {} / {} / {} tokens (train / validation / test), {} tokenizer, vocabulary {}",
        data.train.len(),
        data.val.len(),
        data.test.len(),
        tokenizer.spec(),
        tokenizer.vocab_size()
    );
    let started = Instant::now();
    let (bigram_val, bigram_test) = bigram_baseline(&train, &val, &test)?;
    say!(
        "baseline: Kneser-Ney bigram, validation perplexity {bigram_val:.2}, test perplexity {bigram_test:.2} ({:.1} s)",
        started.elapsed().as_secs_f64()
    );

    let cfg = LstmLmConfig {
        vocab: tokenizer.vocab_size(),
        embed: a.embed,
        hidden: a.hidden,
        layers: a.layers,
        dropout: a.dropout,
        seed: a.common.seed,
    };
    let estimate = cfg.memory_estimate(a.common.batch_size, a.seq_len);
    let what = format!(
        "an LSTM language model (vocabulary {}, embedding {}, hidden {}, {} layers; batch {} of {} steps)",
        cfg.vocab, cfg.embed, cfg.hidden, cfg.layers, a.common.batch_size, a.seq_len
    );
    estimate.check(estimate.training_bytes(), &what)?;
    let mut model = LstmLm::new(&cfg, &device)?;
    let (pretrained, resuming) = (a.pretrained_embeddings.as_deref(), a.common.resume.is_some());
    super::pretrained::apply(&mut model, pretrained, a.freeze_embeddings, resuming, &tokenizer, cfg.seed, &device)?;
    say!("{}", summary::summarize(&model, &[a.seq_len], DType::U32, &device)?);
    let fit = FitConfig {
        epochs,
        batch_size: a.common.batch_size,
        seq_len: a.seq_len,
        eval_batch_size: Some(10),
        seed: a.common.seed,
        ..FitConfig::default()
    };
    // The data must suit the settings before the run folder is written.
    data.plan(&fit)?;
    let adam = Adam { lr: a.common.lr, ..Adam::default() };
    let mut optimizer =
        Optimizer::new(model.parameters(), OptimizerKind::Adam(adam))?.with_clip(Clip::GlobalNorm(a.clip))?;
    let plateau = LrSchedule::ReduceOnPlateau { factor: 0.25, patience: 0, threshold: 0.0, min_lr: 0.0 };
    // A resumed run replays its epochs through the schedule, which retakes its cuts.
    let schedule = LrScheduler::new(Scheduler::new(plateau, a.common.lr)?, Some("val_ppl"));
    if let Some(c) = distributed::follower(comm) {
        let trainer = Trainer::with_task(LmTask::new(&model), optimizer).precision(a.common.precision.into());
        if let Some(mut trainer) = distributed::follow(c, &a.common, trainer.callback(schedule), &data, &fit)? {
            // Each rank evaluates its rows; rank 0 prints.
            trainer.evaluate(&data.val, &fit)?;
            trainer.evaluate(&data.test, &fit)?;
        }
        return Ok(());
    }
    let (run, done) = open_lm_run(&a, &a.common, MODEL, &device, &tokenizer)?;
    let run_path = run.path().to_path_buf();
    let model_config = json!({ "model": cfg.to_json(), "tokenizer": tokenizer.spec() }).to_string();
    load_last(&a.common, &run, done, MODEL, &model, &mut optimizer)?;
    distributed::lead(comm, done)?;
    let run_plan = RunPlan { monitor: "val_ppl", patience: a.common.patience, precision: a.common.precision.into() };
    let mut trainer = trainer(LmTask::new(&model), optimizer, run, MODEL, &model_config, Some(schedule), run_plan);
    if let Some(c) = comm {
        trainer = trainer.distributed(distributed::parallel(c, &a.common));
    }
    let started = Instant::now();
    let history = trainer.fit_from(&data, &fit, done)?;
    if nothing_trained(&history, &run_path, done) {
        return Ok(());
    }
    let secs = started.elapsed().as_secs_f64();
    let val_ppl = trainer.evaluate(&data.val, &fit)?.exp();
    let test_ppl = trainer.evaluate(&data.test, &fit)?.exp();
    let tokens_per_sec = history.epochs.iter().filter_map(|e| e.get("tokens_per_sec")).fold(0.0, f64::max);
    say!("trained {} epochs in {secs:.1} s (best {tokens_per_sec:.0} training tokens/s)", history.epochs.len());
    say!("perplexity        validation      test");
    say!("LSTM (best)     {val_ppl:>12.2} {test_ppl:>9.2}");
    say!("KN bigram       {bigram_val:>12.2} {bigram_test:>9.2}");
    say!("LSTM / bigram   {:>12.3} {:>9.3}", val_ppl / bigram_val, test_ppl / bigram_test);

    let sampling = Sampling { temperature: 0.8, top_k: Some(40), top_p: None, seed: a.common.seed };
    let sample = tokenizer.decode(&generate(&model, &[end], 40, &sampling)?)?;
    say!("sample (temperature 0.8, top-k 40):\n{}", sample.trim());
    let results = json!({ "val_ppl": val_ppl, "test_ppl": test_ppl, "bigram_val_ppl": bigram_val,
        "bigram_test_ppl": bigram_test, "test_ppl_vs_bigram": test_ppl / bigram_test,
        "epochs": history.epochs.len() + done, "stopped_early": history.stopped_early,
        "train_seconds": secs, "best_tokens_per_sec": tokens_per_sec, "vocab": cfg.vocab,
        "train_tokens": data.train.len() });
    write_results(&run_path, &results)?;
    say!("wrote {0}/metrics.jsonl, {0}/perplexity.svg, {0}/results.json, {0}/checkpoints/", run_path.display());
    say!("sample more with: tessera generate --checkpoint {}", run_path.display());
    Ok(())
}
