//! Bigram and trigram language models with add-k or interpolated Kneser-Ney smoothing.

mod counts;
mod rng;

use counts::Counts;
pub use rng::SplitMix64;

use crate::error::{Error, Result};
use crate::hash::FastMap;

/// Sentence start marker (never predicted).
pub const START: &str = "<s>";
/// Sentence end marker.
pub const END: &str = "</s>";
/// Unknown word.
pub const UNKNOWN: &str = "<unk>";

const START_ID: u32 = 0;
const END_ID: u32 = 1;
const UNK_ID: u32 = 2;

/// How to turn counts into probabilities.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Smoothing {
    /// Add `k` to every count (Laplace when `k` is 1).
    AddK(f64),
    /// Interpolated Kneser-Ney with absolute discount `discount` (0.75 is the usual choice).
    KneserNey {
        /// The absolute discount, in (0, 1).
        discount: f64,
    },
}

/// An n-gram language model of order 2 (bigram) or 3 (trigram).
///
/// ```
/// use tessera_text::{NgramModel, Smoothing};
/// let corpus = [vec!["the", "cat", "sat"], vec!["the", "dog", "sat"]];
/// let lm = NgramModel::train(3, &corpus, Smoothing::KneserNey { discount: 0.75 }).unwrap();
/// let seen = lm.log_prob(&["the", "cat", "sat"]);
/// let odd = lm.log_prob(&["sat", "the", "cat"]);
/// assert!(seen > odd);
/// let ppl = lm.perplexity(&[vec!["the", "dog", "sat"]]);
/// assert!(ppl > 1.0 && ppl.is_finite());
/// ```
#[derive(Debug, Clone)]
pub struct NgramModel {
    order: usize,
    smoothing: Smoothing,
    tokens: Vec<String>,
    ids: FastMap<String, u32>,
    counts: Counts,
}

impl NgramModel {
    /// Trains on sentences of tokens. `order` is 2 or 3. The model marks each sentence's
    /// boundaries itself, so a sentence that holds `<s>` or `</s>` is an error naming where;
    /// `<unk>` is read as the unknown word (as in the Penn Treebank's text).
    pub fn train<S: AsRef<[T]>, T: AsRef<str>>(order: usize, sentences: &[S], smoothing: Smoothing) -> Result<Self> {
        if !(2..=3).contains(&order) {
            return Err(Error::InvalidArgument { name: "order", reason: format!("{order} is not 2 or 3") });
        }
        match smoothing {
            Smoothing::AddK(k) if !(k > 0.0 && k.is_finite()) => {
                return Err(Error::InvalidArgument { name: "k", reason: format!("{k} must be positive") })
            }
            Smoothing::KneserNey { discount } if !(discount > 0.0 && discount < 1.0) => {
                return Err(Error::InvalidArgument {
                    name: "discount",
                    reason: format!("{discount} must be in (0, 1)"),
                })
            }
            _ => {}
        }
        let mut model =
            Self { order, smoothing, tokens: Vec::new(), ids: FastMap::default(), counts: Counts::default() };
        for t in [START, END, UNKNOWN] {
            model.intern(t);
        }
        let mut seqs = Vec::with_capacity(sentences.len());
        for (i, s) in sentences.iter().enumerate() {
            if let Some((at, w)) = s.as_ref().iter().enumerate().find(|(_, w)| [START, END].contains(&w.as_ref())) {
                return Err(Error::InvalidArgument {
                    name: "sentences",
                    reason: format!(
                        "sentence {i} holds the boundary marker {:?} at word {at}; the model adds <s> and </s> \
                         around each sentence itself",
                        w.as_ref()
                    ),
                });
            }
            let words: Vec<u32> = s.as_ref().iter().map(|w| model.intern(w.as_ref())).collect();
            seqs.push(model.pad(words));
        }
        if seqs.is_empty() {
            return Err(Error::EmptyInput("an n-gram model needs at least one training sentence".into()));
        }
        model.counts = Counts::from_sequences(&seqs, order);
        Ok(model)
    }

    fn intern(&mut self, token: &str) -> u32 {
        if let Some(id) = self.ids.get(token) {
            return *id;
        }
        let id = self.tokens.len() as u32;
        self.ids.insert(token.to_string(), id);
        self.tokens.push(token.to_string());
        id
    }

    fn pad(&self, words: Vec<u32>) -> Vec<u32> {
        let mut seq = vec![START_ID; self.order - 1];
        seq.extend(words);
        seq.push(END_ID);
        seq
    }

    /// The model's order (2 or 3).
    pub fn order(&self) -> usize {
        self.order
    }

    /// Number of tokens that can be predicted (the vocabulary without `<s>`).
    pub fn vocab_size(&self) -> usize {
        self.tokens.len() - 1
    }

    fn id(&self, token: &str) -> u32 {
        self.ids.get(token).copied().unwrap_or(UNK_ID)
    }

    /// P(word | context); the context's last `order - 1` tokens are used, `<s>` fills the rest.
    /// Unknown words are read as `<unk>`.
    pub fn prob(&self, context: &[&str], word: &str) -> f64 {
        let mut ctx = vec![START_ID; self.order - 1];
        ctx.extend(context.iter().map(|w| self.id(w)));
        let h = &ctx[ctx.len() - (self.order - 1)..];
        self.prob_ids(h, self.id(word))
    }

    fn prob_ids(&self, h: &[u32], w: u32) -> f64 {
        let c = &self.counts;
        let v = self.vocab_size() as f64;
        match self.smoothing {
            // `<s>` is never predicted: the k added to every count goes to the vocabulary only.
            Smoothing::AddK(_) if w == START_ID => 0.0,
            Smoothing::AddK(k) => {
                let (num, den) = match *h {
                    [u, x] => (
                        c.trigram.get(&(u, x, w)).copied().unwrap_or(0),
                        c.trigram_context.get(&(u, x)).copied().unwrap_or(0),
                    ),
                    [x] => {
                        (c.bigram.get(&(x, w)).copied().unwrap_or(0), c.bigram_context.get(&x).copied().unwrap_or(0))
                    }
                    _ => (0, 0),
                };
                (num as f64 + k) / (den as f64 + k * v)
            }
            Smoothing::KneserNey { discount: d } => match *h {
                [u, x] => {
                    let lower = self.kn_middle(x, w, d);
                    let den = c.trigram_context.get(&(u, x)).copied().unwrap_or(0) as f64;
                    if den == 0.0 {
                        return lower;
                    }
                    let num = c.trigram.get(&(u, x, w)).copied().unwrap_or(0) as f64;
                    let types = c.trigram_followers.get(&(u, x)).copied().unwrap_or(0) as f64;
                    (num - d).max(0.0) / den + d * types / den * lower
                }
                [x] => {
                    let lower = self.kn_unigram(w, d);
                    let den = c.bigram_context.get(&x).copied().unwrap_or(0) as f64;
                    if den == 0.0 {
                        return lower;
                    }
                    let num = c.bigram.get(&(x, w)).copied().unwrap_or(0) as f64;
                    let types = c.bigram_followers.get(&x).copied().unwrap_or(0) as f64;
                    (num - d).max(0.0) / den + d * types / den * lower
                }
                _ => self.kn_unigram(w, d),
            },
        }
    }

    /// Continuation probability of `w` after `v` (the middle order of trigram Kneser-Ney).
    fn kn_middle(&self, v: u32, w: u32, d: f64) -> f64 {
        let c = &self.counts;
        let lower = self.kn_unigram(w, d);
        let den = c.bigram_continuation_context.get(&v).copied().unwrap_or(0) as f64;
        if den == 0.0 {
            return lower;
        }
        let num = c.bigram_continuation.get(&(v, w)).copied().unwrap_or(0) as f64;
        let types = c.bigram_continuation_types.get(&v).copied().unwrap_or(0) as f64;
        (num - d).max(0.0) / den + d * types / den * lower
    }

    /// Unigram continuation probability, interpolated with the uniform distribution.
    fn kn_unigram(&self, w: u32, d: f64) -> f64 {
        let c = &self.counts;
        let v = self.vocab_size() as f64;
        let den = c.bigram_types as f64;
        if den == 0.0 || w == START_ID {
            return if w == START_ID { 0.0 } else { 1.0 / v };
        }
        let num = c.unigram_continuation.get(&w).copied().unwrap_or(0) as f64;
        let types = c.unigram_continuation.len() as f64;
        (num - d).max(0.0) / den + d * types / den / v
    }

    /// Natural-log probability of a sentence (its words, then `</s>`).
    pub fn log_prob<T: AsRef<str>>(&self, sentence: &[T]) -> f64 {
        let ids: Vec<u32> = sentence.iter().map(|w| self.id(w.as_ref())).collect();
        let seq = self.pad(ids);
        let n = self.order - 1;
        (n..seq.len()).map(|i| self.prob_ids(&seq[i - n..i], seq[i]).ln()).sum()
    }

    /// Perplexity on held-out sentences: `exp(-total log-prob / predicted tokens)`, counting
    /// `</s>` as a token.
    pub fn perplexity<S: AsRef<[T]>, T: AsRef<str>>(&self, sentences: &[S]) -> f64 {
        let mut total = 0.0;
        let mut n = 0usize;
        for s in sentences {
            total += self.log_prob(s.as_ref());
            n += s.as_ref().len() + 1;
        }
        if n == 0 {
            return f64::NAN;
        }
        (-total / n as f64).exp()
    }

    /// Samples a sentence (without markers) of at most `max_len` tokens; the same seed gives the
    /// same sentence.
    pub fn sample(&self, seed: u64, max_len: usize) -> Vec<String> {
        let mut rng = SplitMix64::new(seed);
        let mut ctx = vec![START_ID; self.order - 1];
        let mut out = Vec::new();
        while out.len() < max_len {
            let r = rng.next_f64();
            let mut acc = 0.0;
            let mut chosen = END_ID;
            for w in 1..self.tokens.len() as u32 {
                acc += self.prob_ids(&ctx, w);
                if r < acc {
                    chosen = w;
                    break;
                }
            }
            if chosen == END_ID {
                break;
            }
            out.push(self.tokens[chosen as usize].clone());
            ctx.remove(0);
            ctx.push(chosen);
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn corpus() -> Vec<Vec<&'static str>> {
        ["a b c", "a b d", "b c a", "c a b"].iter().map(|s| s.split(' ').collect()).collect()
    }

    fn total_prob(lm: &NgramModel, ctx: &[&str]) -> f64 {
        lm.tokens[1..].iter().map(|w| lm.prob(ctx, w)).sum()
    }

    #[test]
    fn distributions_sum_to_one() {
        for order in [2, 3] {
            for smoothing in [Smoothing::AddK(0.5), Smoothing::KneserNey { discount: 0.75 }] {
                let lm = NgramModel::train(order, &corpus(), smoothing).unwrap();
                for ctx in [&["a", "b"][..], &["b"], &[], &["zzz", "q"]] {
                    let total = total_prob(&lm, ctx);
                    assert!((total - 1.0).abs() < 1e-9, "order {order} {smoothing:?} {ctx:?}: {total}");
                    // The start marker takes no mass (add-k gave it k / (c + kV) beside the 1).
                    assert_eq!(lm.prob(ctx, START), 0.0, "order {order} {smoothing:?} {ctx:?}");
                }
            }
        }
    }

    #[test]
    fn add_one_bigram_matches_hand_computation() {
        let lm = NgramModel::train(2, &corpus(), Smoothing::AddK(1.0)).unwrap();
        // c(a b) = 3, c(a .) = 4, V = 6 (</s> <unk> a b c d).
        assert!((lm.prob(&["a"], "b") - 4.0 / 10.0).abs() < 1e-12);
    }

    #[test]
    fn sampling_is_reproducible() {
        let lm = NgramModel::train(3, &corpus(), Smoothing::KneserNey { discount: 0.75 }).unwrap();
        assert_eq!(lm.sample(7, 20), lm.sample(7, 20));
    }

    #[test]
    fn bad_arguments_are_errors() {
        assert!(NgramModel::train(4, &corpus(), Smoothing::AddK(1.0)).is_err());
        assert!(NgramModel::train(2, &corpus(), Smoothing::AddK(0.0)).is_err());
        let empty: Vec<Vec<&str>> = Vec::new();
        assert!(NgramModel::train(2, &empty, Smoothing::AddK(1.0)).is_err());
    }

    /// Found by the `text_pipeline` fuzz target: `</s> <unk> <s>` as a training sentence made
    /// the add-k probabilities of its distinct words add up to 1.1, with `<s>` counted as a
    /// sentence start in the middle of a sentence.
    #[test]
    fn boundary_markers_inside_a_sentence_are_errors_and_unk_is_a_word() {
        for marker in [START, END] {
            let corpus = [vec!["a", "b"], vec!["c", marker, "d"]];
            let err = NgramModel::train(2, &corpus, Smoothing::AddK(0.5)).unwrap_err().to_string();
            assert!(err.contains("sentence 1") && err.contains(marker) && err.contains("word 1"), "{err}");
        }
        let lm = NgramModel::train(2, &[vec!["a", UNKNOWN, "b"]], Smoothing::AddK(0.5)).unwrap();
        assert_eq!(lm.prob(&["a"], UNKNOWN), lm.prob(&["a"], "never seen"));
    }
}
