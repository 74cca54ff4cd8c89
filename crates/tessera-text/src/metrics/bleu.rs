//! Corpus and sentence BLEU as sacreBLEU 2.x computes them.

use super::bleu_score::{self, BleuScore};
use super::{ngrams, pystr, tokenize_13a, validate};
use crate::error::{Error, Result};
use crate::hash::FastMap;

/// How hypotheses and references are split into words before counting n-grams.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BleuTokenize {
    /// sacreBLEU's default `13a` tokenizer (mteval-v13a), see [`tokenize_13a`](super::tokenize_13a).
    #[default]
    Mteval13a,
    /// sacreBLEU's `none`: split on whitespace only, for text that is already tokenized.
    None,
}

/// How BLEU treats an n-gram order without matches (Chen & Cherry, 2014).
///
/// sacreBLEU's defaults for the valued methods are `Floor(0.1)` and `AddK(1.0)`.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum BleuSmoothing {
    /// No smoothing: a zero precision makes BLEU 0.
    None,
    /// A zero match count counts as this value (method 1).
    Floor(f64),
    /// Add `k` to matches and totals of orders 2 and up (method 2).
    AddK(f64),
    /// NIST / mteval-v13a smoothing, sacreBLEU's default: the `i`-th order without matches gets
    /// precision `1 / (2^i * total)` (method 3).
    #[default]
    Exp,
}

/// BLEU settings; [`Bleu::default`] is sacreBLEU's `BLEU()`.
///
/// sacreBLEU's `force` flag only silences a warning about tokenized-looking input and does not
/// change scores, so it has no counterpart here.
///
/// ```
/// use tessera_text::metrics::{Bleu, BleuSmoothing};
/// let hyps = ["The cat sat on the mat.", "It is raining today."];
/// // One reference stream per set of references: here two references per hypothesis.
/// let refs = [
///     vec!["The cat sat on the mat.", "It rains."],
///     vec!["A cat was sitting on the mat.", "It is raining today."],
/// ];
/// let score = Bleu::default().corpus_score(&hyps, &refs).unwrap();
/// assert!((score.score - 100.0).abs() < 1e-9);
///
/// let floor = Bleu { smooth: BleuSmoothing::Floor(0.1), lowercase: true, ..Bleu::default() };
/// let score = floor.corpus_score(&["the cat sat down"], &[["The cat sat on the mat"]]).unwrap();
/// assert_eq!(score.to_string(), "BLEU = 24.12 75.0/66.7/50.0/10.0 (BP = 0.607 ratio = 0.667 hyp_len = 4 ref_len = 6)");
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bleu {
    /// Lowercase hypotheses and references first (off by default).
    pub lowercase: bool,
    /// The tokenizer; `13a` by default.
    pub tokenize: BleuTokenize,
    /// The smoothing method; `exp` by default.
    pub smooth: BleuSmoothing,
    /// The longest n-gram order; 4 by default, at most [`MAX_ORDER`](super::MAX_ORDER).
    pub max_ngram_order: usize,
    /// Average only over the orders for which the hypotheses have n-grams at all (off for corpus
    /// BLEU, on for sentence BLEU, as in sacreBLEU).
    pub effective_order: bool,
}

impl Default for Bleu {
    fn default() -> Self {
        Bleu {
            lowercase: false,
            tokenize: BleuTokenize::Mteval13a,
            smooth: BleuSmoothing::Exp,
            max_ngram_order: 4,
            effective_order: false,
        }
    }
}

/// Summed statistics of a corpus, in sacreBLEU's layout.
struct Stats {
    sys_len: usize,
    ref_len: usize,
    counts: Vec<usize>,
    totals: Vec<usize>,
}

impl Bleu {
    /// The settings of sacreBLEU's `sentence_bleu`: the defaults with `effective_order` on.
    ///
    /// ```
    /// use tessera_text::metrics::Bleu;
    /// assert!(Bleu::sentence().effective_order);
    /// ```
    pub fn sentence() -> Self {
        Bleu { effective_order: true, ..Bleu::default() }
    }

    /// Corpus BLEU of `hypotheses` against one or more reference streams.
    ///
    /// As in sacreBLEU, `reference_streams[k][i]` is the `k`-th reference of hypothesis `i`:
    /// each stream is a whole reference translation of the corpus. Every stream must have one
    /// line per hypothesis. Per hypothesis, n-gram matches are clipped by the highest count in
    /// any of its references, and the brevity penalty uses the reference closest in length.
    ///
    /// Errors: [`Error::EmptyInput`] without hypotheses or without streams,
    /// [`Error::InvalidArgument`] when a stream's length differs from the number of hypotheses
    /// or the settings are invalid (order 0 or above [`MAX_ORDER`](super::MAX_ORDER), negative or
    /// non-finite smoothing value).
    ///
    /// ```
    /// use tessera_text::metrics::Bleu;
    /// let hyps = ["the cat is on the mat"];
    /// let one_stream = [vec!["the cat sat on the mat".to_string()]];
    /// let score = Bleu::default().corpus_score(&hyps, &one_stream).unwrap();
    /// assert!((score.score - 37.99).abs() < 0.005);
    /// assert!(Bleu::default().corpus_score(&hyps, &[vec!["a", "b"]]).is_err());
    /// ```
    pub fn corpus_score<H, S, R>(&self, hypotheses: &[H], reference_streams: &[S]) -> Result<BleuScore>
    where
        H: AsRef<str>,
        S: AsRef<[R]>,
        R: AsRef<str>,
    {
        self.check_settings()?;
        validate::corpus_shape(hypotheses.len(), reference_streams.iter().map(|s| s.as_ref().len()))?;
        let mut stats = Stats {
            sys_len: 0,
            ref_len: 0,
            counts: vec![0; self.max_ngram_order],
            totals: vec![0; self.max_ngram_order],
        };
        let mut refs = Vec::with_capacity(reference_streams.len());
        for (i, hyp) in hypotheses.iter().enumerate() {
            refs.clear();
            refs.extend(reference_streams.iter().map(|s| s.as_ref()[i].as_ref()));
            self.add_segment(hyp.as_ref(), &refs, &mut stats);
        }
        Ok(bleu_score::compute(
            stats.counts,
            stats.totals,
            stats.sys_len,
            stats.ref_len,
            self.smooth,
            self.effective_order,
        ))
    }

    /// BLEU of one hypothesis against its references (sacreBLEU's `sentence_score`).
    ///
    /// ```
    /// use tessera_text::metrics::Bleu;
    /// let score = Bleu::sentence().sentence_score("Yes.", &["Yes."]).unwrap();
    /// assert!((score.score - 100.0).abs() < 1e-9);
    /// ```
    pub fn sentence_score<R: AsRef<str>>(&self, hypothesis: &str, references: &[R]) -> Result<BleuScore> {
        validate::sentence_refs(references.len())?;
        let streams: Vec<[&str; 1]> = references.iter().map(|r| [r.as_ref()]).collect();
        self.corpus_score(&[hypothesis], &streams)
    }

    fn check_settings(&self) -> Result<()> {
        validate::order("max_ngram_order", self.max_ngram_order, false)?;
        if let BleuSmoothing::Floor(v) | BleuSmoothing::AddK(v) = self.smooth {
            if !(v.is_finite() && v >= 0.0) {
                return Err(Error::InvalidArgument {
                    name: "smooth",
                    reason: format!("the smoothing value must be finite and non-negative, not {v}"),
                });
            }
        }
        Ok(())
    }

    /// sacreBLEU's `_preprocess_segment`: lowercase, strip trailing whitespace, tokenize.
    fn preprocess(&self, line: &str) -> String {
        let line = pystr::maybe_lower(line, self.lowercase);
        let line = pystr::rstrip(&line);
        match self.tokenize {
            BleuTokenize::Mteval13a => tokenize_13a(line),
            BleuTokenize::None => line.to_owned(),
        }
    }

    fn add_segment(&self, hypothesis: &str, references: &[&str], stats: &mut Stats) {
        let max_order = self.max_ngram_order;
        let ref_lines: Vec<String> = references.iter().map(|r| self.preprocess(r)).collect();
        let ref_tokens: Vec<Vec<&str>> = ref_lines.iter().map(|l| pystr::split(l).collect()).collect();

        // The most times each n-gram occurs in any one reference.
        let mut ref_max: FastMap<&[&str], usize> = FastMap::default();
        for tokens in &ref_tokens {
            for n in 1..=max_order.min(tokens.len()) {
                for (gram, count) in ngrams::count(tokens, n) {
                    let best = ref_max.entry(gram).or_insert(0);
                    *best = (*best).max(count);
                }
            }
        }

        let hyp_line = self.preprocess(hypothesis);
        let hyp_tokens: Vec<&str> = pystr::split(&hyp_line).collect();
        for n in 1..=max_order.min(hyp_tokens.len()) {
            let (total, matched) = ngrams::clipped_matches(&ngrams::count(&hyp_tokens, n), &ref_max);
            stats.totals[n - 1] += total;
            stats.counts[n - 1] += matched;
        }
        stats.sys_len += hyp_tokens.len();
        stats.ref_len += closest_ref_len(hyp_tokens.len(), ref_tokens.iter().map(Vec::len));
    }
}

/// The reference length closest to the hypothesis length, the shorter one on a tie.
fn closest_ref_len(hyp_len: usize, ref_lens: impl Iterator<Item = usize>) -> usize {
    ref_lens.min_by_key(|&len| (len.abs_diff(hyp_len), len)).unwrap_or(0)
}

/// Corpus BLEU with sacreBLEU's defaults (`13a`, `exp` smoothing, case-sensitive) and one
/// reference per hypothesis; see [`Bleu::corpus_score`] for several references and other settings.
///
/// ```
/// use tessera_text::metrics::corpus_bleu;
/// let hyps = ["The cat sat on the mat.", "It is raining today."];
/// let refs = ["The cat sat on the mat.", "It was raining yesterday."];
/// let score = corpus_bleu(&hyps, &refs).unwrap();
/// assert!((score.score - 67.56).abs() < 0.005);
/// assert!(corpus_bleu(&hyps, &refs[..1]).is_err());
/// ```
pub fn corpus_bleu<H: AsRef<str>, R: AsRef<str>>(hypotheses: &[H], references: &[R]) -> Result<BleuScore> {
    Bleu::default().corpus_score(hypotheses, &[references])
}

/// Sentence BLEU as sacreBLEU's `sentence_bleu`: defaults plus effective order, against one or
/// more references.
///
/// ```
/// use tessera_text::metrics::sentence_bleu;
/// let score = sentence_bleu("the cat", &["the cat sat on the mat"]).unwrap();
/// assert!((score.score - 13.53).abs() < 0.005);
/// ```
pub fn sentence_bleu<R: AsRef<str>>(hypothesis: &str, references: &[R]) -> Result<BleuScore> {
    Bleu::sentence().sentence_score(hypothesis, references)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_length_prefers_shorter_on_tie() {
        assert_eq!(closest_ref_len(6, [8, 4].into_iter()), 4);
        assert_eq!(closest_ref_len(3, [5, 2, 4].into_iter()), 2);
        assert_eq!(closest_ref_len(3, std::iter::empty()), 0);
    }

    #[test]
    fn rejects_bad_settings() {
        let zero = Bleu { max_ngram_order: 0, ..Bleu::default() };
        assert!(matches!(zero.corpus_score(&["a"], &[["a"]]), Err(Error::InvalidArgument { .. })));
        let nan = Bleu { smooth: BleuSmoothing::Floor(f64::NAN), ..Bleu::default() };
        assert!(matches!(nan.corpus_score(&["a"], &[["a"]]), Err(Error::InvalidArgument { .. })));
    }

    #[test]
    fn huge_orders_and_empty_lines_do_not_panic() {
        let too_big = Bleu { max_ngram_order: usize::MAX, ..Bleu::default() };
        assert!(matches!(too_big.corpus_score(&["a"], &[["a"]]), Err(Error::InvalidArgument { .. })));
        let big = Bleu { max_ngram_order: 1000, ..Bleu::default() };
        let score = big.corpus_score(&["", "a b"], &[["", "a b"]]).unwrap();
        assert_eq!(score.precisions.len(), 1000);
        assert_eq!(score.score, 0.0);
    }
}
