//! Metrics: accuracy, top-k accuracy, perplexity, and a running mean.

use crate::Result;
use tessera_tensor::Tensor;

/// Fraction of rows of `scores` `[n, classes]` whose largest entry is at the target class
/// (`targets`: `[n]` class indices, u32 or i64).
pub fn accuracy(scores: &Tensor, targets: &Tensor) -> Result<f64> {
    let pred = scores.argmax(-1, false)?.to_vec_f64()?;
    let truth = targets.to_vec_f64()?;
    let hits = pred.iter().zip(&truth).filter(|(p, t)| p == t).count();
    Ok(hits as f64 / truth.len().max(1) as f64)
}

/// Fraction of rows whose target class is among the `k` largest scores (ties broken toward the
/// lower class index, as a stable sort does).
pub fn top_k_accuracy(scores: &Tensor, targets: &Tensor, k: usize) -> Result<f64> {
    let classes = scores.dims().last().copied().unwrap_or(0);
    let s = scores.to_vec_f64()?;
    let truth = targets.to_vec_f64()?;
    let mut hits = 0;
    for (row, &t) in s.chunks(classes.max(1)).zip(&truth) {
        let target_score = row.get(t as usize).copied().unwrap_or(f64::NEG_INFINITY);
        // Classes that rank strictly ahead of the target.
        let ahead =
            row.iter().enumerate().filter(|&(c, &v)| v > target_score || (v == target_score && c < t as usize)).count();
        hits += (ahead < k) as usize;
    }
    Ok(hits as f64 / truth.len().max(1) as f64)
}

/// Perplexity from a mean cross-entropy in nats: `exp(loss)`.
pub fn perplexity(mean_cross_entropy: f64) -> f64 {
    mean_cross_entropy.exp()
}

/// A weighted running mean (e.g. of a loss over the batches of an epoch).
#[derive(Debug, Clone, Default)]
pub struct RunningMean {
    sum: f64,
    weight: f64,
}

impl RunningMean {
    /// Adds `value` with `weight` (e.g. the batch size).
    pub fn add(&mut self, value: f64, weight: f64) {
        self.sum += value * weight;
        self.weight += weight;
    }

    /// The mean so far (NaN before any value).
    pub fn mean(&self) -> f64 {
        self.sum / self.weight
    }

    /// The weighted sum and the total weight (to combine means kept in several processes).
    pub fn parts(&self) -> (f64, f64) {
        (self.sum, self.weight)
    }

    /// A mean of a weighted sum and a total weight (see [`RunningMean::parts`]).
    pub fn from_parts(sum: f64, weight: f64) -> Self {
        RunningMean { sum, weight }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_tensor::Device;

    #[test]
    fn accuracy_and_top_k_count_known_cases() {
        let d = Device::Cpu;
        let s = Tensor::from_vec(vec![0.1f32, 0.7, 0.2, 0.5, 0.3, 0.2, 0.3, 0.3, 0.4], [3, 3], &d).unwrap();
        let t = Tensor::from_vec(vec![1u32, 2, 0], [3], &d).unwrap();
        assert!((accuracy(&s, &t).unwrap() - 1.0 / 3.0).abs() < 1e-12);
        assert!((top_k_accuracy(&s, &t, 2).unwrap() - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(top_k_accuracy(&s, &t, 3).unwrap(), 1.0);
        assert!((perplexity(2f64.ln()) - 2.0).abs() < 1e-12);
        let mut m = RunningMean::default();
        m.add(1.0, 3.0);
        m.add(2.0, 1.0);
        assert_eq!(m.mean(), 1.25);
    }
}
