//! The tables training reads in its inner loop: the negative-sampling distribution, the
//! subsampling probabilities and the sigmoid.

use super::rng::Rng;

/// Draws word ids with probability proportional to `count^power` (word2vec's unigram^0.75
/// noise distribution) in O(1) per draw: Walker's alias method (Vose's construction). Each
/// of the `n` bins keeps its own word with probability `threshold / 2^32` and otherwise gives its
/// alias.
///
/// The original word2vec fills a table of 10^8 ids (400 MB) and draws one at random; this
/// table is exact up to 2^-32 per bin, costs 8 bytes per word and stays in cache.
///
/// ```
/// use tessera_embed::train::NoiseTable;
/// let t = NoiseTable::unigram(&[81, 16, 1], 0.75);
/// let p = t.probabilities(); // 27 : 8 : 1
/// assert!((p[0] - 27.0 / 36.0).abs() < 1e-9 && (p[2] - 1.0 / 36.0).abs() < 1e-9);
/// ```
#[derive(Debug, Clone)]
pub struct NoiseTable {
    threshold: Vec<u64>,
    alias: Vec<u32>,
}

impl NoiseTable {
    /// The table for `counts` raised to `power`. Counts of zero are never drawn.
    pub fn unigram(counts: &[u64], power: f64) -> NoiseTable {
        let n = counts.len();
        let weights: Vec<f64> = counts.iter().map(|&c| (c as f64).powf(power)).collect();
        let total: f64 = weights.iter().sum();
        // Scaled so that the average bin holds exactly 1.
        let mut scaled: Vec<f64> = weights.iter().map(|w| w * n as f64 / total).collect();
        let mut threshold = vec![1u64 << 32; n];
        let mut alias: Vec<u32> = (0..n as u32).collect();
        let (mut small, mut large): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| scaled[i] < 1.0);
        while let (Some(&s), Some(&l)) = (small.last(), large.last()) {
            small.pop();
            threshold[s] = (scaled[s] * 4_294_967_296.0).round() as u64;
            alias[s] = l as u32;
            scaled[l] -= 1.0 - scaled[s];
            if scaled[l] < 1.0 {
                large.pop();
                small.push(l);
            }
        }
        // What is left (rounding) keeps its own word with certainty.
        NoiseTable { threshold, alias }
    }

    /// Number of words.
    pub fn len(&self) -> usize {
        self.alias.len()
    }

    /// Whether there are no words.
    pub fn is_empty(&self) -> bool {
        self.alias.is_empty()
    }

    /// One draw from 64 random bits: the high half picks the bin, the low half the coin.
    #[inline(always)]
    pub fn draw(&self, r: u64) -> u32 {
        let bin = (((r >> 32) * self.alias.len() as u64) >> 32) as usize;
        if (r & 0xffff_ffff) < self.threshold[bin] {
            bin as u32
        } else {
            self.alias[bin]
        }
    }

    /// One draw.
    #[inline(always)]
    pub(crate) fn sample(&self, rng: &mut Rng) -> u32 {
        self.draw(rng.next_u64())
    }

    /// The exact probability of drawing each id that the table implements (for checking it).
    pub fn probabilities(&self) -> Vec<f64> {
        let n = self.len() as f64;
        let mut p = vec![0.0; self.len()];
        for (bin, (&t, &a)) in self.threshold.iter().zip(&self.alias).enumerate() {
            let keep = t as f64 / 4_294_967_296.0;
            p[bin] += keep / n;
            p[a as usize] += (1.0 - keep) / n;
        }
        p
    }
}

/// Per word, the probability of keeping one of its occurrences, scaled to `2^32`: word2vec's
/// subsampling of frequent words, `keep = (sqrt(f / sample) + 1) * sample / f` (at most 1) for a
/// word of corpus frequency `f = count / total`. `sample == 0` keeps everything.
///
/// ```
/// let keep = tessera_embed::train::keep_probabilities(&[1000, 1], 1e-3);
/// // f = 1000/1001: the frequent word is mostly dropped; the rare one always kept.
/// let f = 1000.0 / 1001.0;
/// let expected = ((f / 1e-3f64).sqrt() + 1.0) * 1e-3 / f;
/// assert!((keep[0] - expected).abs() < 1e-12 && keep[1] == 1.0);
/// ```
pub fn keep_probabilities(counts: &[u64], sample: f64) -> Vec<f64> {
    let total: u64 = counts.iter().sum();
    counts
        .iter()
        .map(|&c| {
            if sample <= 0.0 || c == 0 {
                return 1.0;
            }
            let f = c as f64 / total as f64;
            (((f / sample).sqrt() + 1.0) * sample / f).min(1.0)
        })
        .collect()
}

/// [`keep_probabilities`] as thresholds for 32 random bits (`2^32` always keeps).
pub(crate) fn keep_thresholds(counts: &[u64], sample: f64) -> Vec<u64> {
    keep_probabilities(counts, sample).iter().map(|p| (p * 4_294_967_296.0).round() as u64).collect()
}

/// Beyond `±MAX_X` the sigmoid is taken as 0 or 1 (word2vec's `MAX_EXP`).
pub(crate) const MAX_X: f32 = 6.0;
const BINS: usize = 1024;

/// The sigmoid and its logarithm at `BINS` points of `[-MAX_X, MAX_X]`.
pub(crate) struct Sigmoid {
    sigma: Vec<f32>,
    log_sigma: Vec<f32>,
}

impl Sigmoid {
    pub(crate) fn new() -> Sigmoid {
        let x = |i: usize| ((i as f64 + 0.5) / BINS as f64 * 2.0 - 1.0) * MAX_X as f64;
        let sigma = (0..BINS).map(|i| (1.0 / (1.0 + (-x(i)).exp())) as f32).collect();
        let log_sigma = (0..BINS).map(|i| -(1.0 + (-x(i)).exp()).ln() as f32).collect();
        Sigmoid { sigma, log_sigma }
    }

    /// The gradient factor `label - σ(f)` and the loss `-log σ(±f)` of one example.
    #[inline(always)]
    pub(crate) fn step(&self, f: f32, positive: bool) -> (f32, f32) {
        let label = if positive { 1.0 } else { 0.0 };
        if f >= MAX_X {
            return (label - 1.0, if positive { 0.0 } else { f });
        }
        if f <= -MAX_X {
            return (label, if positive { -f } else { 0.0 });
        }
        let i = ((f + MAX_X) * (BINS as f32 / (2.0 * MAX_X))) as usize;
        let i = i.min(BINS - 1);
        // log σ(-f) = log σ(f) - f.
        let loss = if positive { -self.log_sigma[i] } else { f - self.log_sigma[i] };
        (label - self.sigma[i], loss)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keep_thresholds_scale_the_probabilities_to_32_bits() {
        let counts = [100_000u64, 1_000, 1];
        let (p, t) = (keep_probabilities(&counts, 1e-3), keep_thresholds(&counts, 1e-3));
        for (p, t) in p.iter().zip(&t) {
            assert_eq!(*t, (p * 4_294_967_296.0).round() as u64);
        }
        assert_eq!(t[2], 1 << 32, "a rare word is always kept: every 32-bit draw is below 2^32");
    }

    #[test]
    fn sigmoid_table_is_close_to_the_function() {
        let s = Sigmoid::new();
        for k in -700..=700 {
            let f = k as f32 / 100.0;
            let exact = 1.0 / (1.0 + (-f as f64).exp());
            let (g1, l1) = s.step(f, true);
            let (g0, l0) = s.step(f, false);
            if f.abs() < MAX_X {
                assert!((1.0 - g1 as f64 - exact).abs() < 0.01, "{f}");
                assert!((-(g0 as f64) - exact).abs() < 0.01, "{f}");
                assert!((l1 as f64 + exact.ln()).abs() < 0.02, "{f}");
                assert!((l0 as f64 + (1.0 - exact).ln()).abs() < 0.02, "{f}");
            }
        }
    }
}
