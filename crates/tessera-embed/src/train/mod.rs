//! word2vec training: skip-gram and CBOW with negative sampling, as in the original C code.
//!
//! - Negative samples come from the unigram distribution raised to 0.75 ([`NoiseTable`]).
//! - Frequent words are subsampled with word2vec's formula ([`keep_probabilities`]).
//! - The learning rate falls linearly from `alpha` to `alpha * 1e-4` over all the words of all
//!   epochs, updated every 10,000 words per thread.
//! - The window is dynamic: at each position a reach of 1 to `window` words is drawn.
//! - Threads update the shared weights without locks (Hogwild, see [`SharedUpdates`]); each has
//!   its own seeded random numbers, so a run with one thread is reproducible from its seed.

mod rng;
mod store;
mod tables;
mod worker;

use crate::corpus::Corpus;
use crate::error::{Error, Result};
use crate::simd::{Avx2, Portable};
use crate::vectors::Embeddings;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::sync::mpsc;
use std::time::{Duration, Instant};
use store::{Atomic, Plain, SharedMatrix};
use worker::{work, Job, ThreadStats, CHUNK_WORDS};

pub use store::SharedUpdates;
pub use tables::{keep_probabilities, NoiseTable};

/// Skip-gram or CBOW.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    /// Each context word predicts the centre word.
    SkipGram,
    /// The mean of the context words predicts the centre word.
    Cbow,
}

impl Model {
    /// `skipgram` or `cbow`.
    pub fn from_name(name: &str) -> Result<Model> {
        match name {
            "skipgram" | "sg" => Ok(Model::SkipGram),
            "cbow" => Ok(Model::Cbow),
            other => Err(Error::Config(format!("unknown model `{other}`: use skipgram or cbow"))),
        }
    }
}

/// The most negative samples per example [`Word2VecConfig::validate`] accepts: each one is a
/// dot product and an update of `dim` values, so far beyond word2vec's 5 to 20 a run would not
/// end.
pub const MAX_NEGATIVE: usize = 10_000;

/// The most training threads [`Word2VecConfig::validate`] accepts: each is an operating-system
/// thread of its own, and past the cores they only wait.
pub const MAX_THREADS: usize = 1024;

/// Training settings; the defaults are word2vec's and gensim's.
#[derive(Debug, Clone, PartialEq)]
pub struct Word2VecConfig {
    /// Skip-gram or CBOW.
    pub model: Model,
    /// Vector size.
    pub dim: usize,
    /// Largest reach of the context on each side.
    pub window: usize,
    /// Negative samples per positive example.
    pub negative: usize,
    /// Subsampling threshold (0 keeps every word).
    pub sample: f64,
    /// Passes over the corpus.
    pub epochs: usize,
    /// Initial learning rate.
    pub alpha: f64,
    /// Training threads.
    pub threads: usize,
    /// Seed of the initial vectors and of each thread's random numbers.
    pub seed: u64,
    /// How threads share the weights.
    pub updates: SharedUpdates,
}

impl Default for Word2VecConfig {
    fn default() -> Self {
        Word2VecConfig {
            model: Model::SkipGram,
            dim: 100,
            window: 5,
            negative: 5,
            sample: 1e-3,
            epochs: 5,
            alpha: 0.025,
            threads: 1,
            seed: 1,
            updates: SharedUpdates::Plain,
        }
    }
}

impl Word2VecConfig {
    /// Checks every setting's range.
    pub fn validate(&self) -> Result<()> {
        let bad = |what: &str, v: String| Err(Error::Config(format!("word2vec: {what} is {v}")));
        for (name, v) in [("dim", self.dim), ("window", self.window), ("negative", self.negative)] {
            if v == 0 {
                return bad(name, "0; it must be at least 1".into());
            }
        }
        if self.epochs == 0 || self.threads == 0 {
            return bad("epochs or threads", "0; both must be at least 1".into());
        }
        if self.window > u32::MAX as usize / 2 || self.dim > 1 << 20 {
            return bad("window or dim", format!("{} / {}: too large", self.window, self.dim));
        }
        if self.threads > MAX_THREADS {
            return bad("threads", format!("{}: at most {MAX_THREADS} (one per core is the fastest)", self.threads));
        }
        if self.negative > MAX_NEGATIVE {
            return bad(
                "negative",
                format!("{}: at most {MAX_NEGATIVE} noise words per example (word2vec uses 5 to 20)", self.negative),
            );
        }
        if !(self.alpha.is_finite() && self.alpha > 0.0) {
            return bad("alpha", format!("{}; it must be above 0", self.alpha));
        }
        if !(self.sample.is_finite() && self.sample >= 0.0) {
            return bad("sample", format!("{}; it must be 0 or above", self.sample));
        }
        Ok(())
    }
}

/// Where a run is, for a progress display.
#[derive(Debug, Clone, Copy)]
pub struct TrainStatus {
    /// Corpus words processed so far, all epochs (before subsampling).
    pub words_done: u64,
    /// Words to process in all.
    pub words_total: u64,
    /// The learning rate now.
    pub alpha: f64,
    /// Mean loss per example (one positive or negative prediction) since the last status; NaN
    /// when no example was counted in between.
    pub loss: f64,
    /// Seconds since training started.
    pub seconds: f64,
}

/// What a finished run did.
#[derive(Debug, Clone, Copy)]
pub struct TrainReport {
    /// Corpus words processed, all epochs (in-vocabulary words, before subsampling).
    pub words: u64,
    /// Seconds of training (the threads' work, not reading the corpus).
    pub seconds: f64,
    /// `words / seconds`.
    pub words_per_sec: f64,
    /// Mean loss per example over the last epoch.
    pub final_loss: f64,
    /// The vector loops used: `avx2+fma` or `portable`.
    pub kernel: &'static str,
}

/// Trains word vectors on `corpus`; `progress` is called from this thread a few times a second
/// and at the end. The vectors come out in the vocabulary's order (most frequent first).
///
/// ```
/// use tessera_embed::{train, CorpusBuilder, Lang, Word2VecConfig};
/// let mut b = CorpusBuilder::new(Lang::En);
/// for _ in 0..50 {
///     b.add_line("the king and the queen rule the land");
/// }
/// let corpus = b.build(1)?;
/// let cfg = Word2VecConfig { dim: 16, epochs: 2, ..Word2VecConfig::default() };
/// let (vectors, report) = train::train(&corpus, &cfg, &mut |_| {})?;
/// assert_eq!((vectors.len(), vectors.dim()), (6, 16));
/// assert_eq!(report.words, 2 * 50 * 8);
/// # Ok::<(), tessera_embed::Error>(())
/// ```
pub fn train(
    corpus: &Corpus,
    cfg: &Word2VecConfig,
    progress: &mut dyn FnMut(&TrainStatus),
) -> Result<(Embeddings, TrainReport)> {
    cfg.validate()?;
    let (n, dim) = (corpus.vocab.len(), cfg.dim);
    if corpus.tokens.is_empty() || n == 0 {
        return Err(Error::Config("word2vec: the corpus has no words in the vocabulary".into()));
    }
    if n.checked_mul(dim).is_none_or(|v| v > isize::MAX as usize / 8) {
        return Err(Error::Config(format!("word2vec: {n} words of dimension {dim} do not fit in memory")));
    }
    let mut rng = rng::Rng::new(cfg.seed, 0);
    let init: Vec<f32> = (0..n * dim).map(|_| (rng.unit() - 0.5) / dim as f32).collect();
    let noise = NoiseTable::unigram(corpus.vocab.counts(), 0.75);
    let keep = tables::keep_thresholds(corpus.vocab.counts(), cfg.sample);
    let sigmoid = tables::Sigmoid::new();
    let words_done = AtomicU64::new(0);
    let stats: Vec<ThreadStats> = (0..cfg.threads).map(|_| ThreadStats::default()).collect();
    let words_total = corpus.tokens.len() as u64 * cfg.epochs as u64;
    let chunks = chunks(&corpus.sentence_ends, CHUNK_WORDS);
    let next_task = AtomicUsize::new(0);
    let job = Job {
        cfg,
        corpus,
        noise: &noise,
        keep: &keep,
        sigmoid: &sigmoid,
        words_done: &words_done,
        words_total,
        stats: &stats,
        chunks: &chunks,
        next_task: &next_task,
    };
    let avx2 = Avx2::available();
    let started = Instant::now();
    let status = |last: &mut (f64, u64)| {
        let (loss, examples) = stats
            .iter()
            .fold((0.0, 0), |(l, e), s| (l + f64::from_bits(s.loss_bits.load(Relaxed)), e + s.examples.load(Relaxed)));
        let mean = if examples > last.1 { (loss - last.0) / (examples - last.1) as f64 } else { f64::NAN };
        *last = (loss, examples);
        let done = words_done.load(Relaxed);
        TrainStatus {
            words_done: done,
            words_total,
            alpha: job.alpha_at(done) as f64,
            loss: mean,
            seconds: started.elapsed().as_secs_f64(),
        }
    };
    let weights = match cfg.updates {
        SharedUpdates::Plain => Weights::Plain(SharedMatrix::new(init), SharedMatrix::new(vec![0.0; n * dim])),
        SharedUpdates::Atomic => Weights::Atomic(
            init.into_iter().map(|v| AtomicU32::new(v.to_bits())).collect(),
            (0..n * dim).map(|_| AtomicU32::new(0)).collect(),
        ),
    };
    let (tx, rx) = mpsc::channel::<()>();
    std::thread::scope(|scope| {
        for thread in 0..cfg.threads {
            let (tx, job, weights) = (tx.clone(), &job, &weights);
            scope.spawn(move || {
                weights.run(job, thread, avx2);
                let _ = tx.send(());
            });
        }
        drop(tx);
        let (mut finished, mut last) = (0, (0.0, 0));
        while finished < cfg.threads {
            match rx.recv_timeout(Duration::from_millis(250)) {
                Ok(()) => finished += 1,
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            progress(&status(&mut last));
        }
    });
    let seconds = started.elapsed().as_secs_f64();
    let (loss, examples) = stats.iter().fold((0.0, 0), |(l, e), s| {
        (l + f64::from_bits(s.last_epoch_loss_bits.load(Relaxed)), e + s.last_epoch_examples.load(Relaxed))
    });
    let data = match weights {
        Weights::Plain(syn0, _) => syn0.into_vec(),
        Weights::Atomic(syn0, _) => syn0.into_iter().map(|c| f32::from_bits(c.into_inner())).collect(),
    };
    let embeddings = Embeddings::from_parts(corpus.vocab.words().iter(), dim, data)?;
    let words = words_done.load(Relaxed);
    let report = TrainReport {
        words,
        seconds,
        words_per_sec: words as f64 / seconds.max(1e-9),
        final_loss: if examples > 0 { loss / examples as f64 } else { f64::NAN },
        kernel: if avx2 { "avx2+fma" } else { "portable" },
    };
    Ok((embeddings, report))
}

/// The input (`syn0`) and output (`syn1neg`) weights, shared by the threads.
enum Weights {
    Plain(SharedMatrix, SharedMatrix),
    Atomic(Vec<AtomicU32>, Vec<AtomicU32>),
}

impl Weights {
    /// Runs one thread's share with the store and kernel chosen.
    fn run(&self, job: &Job<'_>, thread: usize, avx2: bool) {
        let dim = job.cfg.dim;
        #[cfg(target_arch = "x86_64")]
        if avx2 {
            // SAFETY: `avx2` comes from `Avx2::available()`: the CPU has AVX2 and FMA.
            unsafe { self.run_avx2(job, thread) };
            return;
        }
        let _ = avx2;
        match self {
            Weights::Plain(a, b) => work(job, &Plain::<Portable>::new(a, dim), &Plain::<Portable>::new(b, dim), thread),
            Weights::Atomic(a, b) => {
                work(job, &Atomic::<Portable>::new(a, dim), &Atomic::<Portable>::new(b, dim), thread)
            }
        }
    }

    /// The same, compiled for AVX2 + FMA so that the kernel's intrinsics inline into the loop.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2,fma")]
    unsafe fn run_avx2(&self, job: &Job<'_>, thread: usize) {
        let dim = job.cfg.dim;
        match self {
            Weights::Plain(a, b) => work(job, &Plain::<Avx2>::new(a, dim), &Plain::<Avx2>::new(b, dim), thread),
            Weights::Atomic(a, b) => work(job, &Atomic::<Avx2>::new(a, dim), &Atomic::<Avx2>::new(b, dim), thread),
        }
    }
}

/// Cuts the sentences into runs of consecutive sentences of at least `words` words (the last may
/// be shorter).
fn chunks(ends: &[usize], words: usize) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let (mut start, mut first_word) = (0, 0);
    for (s, &end) in ends.iter().enumerate() {
        if end - first_word >= words || s + 1 == ends.len() {
            out.push(start..s + 1);
            (start, first_word) = (s + 1, end);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_every_sentence_once_with_enough_words() {
        let ends: Vec<usize> = (1..=100).map(|i| i * 7).collect();
        let parts = chunks(&ends, 30);
        assert_eq!((parts[0].start, parts.last().unwrap().end), (0, 100));
        assert!(parts.windows(2).all(|w| w[0].end == w[1].start));
        // 5 sentences of 7 words reach 30; the last run holds what is left.
        assert!(parts[..parts.len() - 1].iter().all(|r| r.len() == 5), "{parts:?}");
        assert_eq!(chunks(&[5], 100), vec![std::ops::Range { start: 0, end: 1 }]);
        assert!(chunks(&[], 100).is_empty());
    }
}
