//! The two fused halves of softmax cross-entropy over rows of logits: the log-sum-exp of each
//! row (the forward needs only that and the target's logit), and the gradient
//! `scale * (softmax - target distribution)` written in one pass. Neither materialises the
//! log-probabilities of the whole `[rows, classes]` matrix, which for a language model's output
//! layer is the largest tensor of the step.

use super::buffer::{expect_dtype, strided_values, CpuBuffer};
use super::half::Half;
use super::lanes::max_lanes;
use super::par;
use super::simd::{multiversion, prefetch_block};
use super::unary::FloatMath;
use crate::plan::{index_out_of_range, CrossEntropyBackwardPlan, LogSumExpPlan};
use crate::Result;
use rayon::prelude::*;
use std::mem::MaybeUninit;
use tessera_core::{bf16, f16, Layout};

mod fused;
mod narrow;

pub use fused::cross_entropy_with_grad;

/// `log(sum(exp(x)))` of each of the plan's rows (max-shifted, so it never overflows), in row
/// order. An all `-inf` row gives `-inf`; a NaN gives NaN.
pub fn logsumexp(plan: &LogSumExpPlan, buf: &CpuBuffer) -> Result<CpuBuffer> {
    expect_dtype("logsumexp", plan.dtype, &[buf])?;
    let (layout, row) = (&plan.rows.layout, plan.rows.len);
    Ok(match buf {
        CpuBuffer::F32(v) => lse_rows(&strided_values(v, layout), row, plan.rows.rows).into(),
        CpuBuffer::F64(v) => lse_rows(&strided_values(v, layout), row, plan.rows.rows).into(),
        CpuBuffer::F16(v) => {
            f16::narrow(&lse_rows(&f16::widen(&strided_values(v, layout)), row, plan.rows.rows)).into()
        }
        CpuBuffer::BF16(v) => {
            bf16::narrow(&lse_rows(&bf16::widen(&strided_values(v, layout)), row, plan.rows.rows)).into()
        }
        _ => unreachable!("the plan admits float dtypes only"),
    })
}

/// The gradient of mean or summed softmax cross-entropy with respect to the logits (see
/// [`CrossEntropyBackwardPlan`]): a contiguous `[n, c]` buffer. Every target must lie in `0..c`.
pub fn cross_entropy_backward(
    plan: &CrossEntropyBackwardPlan,
    logits: &CpuBuffer,
    lse: &CpuBuffer,
    target: &CpuBuffer,
    scale: &CpuBuffer,
) -> Result<CpuBuffer> {
    expect_dtype("cross_entropy_backward", plan.dtype, &[logits, lse, scale])?;
    let targets = target_indices(target, &plan.target, plan.classes)?;
    let (classes, smoothing) = (plan.classes, plan.smoothing);
    let (xl, ll, sl) = (&plan.logits, &plan.lse, &plan.scale);
    Ok(match (logits, lse, scale) {
        (CpuBuffer::F32(x), CpuBuffer::F32(l), CpuBuffer::F32(s)) => {
            let (x, l, s) = (strided_values(x, xl), strided_values(l, ll), strided_values(s, sl));
            grad_rows(&x, &l, &s, &targets, classes, smoothing as f32).into()
        }
        (CpuBuffer::F64(x), CpuBuffer::F64(l), CpuBuffer::F64(s)) => {
            let (x, l, s) = (strided_values(x, xl), strided_values(l, ll), strided_values(s, sl));
            grad_rows(&x, &l, &s, &targets, classes, smoothing).into()
        }
        (CpuBuffer::F16(x), CpuBuffer::F16(l), CpuBuffer::F16(s)) => {
            let f = |v: &[f16], lay| f16::widen(&strided_values(v, lay));
            let g = grad_rows(&f(x, xl), &f(l, ll), &f(s, sl), &targets, classes, smoothing as f32);
            f16::narrow(&g).into()
        }
        (CpuBuffer::BF16(x), CpuBuffer::BF16(l), CpuBuffer::BF16(s)) => {
            let f = |v: &[bf16], lay| bf16::widen(&strided_values(v, lay));
            let g = grad_rows(&f(x, xl), &f(l, ll), &f(s, sl), &targets, classes, smoothing as f32);
            bf16::narrow(&g).into()
        }
        _ => unreachable!("the plan admits one float dtype"),
    })
}

/// The target classes as `usize`, each checked to lie in `0..classes`.
fn target_indices(buf: &CpuBuffer, layout: &Layout, classes: usize) -> Result<Vec<usize>> {
    let raw: Vec<i64> = match buf {
        CpuBuffer::U32(v) => strided_values(v, layout).iter().map(|&t| t as i64).collect(),
        CpuBuffer::I64(v) => strided_values(v, layout).to_vec(),
        other => {
            return Err(crate::Error::PlanMismatch {
                op: "cross_entropy_backward",
                expected: tessera_core::DType::I64,
                got: other.dtype(),
            })
        }
    };
    raw.iter()
        .map(|&t| {
            if t >= 0 && (t as usize) < classes {
                Ok(t as usize)
            } else {
                Err(index_out_of_range("cross_entropy_backward", t, 1, classes))
            }
        })
        .collect()
}

multiversion! {
    /// `log(sum(exp(x)))` of one row; `next` is the row after it (empty for the last), fetched
    /// into the cache while this row's exponentials are computed.
    fn row_lse<T>(x: &[T], next: &[T]) -> T
    where T: FloatMath
    {
        let neg_inf = T::from_f32(f32::NEG_INFINITY);
        let max = max_lanes(x);
        if max == T::from_f32(f32::INFINITY) {
            // exp(inf - inf) would be NaN; the result is infinite, or NaN if any element is.
            return if x.iter().any(|&v| super::buffer::is_nan(v)) { T::from_f32(f32::NAN) } else { max };
        }
        // An all -inf row: shifting by 0 keeps the sum 0 and the result -inf rather than NaN.
        let shift = if max == neg_inf { T::ZERO } else { max };
        // exp over a block into a buffer first, then the block added onto as many lane sums:
        // each loop on its own vectorises at the CPU's full width, where one loop doing both was
        // compiled four lanes wide.
        let (blocks, tail) = (x.chunks_exact(LANES), x.chunks_exact(LANES).remainder());
        let (mut buf, mut sums) = ([T::ZERO; LANES], [T::ZERO; LANES]);
        for (k, block) in blocks.enumerate() {
            // The rows of a language model's logits (20 KB each for 5000 words) come from memory,
            // and the hardware prefetchers alone left the first pass over each waiting on it.
            prefetch_block(next, k, LANES);
            for (e, &v) in buf.iter_mut().zip(block) {
                *e = (v - shift).exp_flushed();
            }
            add_lanes(&mut sums, &buf);
        }
        let mut sum = T::ZERO;
        for &v in tail {
            sum = sum + (v - shift).exp_flushed();
        }
        let sum = sum + fold_lanes(sums);
        // A NaN anywhere makes the sum NaN.
        sum.ln() + shift
    }
}

/// How many exponentials `row_lse` and the fused kernel compute at a time, and how many lane
/// sums they keep.
const LANES: usize = 64;

/// `sums += block`, lane by lane. As one elementwise loop this compiles to full-width vector
/// adds; folding a block into sixteen lanes (`sums[k] += block[16 * j + k]`) was compiled into
/// two-float loads from the block just stored, which stalled on store forwarding (12% of the
/// fused kernel's samples on one instruction). Inlined, so that it takes its caller's target
/// features.
#[inline(always)]
fn add_lanes<T: FloatMath>(sums: &mut [T; LANES], block: &[T; LANES]) {
    for (s, &e) in sums.iter_mut().zip(block) {
        *s = *s + e;
    }
}

/// The sum of the lane sums, folded in halves (the order `row_lse` and the fused kernel share).
#[inline(always)]
fn fold_lanes<T: FloatMath>(mut sums: [T; LANES]) -> T {
    let mut width = LANES;
    while width > 1 {
        width /= 2;
        for k in 0..width {
            sums[k] = sums[k] + sums[k + width];
        }
    }
    sums[0]
}

multiversion! {
    fn row_grad<T>(x: &[T], out: &mut [MaybeUninit<T>], lse: T, scale: T, offset: T)
    where T: FloatMath
    {
        // Its time goes to the stores of a fresh 22 MB gradient (the LM's), not to reading the
        // logits: prefetching the next row, as `row_lse` does, did not move it.
        for (o, &v) in out.iter_mut().zip(x) {
            o.write((v - lse).exp_flushed() * scale - offset);
        }
    }
}

fn lse_rows<T: FloatMath + Send + Sync>(data: &[T], row: usize, rows: usize) -> Vec<T> {
    if row == 0 {
        return vec![T::from_f32(f32::NEG_INFINITY); rows];
    }
    if row < narrow::NARROW {
        let mut out = vec![T::ZERO; rows];
        if par::worth_parallel(data.len()) {
            let per = par::chunk_len(data.len(), row) / row;
            out.par_chunks_mut(per).zip(data.par_chunks(per * row)).for_each(|(o, x)| narrow::lse(x, row, o));
        } else {
            narrow::lse(data, row, &mut out);
        }
        return out;
    }
    let lse = |r: usize| row_lse(&data[r * row..][..row], data.get((r + 1) * row..(r + 2) * row).unwrap_or(&[]));
    if par::worth_parallel(data.len()) {
        (0..rows).into_par_iter().map(lse).collect()
    } else {
        (0..rows).map(lse).collect()
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
    if classes == 0 {
        return Vec::new();
    }
    let uniform = smoothing / T::from_f32(classes as f32);
    let hit = T::ONE - smoothing;
    // Every element is written once, by its row: no zero-filled buffer first (for a language
    // model's logits that was a serial pass as large as the gradient).
    par::build_vec(x.len(), classes, |start, rows| {
        let first = start / classes;
        if classes < narrow::NARROW {
            let n = rows.len() / classes;
            narrow::grad(&x[start..][..rows.len()], classes, &lse[first..][..n], &scale[first..][..n], uniform, rows);
        }
        for (r, o) in rows.chunks_mut(classes).enumerate() {
            let i = first + r;
            if classes >= narrow::NARROW {
                row_grad(&x[i * classes..][..classes], o, lse[i], scale[i], scale[i] * uniform);
            }
            // SAFETY: `row_grad` or `narrow::grad` wrote every element of the row.
            let at_target = unsafe { o[targets[i]].assume_init() };
            o[targets[i]].write(at_target - scale[i] * hit);
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Arg;
    use tessera_core::{DType, Shape};

    fn naive_lse(x: &[f64]) -> f64 {
        x.iter().map(|v| v.exp()).sum::<f64>().ln()
    }

    pub(super) fn lse(buf: &CpuBuffer, dims: Vec<usize>) -> CpuBuffer {
        let layout = Layout::contiguous(Shape::from(dims));
        logsumexp(&LogSumExpPlan::new(Arg::new(buf.dtype(), &layout), -1, false).unwrap(), buf).unwrap()
    }

    #[test]
    fn logsumexp_matches_the_naive_formula_and_survives_large_values() {
        // Rows of 21 (two chunks of eight lanes and a remainder) and of 150 (two blocks of 64
        // and a remainder).
        for row in [21, 150] {
            let x: Vec<f32> = (0..3 * row).map(|i| (i as f32 * 0.37).sin() * 5.0).collect();
            let got = lse(&CpuBuffer::F32(x.clone()), vec![3, row]);
            let got = got.as_slice::<f32>().unwrap();
            for r in 0..3 {
                let want = naive_lse(&x[r * row..(r + 1) * row].iter().map(|&v| v as f64).collect::<Vec<_>>());
                assert!((got[r] as f64 - want).abs() < 1e-5, "row {r} of {row}: {} vs {want}", got[r]);
            }
        }
        let inf = f64::INFINITY;
        let big = CpuBuffer::F64(vec![1000.0, 1000.0, -inf, -inf, inf, 0.0, f64::NAN, 0.0]);
        let got = lse(&big, vec![4, 2]);
        let got = got.as_slice::<f64>().unwrap();
        assert!((got[0] - (1000.0 + 2f64.ln())).abs() < 1e-12);
        assert_eq!(got[1..3], [-inf, inf]);
        assert!(got[3].is_nan());
        assert_eq!(lse(&CpuBuffer::F64(vec![]), vec![3, 0]), CpuBuffer::F64(vec![-inf; 3]));
    }

    /// Every width from one class to past two blocks, so that each tail length (whole rows of a
    /// few classes included) goes through the padded vector of `row_lse` and `row_grad`; one
    /// element of each row is -inf, as a masked logit is.
    #[test]
    fn every_row_width_matches_the_formula_in_both_halves() {
        for row in 1..=140 {
            let rows = 3;
            let mut x: Vec<f32> = (0..rows * row).map(|i| (i as f32 * 0.61).sin() * 4.0).collect();
            if row > 1 {
                x[row + row / 2] = f32::NEG_INFINITY;
            }
            let l = lse(&CpuBuffer::F32(x.clone()), vec![rows, row]);
            let targets = CpuBuffer::U32((0..rows as u32).map(|r| r % row as u32).collect());
            let scale = CpuBuffer::F32(vec![1.0, 0.5, 2.0]);
            let g = backward(&CpuBuffer::F32(x.clone()), &l, &targets, &scale, [&[rows, row], &[rows]], 0.0).unwrap();
            let (l, g) = (l.as_slice::<f32>().unwrap(), g.as_slice::<f32>().unwrap());
            for r in 0..rows {
                let xs: Vec<f64> = x[r * row..(r + 1) * row].iter().map(|&v| v as f64).collect();
                let want = naive_lse(&xs);
                assert!((l[r] as f64 - want).abs() < 1e-5, "lse of row {r} of {row}: {} vs {want}", l[r]);
                for (j, &v) in xs.iter().enumerate() {
                    let hit = if j == r % row { 1.0 } else { 0.0 };
                    let want = [1.0, 0.5, 2.0][r] * ((v - want).exp() - hit);
                    let got = g[r * row + j] as f64;
                    assert!((got - want).abs() < 1e-5, "grad [{r},{j}] of {row}: {got} vs {want}");
                }
            }
        }
    }

    pub(super) fn backward(
        x: &CpuBuffer,
        l: &CpuBuffer,
        t: &CpuBuffer,
        s: &CpuBuffer,
        dims: [&[usize]; 2],
        smoothing: f64,
    ) -> Result<CpuBuffer> {
        let (lay, v) = (Layout::contiguous(Shape::from(dims[0])), Layout::contiguous(Shape::from(dims[1])));
        let a = |b: &CpuBuffer, l| Arg::new(b.dtype(), l);
        let plan = CrossEntropyBackwardPlan::new(a(x, &lay), a(l, &v), a(t, &v), a(s, &v), smoothing)?;
        cross_entropy_backward(&plan, x, l, t, s)
    }

    #[test]
    fn backward_is_scaled_softmax_minus_the_smoothed_target() {
        let x: Vec<f64> = (0..12).map(|i| (i as f64 * 0.71).cos() * 3.0).collect();
        let l = lse(&CpuBuffer::F64(x.clone()), vec![3, 4]);
        let targets = CpuBuffer::U32(vec![2, 0, 3]);
        let scale = CpuBuffer::F64(vec![0.5, 0.0, 2.0]);
        let s = 0.1;
        let g = backward(&CpuBuffer::F64(x.clone()), &l, &targets, &scale, [&[3, 4], &[3]], s).unwrap();
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
        let x = CpuBuffer::F32(vec![0.0; 6]);
        let l = CpuBuffer::F32(vec![0.0; 2]);
        let err = backward(&x, &l, &CpuBuffer::I64(vec![0, 3]), &l, [&[2, 3], &[2]], 0.0).unwrap_err();
        assert!(err.to_string().contains('3'), "{err}");
        assert!(backward(&x, &l, &CpuBuffer::U32(vec![0]), &l, [&[2, 3], &[1]], 0.0).is_err());
        let short = Layout::contiguous(Shape::from(vec![1]));
        assert!(LogSumExpPlan::new(Arg::new(DType::U32, &short), -1, false).is_err());
    }
}
