//! Principal component analysis with power iteration on the covariance matrix.

/// The first `k` principal axes of `n` points of dimension `dim` (row-major), by falling
/// variance, and the variance along each. Each axis is a unit vector whose largest entry is
/// positive (so results do not flip sign between runs).
///
/// ```
/// // Points along (3, 4) / 5 with a little spread across it.
/// let pts: Vec<f32> = (0..20).flat_map(|i| {
///     let (t, s) = (i as f32 - 10.0, if i % 2 == 0 { 0.1 } else { -0.1 });
///     [3.0 * t / 5.0 - 4.0 * s / 5.0, 4.0 * t / 5.0 + 3.0 * s / 5.0]
/// }).collect();
/// let (axes, var) = tessera_embed::plot::principal_axes(&pts, 2, 2);
/// assert!((axes[0][0] - 0.6).abs() < 1e-2 && (axes[0][1] - 0.8).abs() < 1e-2);
/// assert!(var[0] > 100.0 * var[1]);
/// ```
pub fn principal_axes(points: &[f32], dim: usize, k: usize) -> (Vec<Vec<f64>>, Vec<f64>) {
    let n = points.len().checked_div(dim).unwrap_or(0);
    let mut mean = vec![0.0f64; dim];
    for row in points.chunks_exact(dim.max(1)) {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += v as f64;
        }
    }
    mean.iter_mut().for_each(|m| *m /= n.max(1) as f64);
    let mut cov = vec![0.0f64; dim * dim];
    let mut centred = vec![0.0f64; dim];
    for row in points.chunks_exact(dim.max(1)) {
        for (c, (&v, m)) in centred.iter_mut().zip(row.iter().zip(&mean)) {
            *c = v as f64 - m;
        }
        for i in 0..dim {
            let ci = centred[i];
            for j in i..dim {
                cov[i * dim + j] += ci * centred[j];
            }
        }
    }
    let denom = (n.max(2) - 1) as f64;
    for i in 0..dim {
        for j in i..dim {
            let v = cov[i * dim + j] / denom;
            cov[i * dim + j] = v;
            cov[j * dim + i] = v;
        }
    }
    let (mut axes, mut variances) = (Vec::new(), Vec::new());
    for _ in 0..k.min(dim) {
        let (v, lambda) = top_eigenvector(&cov, dim);
        // Deflate: remove the found direction.
        for i in 0..dim {
            for j in 0..dim {
                cov[i * dim + j] -= lambda * v[i] * v[j];
            }
        }
        axes.push(v);
        variances.push(lambda.max(0.0));
    }
    (axes, variances)
}

/// The dominant eigenvector of the symmetric matrix `m` and its eigenvalue.
fn top_eigenvector(m: &[f64], dim: usize) -> (Vec<f64>, f64) {
    // Start from the column of the largest diagonal entry, plus a little of every axis so that
    // the start is not orthogonal to the answer.
    let best = (0..dim).max_by(|&a, &b| m[a * dim + a].total_cmp(&m[b * dim + b])).unwrap_or(0);
    let mut v: Vec<f64> = (0..dim).map(|i| m[i * dim + best] + 1e-3 * (1.0 + i as f64 / dim as f64)).collect();
    normalise(&mut v);
    let mut w = vec![0.0; dim];
    let mut lambda = 0.0;
    for _ in 0..5000 {
        for i in 0..dim {
            w[i] = (0..dim).map(|j| m[i * dim + j] * v[j]).sum();
        }
        lambda = w.iter().zip(&v).map(|(a, b)| a * b).sum();
        if normalise(&mut w) == 0.0 {
            return (v, 0.0);
        }
        let change: f64 = w.iter().zip(&v).map(|(a, b)| (a - b).abs()).sum();
        std::mem::swap(&mut v, &mut w);
        if change < 1e-12 {
            break;
        }
    }
    // A fixed sign: the largest entry positive.
    let big = (0..dim).max_by(|&a, &b| v[a].abs().total_cmp(&v[b].abs())).unwrap_or(0);
    if v.get(big).is_some_and(|&x| x < 0.0) {
        v.iter_mut().for_each(|x| *x = -*x);
    }
    (v, lambda)
}

fn normalise(v: &mut [f64]) -> f64 {
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    norm
}

/// The 2-D PCA projection of `n` points of dimension `dim` (row-major): each point's
/// coordinates along the first two principal axes, after centring.
pub fn pca_2d(points: &[f32], dim: usize) -> Vec<[f64; 2]> {
    let (axes, _) = principal_axes(points, dim, 2);
    let n = points.len().checked_div(dim).unwrap_or(0);
    let mut mean = vec![0.0f64; dim];
    for row in points.chunks_exact(dim.max(1)) {
        for (m, &v) in mean.iter_mut().zip(row) {
            *m += v as f64 / n as f64;
        }
    }
    let along = |row: &[f32], k: usize| -> f64 {
        axes.get(k).map_or(0.0, |a| row.iter().zip(&mean).zip(a).map(|((&v, m), x)| (v as f64 - m) * x).sum())
    };
    points.chunks_exact(dim.max(1)).map(|row| [along(row, 0), along(row, 1)]).collect()
}
