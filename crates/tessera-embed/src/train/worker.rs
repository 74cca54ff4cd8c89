//! One training thread: its share of the sentences, every epoch, with the skip-gram or CBOW
//! negative-sampling update of the original word2vec.

use super::rng::Rng;
use super::store::Store;
use super::tables::{NoiseTable, Sigmoid};
use super::{Model, Word2VecConfig};
use crate::corpus::Corpus;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering::Relaxed};

/// Words a thread processes between updates of the shared word count (and so of the learning
/// rate), as in word2vec.
const REPORT_EVERY: u64 = 10_000;

/// What every thread shares, read-only apart from the counters.
pub(crate) struct Job<'a> {
    pub(crate) cfg: &'a Word2VecConfig,
    pub(crate) corpus: &'a Corpus,
    pub(crate) noise: &'a NoiseTable,
    /// Per word, the subsampling threshold for 32 random bits.
    pub(crate) keep: &'a [u64],
    pub(crate) sigmoid: &'a Sigmoid,
    /// Words processed by all threads (raw, before subsampling).
    pub(crate) words_done: &'a AtomicU64,
    /// Words to process in all: epochs × corpus words.
    pub(crate) words_total: u64,
    /// Per thread: running loss sum (f64 bits) and examples, for progress.
    pub(crate) stats: &'a [ThreadStats],
    /// Runs of consecutive sentences of about [`CHUNK_WORDS`] words: the units of work.
    pub(crate) chunks: &'a [Range<usize>],
    /// The next task (epoch × chunks + chunk) to take.
    pub(crate) next_task: &'a AtomicUsize,
}

/// Words per unit of work (whole sentences, so a little more).
pub(crate) const CHUNK_WORDS: usize = 10_000;

/// A thread's published loss.
#[derive(Default)]
pub(crate) struct ThreadStats {
    pub(crate) loss_bits: AtomicU64,
    pub(crate) examples: AtomicU64,
    pub(crate) last_epoch_loss_bits: AtomicU64,
    pub(crate) last_epoch_examples: AtomicU64,
}

impl ThreadStats {
    fn add(&self, loss: f64, examples: u64) {
        // Only this thread writes these; a load-add-store is enough.
        let sum = f64::from_bits(self.loss_bits.load(Relaxed)) + loss;
        self.loss_bits.store(sum.to_bits(), Relaxed);
        self.examples.fetch_add(examples, Relaxed);
    }
}

impl Job<'_> {
    /// Linear decay from `alpha` to `alpha * 1e-4` over all the words of all epochs.
    pub(crate) fn alpha_at(&self, done: u64) -> f32 {
        let frac = 1.0 - done as f64 / (self.words_total as f64 + 1.0);
        (self.cfg.alpha * frac.max(1e-4)) as f32
    }
}

/// The per-thread buffers of one update.
struct Buffers {
    /// The input vector: a context word's (skip-gram) or the context mean (CBOW).
    input: Vec<f32>,
    /// The error to add to the input word(s).
    error: Vec<f32>,
    /// For the atomic store's copies.
    scratch: Vec<f32>,
    /// The positive and negative targets of one example.
    targets: Vec<u32>,
}

/// Trains until every task is done: a task is one chunk of sentences in one epoch, taken in order
/// from the shared counter, so a thread that runs slower (a busy core) takes fewer of them. With
/// one thread the order is the corpus's, epoch after epoch.
#[inline(always)]
pub(crate) fn work<S: Store>(job: &Job<'_>, syn0: &S, syn1: &S, thread: usize) {
    let cfg = job.cfg;
    let dim = cfg.dim;
    let mut rng = Rng::new(cfg.seed, thread as u64 + 1);
    let mut buf = Buffers {
        input: vec![0.0; dim],
        error: vec![0.0; dim],
        scratch: vec![0.0; dim],
        targets: Vec::with_capacity(cfg.negative + 1),
    };
    let mut kept: Vec<u32> = Vec::with_capacity(crate::corpus::MAX_SENTENCE_WORDS);
    let ends = &job.corpus.sentence_ends;
    let window = cfg.window as u32;
    let mut alpha = job.alpha_at(job.words_done.load(Relaxed));
    let (mut pending, mut loss, mut examples) = (0u64, 0f64, 0u64);
    let (mut last_loss, mut last_examples) = (0f64, 0u64);
    let tasks = job.chunks.len() * cfg.epochs;
    loop {
        let task = job.next_task.fetch_add(1, Relaxed);
        if task >= tasks {
            break;
        }
        let last_epoch = task / job.chunks.len() + 1 == cfg.epochs;
        for s in job.chunks[task % job.chunks.len()].clone() {
            let start = if s == 0 { 0 } else { ends[s - 1] };
            let sentence = &job.corpus.tokens[start..ends[s]];
            pending += sentence.len() as u64;
            if pending >= REPORT_EVERY {
                let done = job.words_done.fetch_add(pending, Relaxed) + pending;
                pending = 0;
                alpha = job.alpha_at(done);
                job.stats[thread].add(loss, examples);
                (loss, examples) = (0.0, 0);
            }
            kept.clear();
            for &w in sentence {
                if (rng.next_u64() >> 32) < job.keep[w as usize] {
                    kept.push(w);
                }
            }
            for pos in 0..kept.len() {
                // The dynamic window: a reach of 1..=window words on each side.
                let reach = (window - rng.below(window)) as usize;
                let lo = pos.saturating_sub(reach);
                let hi = (pos + reach).min(kept.len() - 1);
                let (l, n) = match cfg.model {
                    Model::SkipGram => {
                        let (mut l, mut n) = (0.0, 0);
                        for c in (lo..=hi).filter(|&c| c != pos) {
                            let (cl, cn) =
                                skipgram_pair(job, syn0, syn1, &mut rng, &mut buf, kept[c], kept[pos], alpha);
                            (l, n) = (l + cl, n + cn);
                        }
                        (l, n)
                    }
                    Model::Cbow => cbow_word(job, syn0, syn1, &mut rng, &mut buf, &kept, pos, lo..hi + 1, alpha),
                };
                loss += l as f64;
                examples += n as u64;
                if last_epoch {
                    last_loss += l as f64;
                    last_examples += n as u64;
                }
            }
        }
    }
    job.words_done.fetch_add(pending, Relaxed);
    job.stats[thread].add(loss, examples);
    job.stats[thread].last_epoch_loss_bits.store(last_loss.to_bits(), Relaxed);
    job.stats[thread].last_epoch_examples.store(last_examples, Relaxed);
}

/// The negative-sampling step for one input vector (in `buf.input`) predicting `word`: the
/// word as the positive example, `negative` draws from the noise table as negatives (a draw of
/// `word` itself is skipped). Accumulates the input's error in `buf.error`; returns the loss and
/// the number of examples.
#[inline(always)]
fn negative_sampling<S: Store>(
    job: &Job<'_>,
    syn1: &S,
    rng: &mut Rng,
    buf: &mut Buffers,
    word: u32,
    alpha: f32,
) -> (f32, u32) {
    // Draw the targets first and ask for their rows, so that the loads overlap.
    buf.targets.clear();
    buf.targets.push(word);
    for _ in 0..job.cfg.negative {
        let t = job.noise.sample(rng);
        if t != word {
            buf.targets.push(t);
        }
    }
    for &t in &buf.targets {
        syn1.prefetch(t);
    }
    let mut loss = 0.0;
    for (i, &target) in buf.targets.iter().enumerate() {
        let f = syn1.dot(target, &buf.input, &mut buf.scratch);
        let (g, l) = job.sigmoid.step(f, i == 0);
        syn1.update(target, g * alpha, &buf.input, &mut buf.error, &mut buf.scratch);
        loss += l;
    }
    (loss, buf.targets.len() as u32)
}

/// Skip-gram: the context word's vector predicts the centre word (as in word2vec's C code).
#[inline(always)]
fn skipgram_pair<S: Store>(
    job: &Job<'_>,
    syn0: &S,
    syn1: &S,
    rng: &mut Rng,
    buf: &mut Buffers,
    context: u32,
    word: u32,
    alpha: f32,
) -> (f32, u32) {
    syn0.read(context, &mut buf.input);
    buf.error.fill(0.0);
    let r = negative_sampling(job, syn1, rng, buf, word, alpha);
    syn0.add(context, &buf.error, &mut buf.scratch);
    r
}

/// CBOW: the mean of the context vectors predicts the centre word; each context word receives
/// the whole error (word2vec's `cbow_mean`).
#[inline(always)]
fn cbow_word<S: Store>(
    job: &Job<'_>,
    syn0: &S,
    syn1: &S,
    rng: &mut Rng,
    buf: &mut Buffers,
    kept: &[u32],
    pos: usize,
    window: Range<usize>,
    alpha: f32,
) -> (f32, u32) {
    buf.input.fill(0.0);
    let mut count = 0;
    for c in window.clone().filter(|&c| c != pos) {
        syn0.add_to(kept[c], &mut buf.input);
        count += 1;
    }
    if count == 0 {
        return (0.0, 0);
    }
    let inv = 1.0 / count as f32;
    buf.input.iter_mut().for_each(|v| *v *= inv);
    buf.error.fill(0.0);
    let r = negative_sampling(job, syn1, rng, buf, kept[pos], alpha);
    for c in window.filter(|&c| c != pos) {
        syn0.add(kept[c], &buf.error, &mut buf.scratch);
    }
    r
}
