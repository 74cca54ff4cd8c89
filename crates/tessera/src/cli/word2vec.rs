//! `tessera train word2vec`: word vectors from a corpus (skip-gram or CBOW with negative
//! sampling, as the original word2vec), written as a word2vec text or binary file.

use super::embeddings::VectorFormat;
use super::lm_text::{corpus_name, read_corpus};
use super::ranges::{count, non_negative, positive};
use super::CliResult;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tessera_embed::train::{self, Model, TrainStatus};
use tessera_embed::{format, CorpusBuilder, Format, Lang, SharedUpdates, Word2VecConfig};
use tessera_train::progress::Progress;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum LangChoice {
    /// Lowercased words and punctuation marks (the `word` tokenizer of `train lm`).
    En,
    /// Chinese: lowercased, then segmented with Tessera's jieba-compatible segmenter.
    Zh,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum ModelChoice {
    /// Each context word predicts the centre word.
    Skipgram,
    /// The mean of the context words predicts the centre word.
    Cbow,
}

/// Arguments of `tessera train word2vec`.
#[derive(Debug, Clone, clap::Args)]
pub struct Word2vecArgs {
    /// Text files, one sentence per line, read as a stream. Default: the seven Shakespeare plays
    /// shipped with Tessera.
    #[arg(long, num_args = 1..)]
    corpus: Vec<PathBuf>,
    /// The corpus's language: how lines become words.
    #[arg(long, value_enum, default_value = "en")]
    lang: LangChoice,
    /// The training objective.
    #[arg(long, value_enum, default_value = "skipgram")]
    model: ModelChoice,
    /// Vector size.
    #[arg(long, value_parser = count, default_value_t = 100)]
    dim: usize,
    /// Largest context reach on each side (each position draws a reach of 1 to this).
    #[arg(long, value_parser = count, default_value_t = 5)]
    window: usize,
    /// Negative samples per example (drawn from the unigram distribution to the power 0.75).
    #[arg(long, value_parser = count, default_value_t = 5)]
    negative: usize,
    /// Words seen fewer times are left out of the vocabulary (and of the training text).
    #[arg(long, value_parser = count, default_value_t = 5)]
    min_count: usize,
    /// Subsampling threshold for frequent words (0 keeps every word).
    #[arg(long, value_parser = non_negative, default_value_t = 1e-3)]
    sample: f64,
    /// Passes over the corpus.
    #[arg(long, value_parser = count, default_value_t = 5)]
    epochs: usize,
    /// Initial learning rate (falls linearly to alpha * 1e-4).
    #[arg(long, value_parser = positive, default_value_t = 0.025)]
    alpha: f64,
    /// Training threads (default: the machine's cores). One thread and a seed reproduce a run
    /// exactly.
    #[arg(long, value_parser = count)]
    threads: Option<usize>,
    /// Seed of the initial vectors and of the threads' random numbers.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Threads share the weights through atomic loads and stores instead of plain ones (no data
    /// race in Rust's memory model; about half the speed).
    #[arg(long)]
    atomic_updates: bool,
    /// The vector file to write.
    #[arg(long)]
    out: PathBuf,
    /// Its format (default: binary for a `.bin` file, else word2vec text).
    #[arg(long, value_enum)]
    format: Option<VectorFormat>,
}

/// Runs `tessera train word2vec`.
pub fn run(a: Word2vecArgs) -> CliResult<()> {
    let out_format = a.format.map_or_else(|| Format::for_output(&a.out), VectorFormat::format);
    check_out_folder(&a.out)?;
    let cfg = Word2VecConfig {
        model: match a.model {
            ModelChoice::Skipgram => Model::SkipGram,
            ModelChoice::Cbow => Model::Cbow,
        },
        dim: a.dim,
        window: a.window,
        negative: a.negative,
        sample: a.sample,
        epochs: a.epochs,
        alpha: a.alpha,
        threads: a.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        seed: a.seed,
        updates: if a.atomic_updates { SharedUpdates::Atomic } else { SharedUpdates::Plain },
    };
    cfg.validate()?;
    let started = Instant::now();
    let mut builder = CorpusBuilder::new(match a.lang {
        LangChoice::En => Lang::En,
        LangChoice::Zh => Lang::Zh,
    });
    if a.corpus.is_empty() {
        read_corpus(&[])?.lines().for_each(|l| builder.add_line(l));
    }
    for f in &a.corpus {
        builder.add_file(f)?;
    }
    let corpus = builder.build(a.min_count as u64)?;
    say!(
        "corpus: {}: {} lines, {} words; vocabulary {} (words seen at least {} times: {} of the words) in {:.1} s",
        corpus_name(&a.corpus),
        corpus.lines,
        corpus.words_read,
        corpus.vocab.len(),
        a.min_count,
        percent(corpus.tokens.len() as u64, corpus.words_read),
        started.elapsed().as_secs_f64()
    );
    let (vectors, report) = train::train(&corpus, &cfg, &mut epoch_progress(cfg.epochs))?;
    say!(
        "trained {}, dim {}, window {}, negative {}, sample {}, {} epochs on {} threads: {} words in {:.2} s, \
         {:.0} words/s ({} loops); final loss {:.4}",
        match cfg.model {
            Model::SkipGram => "skip-gram",
            Model::Cbow => "CBOW",
        },
        cfg.dim,
        cfg.window,
        cfg.negative,
        cfg.sample,
        cfg.epochs,
        cfg.threads,
        report.words,
        report.seconds,
        report.words_per_sec,
        report.kernel,
        report.final_loss
    );
    format::write(&vectors, &a.out, out_format)?;
    say!("wrote {} ({} format: {} words x {})", a.out.display(), out_format.name(), vectors.len(), vectors.dim());
    Ok(())
}

/// The output's folder must exist before hours of training, not after.
fn check_out_folder(out: &Path) -> CliResult<()> {
    match out.parent() {
        Some(dir) if !dir.as_os_str().is_empty() && !dir.is_dir() => {
            Err(format!("--out {}: the folder {} does not exist", out.display(), dir.display()).into())
        }
        _ if out.is_dir() => Err(format!("--out {} is a folder: name a file", out.display()).into()),
        _ => Ok(()),
    }
}

fn percent(part: u64, whole: u64) -> String {
    format!("{:.1}%", 100.0 * part as f64 / whole.max(1) as f64)
}

/// A progress bar per epoch (words/s and the running loss), driven by the training status. A
/// bar counts its speed from the words done after it appeared (an epoch may have begun between
/// two statuses).
fn epoch_progress(epochs: usize) -> impl FnMut(&TrainStatus) {
    // The epoch, its bar, and the epoch's words done when the bar appeared.
    let mut bar: Option<(usize, Progress, usize)> = None;
    let (mut loss, mut finished) = (f64::NAN, false);
    move |s: &TrainStatus| {
        if finished {
            return;
        }
        if s.loss.is_finite() {
            loss = s.loss;
        }
        let per_epoch = (s.words_total / epochs as u64).max(1);
        let epoch = ((s.words_done / per_epoch) as usize).min(epochs - 1);
        let done = s.words_done.saturating_sub(epoch as u64 * per_epoch).min(per_epoch) as usize;
        if bar.as_ref().is_none_or(|(e, _, _)| *e != epoch) {
            if let Some((_, mut old, base)) = bar.take() {
                old.update(per_epoch as usize, per_epoch as usize - base, loss);
                old.finish();
            }
            let label = format!("epoch {}/{epochs}", epoch + 1);
            bar = Some((epoch, Progress::new(label, per_epoch as usize).unit("words"), done));
        }
        if let Some((_, p, base)) = &mut bar {
            p.update(done, done - *base, loss);
            if s.words_done >= s.words_total {
                p.finish();
                finished = true;
            }
        }
    }
}
