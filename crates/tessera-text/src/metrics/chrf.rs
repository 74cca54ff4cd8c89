//! chrF and chrF++ as sacreBLEU 2.x computes them.

use std::fmt;

use super::{ngrams, pystr, validate};
use crate::error::{Error, Result};
use crate::hash::FastMap;

/// chrF settings; [`Chrf::default`] is sacreBLEU's `CHRF()`, [`Chrf::plus_plus`] its chrF++.
///
/// The score is the F-beta of character n-gram precision and recall (orders 1..=`char_order`),
/// plus word n-grams (orders 1..=`word_order`) for chrF++. Statistics are summed over the corpus
/// before the score is taken; for several references, each hypothesis uses the reference that
/// gives it the best sentence-level F-score.
///
/// ```
/// use tessera_text::metrics::Chrf;
/// let hyps = ["The cat sat on the mat."];
/// let refs = [["The cat is sitting on the mat."]];
/// let chrf = Chrf::default().corpus_score(&hyps, &refs).unwrap();
/// let chrf_pp = Chrf::plus_plus().corpus_score(&hyps, &refs).unwrap();
/// assert_eq!(format!("{chrf:.2}"), "chrF2 = 49.65");
/// assert_eq!(format!("{chrf_pp:.2}"), "chrF2++ = 54.26");
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Chrf {
    /// Longest character n-gram; 6 by default, at most [`MAX_ORDER`](super::MAX_ORDER).
    pub char_order: usize,
    /// Longest word n-gram; 0 for chrF (default), 2 for chrF++; at most [`MAX_ORDER`](super::MAX_ORDER).
    pub word_order: usize,
    /// Weight of recall relative to precision; 2 by default.
    pub beta: f64,
    /// Lowercase hypotheses and references first (off by default).
    pub lowercase: bool,
    /// Keep whitespace inside character n-grams (off by default: whitespace is removed).
    pub whitespace: bool,
    /// Average the per-order F-scores with an epsilon for orders without statistics, like
    /// chrF++.py, Moses and NLTK. Off by default, as in sacreBLEU 2.x, which instead averages
    /// precision and recall over the orders that have n-grams on both sides (its `eff:yes`).
    pub eps_smoothing: bool,
}

impl Default for Chrf {
    fn default() -> Self {
        Chrf { char_order: 6, word_order: 0, beta: 2.0, lowercase: false, whitespace: false, eps_smoothing: false }
    }
}

/// A chrF score.
///
/// ```
/// use tessera_text::metrics::corpus_chrf;
/// let score = corpus_chrf(&["same text"], &["same text"]).unwrap();
/// assert_eq!(score.score, 100.0);
/// assert_eq!(score.to_string(), "chrF2 = 100.00");
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ChrfScore {
    /// The score, from 0 to 100.
    pub score: f64,
    /// The character n-gram order used.
    pub char_order: usize,
    /// The word n-gram order used (2 for chrF++).
    pub word_order: usize,
    /// The beta used.
    pub beta: f64,
}

/// sacreBLEU's name and score, e.g. `chrF2 = 52.34` or `chrF2++ = 50.12`; two decimals unless
/// the formatter asks for another precision.
impl fmt::Display for ChrfScore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plus = "+".repeat(self.word_order);
        write!(f, "chrF{}{plus} = {:.*}", self.beta, f.precision().unwrap_or(2), self.score)
    }
}

/// Per order `[hypothesis n-grams, reference n-grams, matches]`, char orders first.
type Stats = Vec<[usize; 3]>;

/// A line's n-gram counts per order, char orders first.
struct LineNgrams<'a> {
    chars: Vec<FastMap<&'a [char], usize>>,
    words: Vec<FastMap<&'a [&'a str], usize>>,
}

impl Chrf {
    /// sacreBLEU's chrF++: the defaults with `word_order` 2.
    ///
    /// ```
    /// use tessera_text::metrics::Chrf;
    /// assert_eq!(Chrf::plus_plus().word_order, 2);
    /// ```
    pub fn plus_plus() -> Self {
        Chrf { word_order: 2, ..Chrf::default() }
    }

    /// Corpus chrF of `hypotheses` against one or more reference streams (laid out as in
    /// [`Bleu::corpus_score`](super::Bleu::corpus_score): `reference_streams[k][i]` is the
    /// `k`-th reference of hypothesis `i`).
    ///
    /// Errors: [`Error::EmptyInput`] without hypotheses or streams, [`Error::InvalidArgument`]
    /// for a stream of the wrong length, both orders 0 or one above [`MAX_ORDER`](super::MAX_ORDER),
    /// or a negative or non-finite beta.
    ///
    /// ```
    /// use tessera_text::metrics::Chrf;
    /// let hyps = ["It is raining."];
    /// let streams = [["It rains."], ["It is raining today."]];
    /// let score = Chrf::default().corpus_score(&hyps, &streams).unwrap();
    /// assert!((score.score - 63.43).abs() < 0.005);
    /// ```
    pub fn corpus_score<H, S, R>(&self, hypotheses: &[H], reference_streams: &[S]) -> Result<ChrfScore>
    where
        H: AsRef<str>,
        S: AsRef<[R]>,
        R: AsRef<str>,
    {
        self.check_settings()?;
        validate::corpus_shape(hypotheses.len(), reference_streams.iter().map(|s| s.as_ref().len()))?;
        let mut total: Stats = vec![[0; 3]; self.order()];
        for (i, hyp) in hypotheses.iter().enumerate() {
            let refs = reference_streams.iter().map(|s| s.as_ref()[i].as_ref());
            for (sum, add) in total.iter_mut().zip(self.segment_stats(hyp.as_ref(), refs)) {
                for k in 0..3 {
                    sum[k] += add[k];
                }
            }
        }
        Ok(self.score(self.f_score(&total)))
    }

    /// chrF of one hypothesis against its references (sacreBLEU's `sentence_score`).
    ///
    /// ```
    /// use tessera_text::metrics::Chrf;
    /// let score = Chrf::default().sentence_score("abc", &["abc", "xyz"]).unwrap();
    /// assert_eq!(score.score, 100.0);
    /// ```
    pub fn sentence_score<R: AsRef<str>>(&self, hypothesis: &str, references: &[R]) -> Result<ChrfScore> {
        validate::sentence_refs(references.len())?;
        let streams: Vec<[&str; 1]> = references.iter().map(|r| [r.as_ref()]).collect();
        self.corpus_score(&[hypothesis], &streams)
    }

    fn order(&self) -> usize {
        self.char_order + self.word_order
    }

    fn score(&self, score: f64) -> ChrfScore {
        ChrfScore { score, char_order: self.char_order, word_order: self.word_order, beta: self.beta }
    }

    fn check_settings(&self) -> Result<()> {
        validate::order("char_order", self.char_order, true)?;
        validate::order("word_order", self.word_order, true)?;
        if self.order() == 0 {
            return Err(Error::InvalidArgument {
                name: "char_order",
                reason: format!("char_order {} + word_order {} must be positive", self.char_order, self.word_order),
            });
        }
        if !(self.beta.is_finite() && self.beta >= 0.0) {
            return Err(Error::InvalidArgument {
                name: "beta",
                reason: format!("must be finite and non-negative, not {}", self.beta),
            });
        }
        Ok(())
    }

    /// The statistics of the reference with the best sentence-level F-score (the first on a tie).
    fn segment_stats<'r>(&self, hypothesis: &str, references: impl Iterator<Item = &'r str>) -> Stats {
        let hyp = pystr::maybe_lower(hypothesis, self.lowercase);
        let (hyp_chars, hyp_words) = self.units(&hyp);
        let hyp_ngrams = self.ngrams(&hyp_chars, &hyp_words);

        let mut best: Option<(f64, Stats)> = None;
        for reference in references {
            let reference = pystr::maybe_lower(reference, self.lowercase);
            let (ref_chars, ref_words) = self.units(&reference);
            let ref_ngrams = self.ngrams(&ref_chars, &ref_words);
            let chars = hyp_ngrams.chars.iter().zip(&ref_ngrams.chars).map(|(h, r)| match_stats(h, r));
            let words = hyp_ngrams.words.iter().zip(&ref_ngrams.words).map(|(h, r)| match_stats(h, r));
            let stats: Stats = chars.chain(words).collect();
            let f = self.f_score(&stats);
            if best.as_ref().is_none_or(|(best_f, _)| f > *best_f) {
                best = Some((f, stats));
            }
        }
        best.map(|(_, stats)| stats).unwrap_or_default()
    }

    /// The characters (whitespace removed unless kept) and the punctuation-split words of a line.
    fn units<'a>(&self, line: &'a str) -> (Vec<char>, Vec<&'a str>) {
        let chars = if self.whitespace {
            line.chars().collect()
        } else {
            line.chars().filter(|&c| !pystr::is_space(c)).collect()
        };
        let words = if self.word_order > 0 { split_punctuation(line) } else { Vec::new() };
        (chars, words)
    }

    fn ngrams<'a>(&self, chars: &'a [char], words: &'a [&'a str]) -> LineNgrams<'a> {
        LineNgrams {
            chars: (1..=self.char_order).map(|n| ngrams::count(chars, n)).collect(),
            words: (1..=self.word_order).map(|n| ngrams::count(words, n)).collect(),
        }
    }

    /// sacreBLEU's `CHRF._compute_f_score`.
    fn f_score(&self, stats: &[[usize; 3]]) -> f64 {
        const EPS: f64 = 1e-16;
        let factor = self.beta * self.beta;
        let mut eps_score = 0.0;
        let (mut avg_prec, mut avg_rec, mut effective_order) = (0.0, 0.0, 0usize);
        for &[n_hyp, n_ref, n_match] in stats {
            let prec = if n_hyp > 0 { n_match as f64 / n_hyp as f64 } else { EPS };
            let rec = if n_ref > 0 { n_match as f64 / n_ref as f64 } else { EPS };
            let denom = factor * prec + rec;
            eps_score += if denom > 0.0 { (1.0 + factor) * prec * rec / denom } else { EPS };
            if n_hyp > 0 && n_ref > 0 {
                avg_prec += prec;
                avg_rec += rec;
                effective_order += 1;
            }
        }
        if self.eps_smoothing {
            return 100.0 * eps_score / stats.len() as f64;
        }
        if effective_order == 0 {
            return 0.0;
        }
        avg_prec /= effective_order as f64;
        avg_rec /= effective_order as f64;
        if avg_prec + avg_rec == 0.0 {
            return 0.0;
        }
        100.0 * ((1.0 + factor) * avg_prec * avg_rec / (factor * avg_prec + avg_rec))
    }
}

/// `[hypothesis n-grams, reference n-grams, clipped matches]`; the hypothesis count is 0 when
/// the reference has no n-grams of this order, as in sacreBLEU.
fn match_stats<T: std::hash::Hash + Eq>(hyp: &FastMap<&[T], usize>, reference: &FastMap<&[T], usize>) -> [usize; 3] {
    let (hyp_total, matched) = ngrams::clipped_matches(hyp, reference);
    let ref_total = reference.values().sum();
    [if reference.is_empty() { 0 } else { hyp_total }, ref_total, matched]
}

/// chrF++'s word splitting: whitespace-separated words, with one ASCII punctuation character
/// split off the end, or else off the start, of words longer than one character.
fn split_punctuation(line: &str) -> Vec<&str> {
    let mut words = Vec::new();
    for word in pystr::split(line) {
        let mut chars = word.char_indices();
        let (Some((_, first)), Some((last_at, last))) = (chars.next(), chars.next_back()) else {
            words.push(word);
            continue;
        };
        if last.is_ascii_punctuation() {
            words.extend([&word[..last_at], &word[last_at..]]);
        } else if first.is_ascii_punctuation() {
            words.extend([&word[..first.len_utf8()], &word[first.len_utf8()..]]);
        } else {
            words.push(word);
        }
    }
    words
}

/// Corpus chrF with sacreBLEU's defaults (`CHRF()`: chrF2, char order 6, no word n-grams) and
/// one reference per hypothesis; use [`Chrf`] for chrF++ and several references.
///
/// ```
/// use tessera_text::metrics::corpus_chrf;
/// let score = corpus_chrf(&["The cat sat on the mat."], &["The cat is sitting on the mat."]).unwrap();
/// assert!((score.score - 49.65).abs() < 0.005);
/// ```
pub fn corpus_chrf<H: AsRef<str>, R: AsRef<str>>(hypotheses: &[H], references: &[R]) -> Result<ChrfScore> {
    Chrf::default().corpus_score(hypotheses, &[references])
}

/// Sentence chrF with sacreBLEU's defaults against one or more references.
///
/// ```
/// use tessera_text::metrics::sentence_chrf;
/// let score = sentence_chrf("It is raining.", &["It rains.", "It is raining today."]).unwrap();
/// assert!((score.score - 63.43).abs() < 0.005);
/// ```
pub fn sentence_chrf<R: AsRef<str>>(hypothesis: &str, references: &[R]) -> Result<ChrfScore> {
    Chrf::default().sentence_score(hypothesis, references)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_one_punctuation_mark() {
        assert_eq!(
            split_punctuation("(hi) \"x a. .b . ü! ¿qué?"),
            ["(hi", ")", "\"", "x", "a", ".", ".", "b", ".", "ü", "!", "¿qué", "?"]
        );
    }

    #[test]
    fn rejects_bad_settings() {
        let none = Chrf { char_order: 0, ..Chrf::default() };
        assert!(matches!(none.corpus_score(&["a"], &[["a"]]), Err(Error::InvalidArgument { .. })));
        let huge = Chrf { word_order: usize::MAX, ..Chrf::default() };
        assert!(matches!(huge.corpus_score(&["a"], &[["a"]]), Err(Error::InvalidArgument { .. })));
        let beta = Chrf { beta: -1.0, ..Chrf::default() };
        assert!(matches!(beta.corpus_score(&["a"], &[["a"]]), Err(Error::InvalidArgument { .. })));
    }

    #[test]
    fn empty_lines_score_zero() {
        assert_eq!(corpus_chrf(&[""], &[""]).unwrap().score, 0.0);
        assert_eq!(corpus_chrf(&["abc"], &[""]).unwrap().score, 0.0);
    }
}
