//! The BLEU score and its computation from corpus statistics.

use std::fmt;

use super::bleu::BleuSmoothing;

/// A BLEU score with the statistics it was computed from, as sacreBLEU's `BLEUScore` reports it.
///
/// ```
/// use tessera_text::metrics::corpus_bleu;
/// let score = corpus_bleu(&["the cat sat on the mat"], &["the cat sat on the mat"]).unwrap();
/// // exp(ln 100) in floating point, exactly as sacreBLEU computes it.
/// assert_eq!(score.score, 100.00000000000004);
/// assert_eq!((score.sys_len, score.ref_len), (6, 6));
/// assert_eq!(score.counts, [6, 5, 4, 3]);
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct BleuScore {
    /// BLEU, from 0 to 100.
    pub score: f64,
    /// Modified n-gram precisions in percent, one per order 1..=`max_ngram_order`, after
    /// smoothing; 0 for orders past the longest hypothesis.
    pub precisions: Vec<f64>,
    /// The brevity penalty, `exp(1 - ref_len / sys_len)` when the hypotheses are shorter, else 1.
    pub brevity_penalty: f64,
    /// Number of hypothesis tokens in the corpus.
    pub sys_len: usize,
    /// Number of reference tokens, taking for each hypothesis the reference closest in length
    /// (the shorter one on a tie).
    pub ref_len: usize,
    /// Clipped n-gram matches per order, before any smoothing.
    pub counts: Vec<usize>,
    /// Hypothesis n-grams per order, before any smoothing.
    pub totals: Vec<usize>,
}

impl BleuScore {
    /// `sys_len / ref_len`, or 0 when there are no reference tokens.
    ///
    /// ```
    /// use tessera_text::metrics::corpus_bleu;
    /// let score = corpus_bleu(&["a b c"], &["a b c d"]).unwrap();
    /// assert_eq!(score.ratio(), 0.75);
    /// ```
    pub fn ratio(&self) -> f64 {
        if self.ref_len == 0 {
            0.0
        } else {
            self.sys_len as f64 / self.ref_len as f64
        }
    }
}

/// sacreBLEU's score line without the signature, e.g.
/// `BLEU = 41.23 72.1/50.3/38.2/29.0 (BP = 0.952 ratio = 0.953 hyp_len = 123 ref_len = 129)`.
impl fmt::Display for BleuScore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BLEU = {:.2} ", self.score)?;
        for (i, p) in self.precisions.iter().enumerate() {
            if i > 0 {
                f.write_str("/")?;
            }
            write!(f, "{p:.1}")?;
        }
        write!(
            f,
            " (BP = {:.3} ratio = {:.3} hyp_len = {} ref_len = {})",
            self.brevity_penalty,
            self.ratio(),
            self.sys_len,
            self.ref_len
        )
    }
}

/// What sacreBLEU's `my_log` gives for `log(0)`: a floor, so that a zero precision makes BLEU 0
/// instead of failing.
const LOG_ZERO: f64 = -9_999_999_999.0;

/// sacreBLEU's `BLEU.compute_bleu`: BLEU from summed corpus statistics.
pub(crate) fn compute(
    counts: Vec<usize>,
    totals: Vec<usize>,
    sys_len: usize,
    ref_len: usize,
    smoothing: BleuSmoothing,
    effective_order: bool,
) -> BleuScore {
    let max_order = counts.len();
    let brevity_penalty = if sys_len >= ref_len {
        1.0
    } else if sys_len > 0 {
        (1.0 - ref_len as f64 / sys_len as f64).exp()
    } else {
        0.0
    };
    let mut precisions = vec![0.0; max_order];
    let mut score = 0.0;

    if counts.iter().any(|&c| c > 0) {
        let mut exp_divisor = 1.0;
        let mut order = max_order;
        for n in 0..max_order {
            let (mut correct, mut total) = (counts[n] as f64, totals[n] as f64);
            if let BleuSmoothing::AddK(k) = smoothing {
                if n > 0 {
                    correct += k;
                    total += k;
                }
            }
            if total == 0.0 {
                break;
            }
            if effective_order {
                order = n + 1;
            }
            precisions[n] = if correct != 0.0 {
                100.0 * correct / total
            } else {
                match smoothing {
                    BleuSmoothing::Exp => {
                        exp_divisor *= 2.0;
                        100.0 / (exp_divisor * total)
                    }
                    BleuSmoothing::Floor(floor) => 100.0 * floor / total,
                    BleuSmoothing::AddK(_) | BleuSmoothing::None => 0.0,
                }
            };
        }
        if order > 0 {
            let log_sum: f64 = precisions[..order].iter().map(|&p| if p == 0.0 { LOG_ZERO } else { p.ln() }).sum();
            score = brevity_penalty * (log_sum / order as f64).exp();
        }
    }
    BleuScore { score, precisions, brevity_penalty, sys_len, ref_len, counts, totals }
}
