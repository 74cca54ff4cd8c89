//! The two fused halves of softmax cross-entropy over rows of logits: the log-sum-exp of each
//! row (the forward needs only that and the target's logit), and the gradient
//! `scale * (softmax - target distribution)` written in one pass. Neither materialises the
//! log-probabilities of the whole `[rows, classes]` matrix, which for a language model's output
//! layer is the largest tensor of the step.

use super::buffer::{strided_values, CpuBuffer};
use super::par;
use super::simd::multiversion;
use super::unary::{map, FloatMath};
use crate::Result;
use rayon::prelude::*;
#[cfg(test)]
use tessera_core::Shape;
use tessera_core::{bf16, f16, DType, Error, Layout};

/// `log(sum(exp(x)))` along the last dim (max-shifted, so it never overflows): a contiguous
/// buffer of the other dims' shape. An all `-inf` row gives `-inf`; a NaN gives NaN.
pub fn logsumexp(buf: &CpuBuffer, layout: &Layout) -> Result<CpuBuffer> {
    let row = last_dim("logsumexp", layout)?;
    Ok(match buf {
        CpuBuffer::F32(v) => lse_rows(&strided_values(v, layout), row).into(),
        CpuBuffer::F64(v) => lse_rows(&strided_values(v, layout), row).into(),
        CpuBuffer::F16(v) => map(&lse_rows(&map(&strided_values(v, layout), f16::to_f32), row), f16::from_f32).into(),
        CpuBuffer::BF16(v) => {
            map(&lse_rows(&map(&strided_values(v, layout), bf16::to_f32), row), bf16::from_f32).into()
        }
        other => return Err(float_only("logsumexp", other.dtype())),
    })
}

/// The gradient of mean or summed softmax cross-entropy with respect to `logits` `[n, c]`:
/// `scale[i] * (exp(logits[i, j] - lse[i]) - smoothing / c - (1 - smoothing) * [j == target[i]])`.
///
/// `lse` (`[n]`, from [`logsumexp`]) and `scale` (`[n]`, the upstream gradient of each row's loss,
/// zero for ignored rows) have the logits' dtype; `target` (`[n]`) is u32 or i64 and must lie in
/// `0..c`. The result is a contiguous `[n, c]` buffer.
pub fn cross_entropy_backward(
    logits: (&CpuBuffer, &Layout),
    lse: (&CpuBuffer, &Layout),
    target: (&CpuBuffer, &Layout),
    scale: (&CpuBuffer, &Layout),
    smoothing: f64,
) -> Result<CpuBuffer> {
    let (n, classes) = check_backward(logits, lse, target, scale)?;
    let targets = target_indices(target.0, target.1, classes)?;
    let out: CpuBuffer = match (logits.0, lse.0, scale.0) {
        (CpuBuffer::F32(x), CpuBuffer::F32(l), CpuBuffer::F32(s)) => {
            let (x, l, s) = (strided_values(x, logits.1), strided_values(l, lse.1), strided_values(s, scale.1));
            grad_rows(&x, &l, &s, &targets, classes, smoothing as f32).into()
        }
        (CpuBuffer::F64(x), CpuBuffer::F64(l), CpuBuffer::F64(s)) => {
            let (x, l, s) = (strided_values(x, logits.1), strided_values(l, lse.1), strided_values(s, scale.1));
            grad_rows(&x, &l, &s, &targets, classes, smoothing).into()
        }
        (CpuBuffer::F16(x), CpuBuffer::F16(l), CpuBuffer::F16(s)) => {
            let f = |v: &[f16], lay| map(&strided_values(v, lay), f16::to_f32);
            let g = grad_rows(&f(x, logits.1), &f(l, lse.1), &f(s, scale.1), &targets, classes, smoothing as f32);
            map(&g, f16::from_f32).into()
        }
        (CpuBuffer::BF16(x), CpuBuffer::BF16(l), CpuBuffer::BF16(s)) => {
            let f = |v: &[bf16], lay| map(&strided_values(v, lay), bf16::to_f32);
            let g = grad_rows(&f(x, logits.1), &f(l, lse.1), &f(s, scale.1), &targets, classes, smoothing as f32);
            map(&g, bf16::from_f32).into()
        }
        (x, _, _) if !x.dtype().is_float() => return Err(float_only("cross_entropy_backward", x.dtype())),
        (x, l, s) => {
            return Err(Error::DTypeMismatch {
                op: "cross_entropy_backward",
                lhs: x.dtype(),
                rhs: if l.dtype() != x.dtype() { l.dtype() } else { s.dtype() },
            }
            .into())
        }
    };
    debug_assert_eq!(out.len(), n * classes);
    Ok(out)
}

fn float_only(op: &'static str, dtype: DType) -> crate::Error {
    Error::UnsupportedDType { op, dtype, hint: " (cast to a float dtype first)" }.into()
}

fn last_dim(op: &'static str, layout: &Layout) -> Result<usize> {
    match layout.dims().last() {
        Some(&d) => Ok(d),
        None => Err(Error::DimOutOfRange { op, dim: -1, shape: layout.shape().clone() }.into()),
    }
}

/// Shapes of the backward's operands: logits `[n, c]`, the others `[n]`. Returns `(n, c)`.
pub(crate) fn check_backward<B>(
    logits: (&B, &Layout),
    lse: (&B, &Layout),
    target: (&B, &Layout),
    scale: (&B, &Layout),
) -> Result<(usize, usize)> {
    let op = "cross_entropy_backward";
    let (n, c) = match *logits.1.dims() {
        [n, c] => (n, c),
        _ => {
            let msg = format!("logits must be [rows, classes], got {}", logits.1.shape());
            return Err(Error::InvalidArgument { op, msg }.into());
        }
    };
    for l in [lse.1, target.1, scale.1] {
        if l.dims() != [n] {
            return Err(Error::ShapeMismatch { op, lhs: logits.1.shape().clone(), rhs: l.shape().clone() }.into());
        }
    }
    Ok((n, c))
}

/// The target classes as `usize`, each checked to lie in `0..classes`.
pub(crate) fn target_indices(buf: &CpuBuffer, layout: &Layout, classes: usize) -> Result<Vec<usize>> {
    let raw: Vec<i64> = match buf {
        CpuBuffer::U32(v) => strided_values(v, layout).iter().map(|&t| t as i64).collect(),
        CpuBuffer::I64(v) => strided_values(v, layout).to_vec(),
        other => {
            return Err(Error::UnsupportedDType {
                op: "cross_entropy_backward",
                dtype: other.dtype(),
                hint: " (targets are u32 or i64)",
            }
            .into())
        }
    };
    raw.iter()
        .map(|&t| {
            if t >= 0 && (t as usize) < classes {
                Ok(t as usize)
            } else {
                Err(Error::IndexOutOfRange { op: "cross_entropy_backward", index: t, dim: 1, size: classes }.into())
            }
        })
        .collect()
}

multiversion! {
    fn row_lse<T>(x: &[T]) -> T
    where T: FloatMath
    {
        // Eight independent lanes for the maximum and the sum, so that both loops vectorise
        // (a single running float sum cannot be reordered by the compiler).
        const L: usize = 8;
        let neg_inf = T::from_f32(f32::NEG_INFINITY);
        let (chunks, rest) = (x.chunks_exact(L), x.chunks_exact(L).remainder());
        let mut lanes = [neg_inf; L];
        for c in chunks.clone() {
            for k in 0..L {
                lanes[k] = if c[k] > lanes[k] { c[k] } else { lanes[k] };
            }
        }
        let max = lanes.iter().chain(rest).fold(neg_inf, |m, &v| if v > m { v } else { m });
        if max == T::from_f32(f32::INFINITY) {
            // exp(inf - inf) would be NaN; the result is infinite, or NaN if any element is.
            return if x.iter().any(|&v| super::buffer::is_nan(v)) { T::from_f32(f32::NAN) } else { max };
        }
        // An all -inf row: shifting by 0 keeps the sum 0 and the result -inf rather than NaN.
        let shift = if max == neg_inf { T::ZERO } else { max };
        let mut sums = [T::ZERO; L];
        for c in chunks {
            for k in 0..L {
                sums[k] = sums[k] + (c[k] - shift).exp();
            }
        }
        let mut sum = ((sums[0] + sums[4]) + (sums[1] + sums[5])) + ((sums[2] + sums[6]) + (sums[3] + sums[7]));
        for &v in rest {
            sum = sum + (v - shift).exp();
        }
        // A NaN anywhere makes the sum NaN.
        sum.ln() + shift
    }
}

multiversion! {
    fn row_grad<T>(x: &[T], out: &mut [T], lse: T, scale: T, offset: T)
    where T: FloatMath
    {
        for (o, &v) in out.iter_mut().zip(x) {
            *o = (v - lse).exp() * scale - offset;
        }
    }
}

fn lse_rows<T: FloatMath + Send + Sync>(data: &[T], row: usize) -> Vec<T> {
    if row == 0 {
        return vec![T::from_f32(f32::NEG_INFINITY); data.len()];
    }
    if par::worth_parallel(data.len()) {
        data.par_chunks(row).map(row_lse).collect()
    } else {
        data.chunks(row).map(row_lse).collect()
    }
}

fn grad_rows<T: FloatMath + Send + Sync>(
    x: &[T],
    lse: &[T],
    scale: &[T],
    targets: &[usize],
    classes: usize,
    smoothing: T,
) -> Vec<T> {
    let mut out = vec![T::ZERO; x.len()];
    if classes == 0 {
        return out;
    }
    let uniform = smoothing / T::from_f32(classes as f32);
    let hit = T::ONE - smoothing;
    let one_row = |(i, (o, x)): (usize, (&mut [T], &[T]))| {
        row_grad(x, o, lse[i], scale[i], scale[i] * uniform);
        o[targets[i]] = o[targets[i]] - scale[i] * hit;
    };
    if par::worth_parallel(x.len()) {
        out.par_chunks_mut(classes).zip(x.par_chunks(classes)).enumerate().for_each(one_row);
    } else {
        out.chunks_mut(classes).zip(x.chunks(classes)).enumerate().for_each(one_row);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_lse(x: &[f64]) -> f64 {
        x.iter().map(|v| v.exp()).sum::<f64>().ln()
    }

    #[test]
    fn logsumexp_matches_the_naive_formula_and_survives_large_values() {
        // Rows of 21: two chunks of eight lanes and a remainder.
        let x: Vec<f32> = (0..63).map(|i| (i as f32 * 0.37).sin() * 5.0).collect();
        let layout = Layout::contiguous(Shape::from(vec![3, 21]));
        let got = logsumexp(&CpuBuffer::F32(x.clone()), &layout).unwrap();
        let got = got.as_slice::<f32>().unwrap();
        for r in 0..3 {
            let want = naive_lse(&x[r * 21..r * 21 + 21].iter().map(|&v| v as f64).collect::<Vec<_>>());
            assert!((got[r] as f64 - want).abs() < 1e-5, "row {r}: {} vs {want}", got[r]);
        }
        let inf = f64::INFINITY;
        let big = CpuBuffer::F64(vec![1000.0, 1000.0, -inf, -inf, inf, 0.0, f64::NAN, 0.0]);
        let got = logsumexp(&big, &Layout::contiguous(Shape::from(vec![4, 2]))).unwrap();
        let got = got.as_slice::<f64>().unwrap();
        assert!((got[0] - (1000.0 + 2f64.ln())).abs() < 1e-12);
        assert_eq!(got[1..3], [-inf, inf]);
        assert!(got[3].is_nan());
    }

    #[test]
    fn backward_is_scaled_softmax_minus_the_smoothed_target() {
        let x: Vec<f64> = (0..12).map(|i| (i as f64 * 0.71).cos() * 3.0).collect();
        let lay = Layout::contiguous(Shape::from(vec![3, 4]));
        let lse = logsumexp(&CpuBuffer::F64(x.clone()), &lay).unwrap();
        let vec_lay = Layout::contiguous(Shape::from(vec![3]));
        let targets = CpuBuffer::U32(vec![2, 0, 3]);
        let scale = CpuBuffer::F64(vec![0.5, 0.0, 2.0]);
        let s = 0.1;
        let g = cross_entropy_backward(
            (&CpuBuffer::F64(x.clone()), &lay),
            (&lse, &vec_lay),
            (&targets, &vec_lay),
            (&scale, &vec_lay),
            s,
        )
        .unwrap();
        let g = g.as_slice::<f64>().unwrap();
        for (r, (t, sc)) in [(2usize, 0.5), (0, 0.0), (3, 2.0)].into_iter().enumerate() {
            let row = &x[r * 4..r * 4 + 4];
            let z: f64 = row.iter().map(|v| v.exp()).sum();
            for j in 0..4 {
                let q = s / 4.0 + if j == t { 1.0 - s } else { 0.0 };
                let want = sc * (row[j].exp() / z - q);
                assert!((g[r * 4 + j] - want).abs() < 1e-12, "[{r},{j}] {} vs {want}", g[r * 4 + j]);
            }
        }
    }

    #[test]
    fn bad_targets_and_shapes_are_errors() {
        let lay = Layout::contiguous(Shape::from(vec![2, 3]));
        let v = Layout::contiguous(Shape::from(vec![2]));
        let x = CpuBuffer::F32(vec![0.0; 6]);
        let l = CpuBuffer::F32(vec![0.0; 2]);
        let bad = CpuBuffer::I64(vec![0, 3]);
        let err = cross_entropy_backward((&x, &lay), (&l, &v), (&bad, &v), (&l, &v), 0.0).unwrap_err();
        assert!(err.to_string().contains('3'), "{err}");
        let short = Layout::contiguous(Shape::from(vec![1]));
        let ok = CpuBuffer::U32(vec![0]);
        assert!(cross_entropy_backward((&x, &lay), (&l, &v), (&ok, &short), (&l, &v), 0.0).is_err());
        assert!(logsumexp(&CpuBuffer::U32(vec![1]), &short).is_err());
    }
}
