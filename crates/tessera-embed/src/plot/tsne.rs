//! Exact t-SNE (van der Maaten and Hinton, 2008): O(n²) per iteration, for up to a few
//! thousand points.

use super::pca::pca_2d;
use crate::error::{Error, Result};

/// t-SNE settings; the defaults are scikit-learn's.
#[derive(Debug, Clone, PartialEq)]
pub struct TsneConfig {
    /// The effective number of neighbours each point's Gaussian covers (capped at `(n - 1) / 3`).
    pub perplexity: f64,
    /// Gradient-descent iterations.
    pub iterations: usize,
    /// Step size; `None` chooses `max(n / 12 / 4, 50)` (scikit-learn's `auto`).
    pub learning_rate: Option<f64>,
    /// Factor on the input similarities during the first 250 iterations.
    pub early_exaggeration: f64,
    /// Threads for the gradient.
    pub threads: usize,
}

impl Default for TsneConfig {
    fn default() -> Self {
        TsneConfig { perplexity: 30.0, iterations: 1000, learning_rate: None, early_exaggeration: 12.0, threads: 1 }
    }
}

/// Points the exact method is meant for; above this the O(n²) memory and time grow large.
pub const TSNE_MAX_POINTS: usize = 10_000;

/// Embeds `n` points of dimension `dim` (row-major) in 2-D with t-SNE. The start is the PCA
/// projection scaled down (scikit-learn's `init="pca"`), so the result is deterministic.
pub fn tsne_2d(points: &[f32], dim: usize, cfg: &TsneConfig) -> Result<Vec<[f64; 2]>> {
    let n = points.len().checked_div(dim).unwrap_or(0);
    if n > TSNE_MAX_POINTS {
        return Err(Error::Config(format!("t-SNE here is exact (O(n²)): at most {TSNE_MAX_POINTS} points, got {n}")));
    }
    if !(cfg.perplexity.is_finite() && cfg.perplexity > 0.0) {
        return Err(Error::Config(format!("t-SNE perplexity must be above 0, got {}", cfg.perplexity)));
    }
    if n < 3 {
        return Ok(pca_2d(points, dim));
    }
    let p = joint_probabilities(points, dim, cfg.perplexity.min((n - 1) as f64 / 3.0).max(1.0));
    let mut y = pca_2d(points, dim);
    let sd = (y.iter().map(|q| q[0] * q[0]).sum::<f64>() / n as f64).sqrt();
    let scale = if sd > 0.0 { 1e-4 / sd } else { 0.0 };
    y.iter_mut().for_each(|q| *q = [q[0] * scale, q[1] * scale]);
    let lr = cfg.learning_rate.unwrap_or((n as f64 / cfg.early_exaggeration.max(1.0) / 4.0).max(50.0));
    let (mut update, mut gains) = (vec![[0.0f64; 2]; n], vec![[1.0f64; 2]; n]);
    let mut grad = vec![[0.0f64; 2]; n];
    for it in 0..cfg.iterations {
        let (exaggeration, momentum) = if it < 250 { (cfg.early_exaggeration, 0.5) } else { (1.0, 0.8) };
        gradient(&p, &y, exaggeration, cfg.threads.max(1), &mut grad);
        for i in 0..n {
            for d in 0..2 {
                let same_sign = (grad[i][d] > 0.0) == (update[i][d] > 0.0);
                gains[i][d] = if same_sign { gains[i][d] * 0.8 } else { gains[i][d] + 0.2 }.max(0.01);
                update[i][d] = momentum * update[i][d] - lr * gains[i][d] * grad[i][d];
                y[i][d] += update[i][d];
            }
        }
        let (mx, my) = y.iter().fold((0.0, 0.0), |(a, b), q| (a + q[0], b + q[1]));
        y.iter_mut().for_each(|q| *q = [q[0] - mx / n as f64, q[1] - my / n as f64]);
    }
    Ok(y)
}

/// Symmetrised input similarities `p_ij = (p_j|i + p_i|j) / 2n`, each row's Gaussian width
/// found by bisection so that its perplexity is `perplexity`.
fn joint_probabilities(points: &[f32], dim: usize, perplexity: f64) -> Vec<f64> {
    let n = points.len() / dim;
    let rows: Vec<&[f32]> = points.chunks_exact(dim).collect();
    let mut d2 = vec![0.0f64; n * n];
    for i in 0..n {
        for j in i + 1..n {
            let d: f64 = rows[i].iter().zip(rows[j]).map(|(a, b)| ((a - b) as f64).powi(2)).sum();
            d2[i * n + j] = d;
            d2[j * n + i] = d;
        }
    }
    let target = perplexity.ln();
    let mut p = vec![0.0f64; n * n];
    for i in 0..n {
        let row = &d2[i * n..(i + 1) * n];
        // Distances relative to the nearest neighbour keep exp() in range.
        let min = (0..n).filter(|&j| j != i).map(|j| row[j]).fold(f64::INFINITY, f64::min);
        let (mut beta, mut lo, mut hi) = (1.0f64, 0.0f64, f64::INFINITY);
        let mut probs = vec![0.0; n];
        for _ in 0..100 {
            let mut sum = 0.0;
            let mut weighted = 0.0;
            for j in 0..n {
                probs[j] = if j == i { 0.0 } else { (-(row[j] - min) * beta).exp() };
                sum += probs[j];
                weighted += probs[j] * (row[j] - min);
            }
            let entropy = sum.ln() + beta * weighted / sum;
            probs.iter_mut().for_each(|q| *q /= sum);
            if (entropy - target).abs() < 1e-6 {
                break;
            }
            if entropy > target {
                lo = beta;
                beta = if hi.is_finite() { (beta + hi) / 2.0 } else { beta * 2.0 };
            } else {
                hi = beta;
                beta = (beta + lo) / 2.0;
            }
        }
        p[i * n..(i + 1) * n].copy_from_slice(&probs);
    }
    let mut joint = vec![0.0f64; n * n];
    for i in 0..n {
        for j in 0..n {
            joint[i * n + j] = ((p[i * n + j] + p[j * n + i]) / (2.0 * n as f64)).max(1e-12);
        }
    }
    joint
}

/// The gradient of KL(P || Q) for the layout `y`, rows split over `threads` threads.
fn gradient(p: &[f64], y: &[[f64; 2]], exaggeration: f64, threads: usize, grad: &mut [[f64; 2]]) {
    let n = y.len();
    let per = n.div_ceil(threads);
    // Per row: attraction Σ p q (yi - yj), repulsion Σ q² (yi - yj), and Σ q (for Z).
    let mut parts = vec![([0.0f64; 2], [0.0f64; 2], 0.0f64); n];
    std::thread::scope(|s| {
        for (c, chunk) in parts.chunks_mut(per).enumerate() {
            s.spawn(move || {
                for (k, out) in chunk.iter_mut().enumerate() {
                    let i = c * per + k;
                    let (mut att, mut rep, mut z) = ([0.0; 2], [0.0; 2], 0.0);
                    for j in 0..n {
                        if j == i {
                            continue;
                        }
                        let (dx, dy) = (y[i][0] - y[j][0], y[i][1] - y[j][1]);
                        let q = 1.0 / (1.0 + dx * dx + dy * dy);
                        let pq = p[i * n + j] * q;
                        att = [att[0] + pq * dx, att[1] + pq * dy];
                        rep = [rep[0] + q * q * dx, rep[1] + q * q * dy];
                        z += q;
                    }
                    *out = (att, rep, z);
                }
            });
        }
    });
    let z: f64 = parts.iter().map(|t| t.2).sum();
    for (g, (att, rep, _)) in grad.iter_mut().zip(&parts) {
        *g = [4.0 * (exaggeration * att[0] - rep[0] / z), 4.0 * (exaggeration * att[1] - rep[1] / z)];
    }
}
