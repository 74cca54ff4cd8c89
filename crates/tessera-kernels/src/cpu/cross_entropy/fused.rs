//! Both halves of softmax cross-entropy in one pass over the logits, for a training step whose
//! loss will be differentiated: each row's log-sum-exp and its gradient
//! `scale * (softmax - target distribution)`. The logits are read from memory once (the halves
//! apart read them twice, 22 MB each time for a language model's output layer), and each
//! exponential is computed once: the row's shifted exponentials are written where its gradient
//! goes, summed, and then scaled in place while the row is still in the cache.

use super::super::buffer::{expect_dtype, is_nan, strided_values, CpuBuffer};
use super::super::half::Half;
use super::super::lanes::max_lanes;
use super::super::par;
use super::super::simd::{multiversion, prefetch_block};
use super::super::unary::FloatMath;
use super::{add_lanes, fold_lanes, narrow, row_grad, row_lse, target_indices, LANES};
use crate::plan::CrossEntropyBackwardPlan;
use crate::Result;
use rayon::prelude::*;
use std::mem::MaybeUninit;
use tessera_core::{bf16, f16};

/// Each row's log-sum-exp (`[n]`) and the gradient of softmax cross-entropy with respect to the
/// logits (`[n, c]`, contiguous), as [`super::logsumexp`] and [`super::cross_entropy_backward`]
/// give them (the plan's `lse` layout is not read: the log-sum-exp is computed here). Every
/// target must lie in `0..c`. f16 and bf16 are computed in f32 and rounded once.
pub fn cross_entropy_with_grad(
    plan: &CrossEntropyBackwardPlan,
    logits: &CpuBuffer,
    target: &CpuBuffer,
    scale: &CpuBuffer,
) -> Result<(CpuBuffer, CpuBuffer)> {
    expect_dtype("cross_entropy_with_grad", plan.dtype, &[logits, scale])?;
    let targets = target_indices(target, &plan.target, plan.classes)?;
    let (classes, smoothing) = (plan.classes, plan.smoothing);
    let (xl, sl) = (&plan.logits, &plan.scale);
    Ok(match (logits, scale) {
        (CpuBuffer::F32(x), CpuBuffer::F32(s)) => {
            let (lse, grad) = rows(&strided_values(x, xl), &strided_values(s, sl), &targets, classes, smoothing as f32);
            (lse.into(), grad.into())
        }
        (CpuBuffer::F64(x), CpuBuffer::F64(s)) => {
            let (lse, grad) = rows(&strided_values(x, xl), &strided_values(s, sl), &targets, classes, smoothing);
            (lse.into(), grad.into())
        }
        (CpuBuffer::F16(x), CpuBuffer::F16(s)) => {
            let f = |v: &[f16], lay| f16::widen(&strided_values(v, lay));
            let (lse, grad) = rows(&f(x, xl), &f(s, sl), &targets, classes, smoothing as f32);
            (f16::narrow(&lse).into(), f16::narrow(&grad).into())
        }
        (CpuBuffer::BF16(x), CpuBuffer::BF16(s)) => {
            let f = |v: &[bf16], lay| bf16::widen(&strided_values(v, lay));
            let (lse, grad) = rows(&f(x, xl), &f(s, sl), &targets, classes, smoothing as f32);
            (bf16::narrow(&lse).into(), bf16::narrow(&grad).into())
        }
        _ => unreachable!("the plan admits one float dtype"),
    })
}

/// The log-sum-exp and gradient of every `classes`-wide row of `x`, in parallel by blocks of rows
/// when large.
fn rows<T: FloatMath + Send + Sync>(
    x: &[T],
    scale: &[T],
    targets: &[usize],
    classes: usize,
    smoothing: T,
) -> (Vec<T>, Vec<T>) {
    let n = targets.len();
    if classes == 0 {
        return (vec![T::from_f32(f32::NEG_INFINITY); n], Vec::new());
    }
    let (uniform, hit) = (smoothing / T::from_f32(classes as f32), T::ONE - smoothing);
    let (mut lse, mut grad) = (vec![T::ZERO; n], Vec::with_capacity(x.len()));
    // Rows `first..` of `x`: their log-sum-exps into `lse` and gradients into `out`.
    let block = |first: usize, lse: &mut [T], out: &mut [MaybeUninit<T>]| {
        let x = &x[first * classes..][..out.len()];
        let scale = &scale[first..][..lse.len()];
        if classes < narrow::NARROW {
            narrow::lse(x, classes, lse);
            narrow::grad(x, classes, lse, scale, uniform, out);
        } else {
            for (r, (l, o)) in lse.iter_mut().zip(out.chunks_mut(classes)).enumerate() {
                let next = x.get((r + 1) * classes..(r + 2) * classes).unwrap_or(&[]);
                *l = row_lse_grad(&x[r * classes..][..classes], next, o, scale[r], scale[r] * uniform);
            }
        }
        for (r, o) in out.chunks_mut(classes).enumerate() {
            let (t, s) = (targets[first + r], scale[r]);
            // SAFETY: the loops above wrote every element of the row.
            let at_target = unsafe { o[t].assume_init() };
            o[t].write(at_target - s * hit);
        }
    };
    let out = &mut grad.spare_capacity_mut()[..x.len()];
    if par::worth_parallel(x.len()) {
        let per = par::chunk_len(x.len(), classes) / classes;
        lse.par_chunks_mut(per)
            .zip(out.par_chunks_mut(per * classes))
            .enumerate()
            .for_each(|(b, (lse, out))| block(b * per, lse, out));
    } else {
        block(0, &mut lse, out);
    }
    // SAFETY: `block` wrote every row of the gradient.
    unsafe { grad.set_len(x.len()) };
    (lse, grad)
}

multiversion! {
    /// The log-sum-exp of the row `x` (returned) and its gradient `exp(x - lse) * scale - offset`
    /// into `out`, before the target's share is taken off; `next` is the row after it, fetched
    /// into the cache meanwhile. A row whose maximum is infinite or NaN takes the two halves'
    /// own kernels, which give such rows their special values.
    fn row_lse_grad<T>(x: &[T], next: &[T], out: &mut [MaybeUninit<T>], scale: T, offset: T) -> T
    where T: FloatMath
    {
        let max = max_lanes(x);
        let (inf, neg_inf) = (T::from_f32(f32::INFINITY), T::from_f32(f32::NEG_INFINITY));
        if max == inf || max == neg_inf || is_nan(max) {
            let lse = row_lse(x, next);
            row_grad(x, out, lse, scale, offset);
            return lse;
        }
        // As in `row_lse`: exponentials of a block into a buffer, then added onto the lane sums,
        // each loop vectorising at the CPU's full width; here the buffer is also kept.
        let (mut buf, mut sums) = ([T::ZERO; LANES], [T::ZERO; LANES]);
        let mut tail_sum = T::ZERO;
        for (k, (block, o)) in x.chunks(LANES).zip(out.chunks_mut(LANES)).enumerate() {
            prefetch_block(next, k, LANES);
            if block.len() == LANES {
                for (e, &v) in buf.iter_mut().zip(block) {
                    *e = (v - max).exp_flushed();
                }
                add_lanes(&mut sums, &buf);
            } else {
                for (e, &v) in buf.iter_mut().zip(block) {
                    *e = (v - max).exp_flushed();
                    tail_sum = tail_sum + *e;
                }
            }
            for (o, &e) in o.iter_mut().zip(&buf) {
                o.write(e);
            }
        }
        let sum = tail_sum + fold_lanes(sums);
        // exp(x - lse) * scale = exp(x - max) * (scale / sum).
        let factor = scale / sum;
        // SAFETY: the loop above wrote every element of `out` (the blocks of `x` and `out` pair up).
        let out = unsafe { &mut *(out as *mut [MaybeUninit<T>] as *mut [T]) };
        for e in out.iter_mut() {
            *e = *e * factor - offset;
        }
        sum.ln() + max
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::backward;
    use super::*;
    use crate::plan::Arg;
    use tessera_core::{DType, Layout, Shape};

    fn fused(
        x: &CpuBuffer,
        t: &CpuBuffer,
        s: &CpuBuffer,
        [n, c]: [usize; 2],
        smoothing: f64,
    ) -> (CpuBuffer, CpuBuffer) {
        let (lay, v) = (Layout::contiguous(Shape::from(vec![n, c])), Layout::contiguous(Shape::from(vec![n])));
        let a = |b: &CpuBuffer, l| Arg::new(b.dtype(), l);
        let plan = CrossEntropyBackwardPlan::with_own_lse(a(x, &lay), a(t, &v), a(s, &v), smoothing).unwrap();
        cross_entropy_with_grad(&plan, x, t, s).unwrap()
    }

    /// Against the two halves run apart: every width from one class to past two blocks and a
    /// vocabulary-sized one, f32 and f64, with and without smoothing, a -inf logit in one row
    /// (as a masked logit is) and rows holding +inf, all -inf and NaN (which take the halves'
    /// kernels), on one thread and on two.
    #[test]
    fn matches_the_two_halves_apart() {
        let (inf, nan) = (f64::INFINITY, f64::NAN);
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            for classes in (1..=140).chain([5000]) {
                let n = if classes == 5000 { 30 } else { 7 };
                let mut x: Vec<f64> = (0..n * classes).map(|i| (i as f64 * 0.61).sin() * 6.0).collect();
                if classes > 1 {
                    x[classes + classes / 2] = -inf;
                }
                x[2 * classes] = inf;
                x[3 * classes..4 * classes].fill(-inf);
                x[4 * classes + classes / 3] = nan;
                let targets = CpuBuffer::U32((0..n as u32).map(|r| (r * 7) % classes as u32).collect());
                let scale: Vec<f64> = (0..n).map(|r| [1.0, 0.5, 2.0, 0.0][r % 4]).collect();
                for (dtype, smoothing) in [(DType::F64, 0.0), (DType::F32, 0.1), (DType::F32, 0.0)] {
                    let cast = |v: &[f64]| match dtype {
                        DType::F64 => CpuBuffer::F64(v.to_vec()),
                        _ => CpuBuffer::F32(v.iter().map(|&e| e as f32).collect()),
                    };
                    let (xb, sb) = (cast(&x), cast(&scale));
                    let what = format!("{classes} classes, {dtype}, smoothing {smoothing}, {threads} thread(s)");
                    let (lse, grad) = pool.install(|| fused(&xb, &targets, &sb, [n, classes], smoothing));
                    let want_lse = super::super::tests::lse(&xb, vec![n, classes]);
                    let want = backward(&xb, &want_lse, &targets, &sb, [&[n, classes], &[n]], smoothing).unwrap();
                    let tol = if dtype == DType::F64 { 1e-12 } else { 2e-6 };
                    let values = |b: &CpuBuffer| b.to_f64_vec(&Layout::contiguous(Shape::from(vec![b.len()])));
                    for (part, got, want) in [("lse", &lse, &want_lse), ("grad", &grad, &want)] {
                        for (i, (g, w)) in values(got).iter().zip(values(want)).enumerate() {
                            let same = g.to_bits() == w.to_bits() || (g - w).abs() <= tol * (1.0 + w.abs());
                            assert!(same, "{part} [{i}], {what}: {g} against {w}");
                        }
                    }
                }
            }
        }
    }

    /// f16 logits widen, take the f32 kernel and round once, as the halves do.
    #[test]
    fn half_precision_matches_the_halves() {
        let (n, c) = (5, 300);
        let x: Vec<f32> = (0..n * c).map(|i| (i as f32 * 0.37).cos() * 4.0).collect();
        let xb = CpuBuffer::F16(f16::narrow(&x));
        let sb = CpuBuffer::F16(f16::narrow(&[0.2; 5]));
        let targets = CpuBuffer::I64(vec![0, 299, 7, 150, 3]);
        let (lse, grad) = fused(&xb, &targets, &sb, [n, c], 0.0);
        let want_lse = super::super::tests::lse(&xb, vec![n, c]);
        let want = backward(&xb, &want_lse, &targets, &sb, [&[n, c], &[n]], 0.0).unwrap();
        assert_eq!(lse, want_lse);
        let (l, w) = (Layout::contiguous(Shape::from(vec![n * c])), Layout::contiguous(Shape::from(vec![n * c])));
        for (g, w) in grad.to_f64_vec(&l).iter().zip(want.to_f64_vec(&w)) {
            assert!((g - w).abs() <= 1e-3 * (1.0 + w.abs()), "{g} against {w}");
        }
    }
}
