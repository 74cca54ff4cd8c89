//! Softmax and log-softmax along one dim, numerically stable (the row maximum is subtracted).

use super::buffer::{expect_dtype, strided_values, CpuBuffer};
use super::half::Half;
use super::lanes::max_lanes;
use super::par;
use super::simd::{self, multiversion, prefetch_block};
use super::unary::FloatMath;
use crate::ops::SoftmaxKind;
use crate::plan::SoftmaxPlan;
use crate::Result;
use std::mem::MaybeUninit;
use tessera_core::{bf16, f16};

/// The plan's softmax or log-softmax: a contiguous buffer of the input's shape. f16 and bf16
/// compute in f32.
pub fn softmax(plan: &SoftmaxPlan, buf: &CpuBuffer) -> Result<CpuBuffer> {
    expect_dtype(plan.kind.name(), plan.dtype, &[buf])?;
    let (moved, row, log) = (&plan.rows.layout, plan.rows.len, plan.kind == SoftmaxKind::LogSoftmax);
    let out: CpuBuffer = match buf {
        CpuBuffer::F32(v) => rows(&strided_values(v, moved), row, log).into(),
        CpuBuffer::F64(v) => rows(&strided_values(v, moved), row, log).into(),
        CpuBuffer::F16(v) => f16::narrow(&rows(&f16::widen(&strided_values(v, moved)), row, log)).into(),
        CpuBuffer::BF16(v) => bf16::narrow(&rows(&bf16::widen(&strided_values(v, moved)), row, log)).into(),
        _ => unreachable!("the plan admits float dtypes only"),
    };
    Ok(match &plan.back {
        Some(back) => super::copy::copy_strided(&out, back),
        None => out,
    })
}

/// Softmax (or log-softmax) of each `row`-long row of `data`. The output is written once per
/// row, never zero-filled first, and each row's pass is compiled for AVX-512 or AVX2 where the
/// CPU has them, so the maximum, `exp` and the scaling vectorise.
fn rows<T: FloatMath + Send + Sync + RowSum>(data: &[T], row: usize, log: bool) -> Vec<T> {
    if row == 0 {
        return Vec::new();
    }
    par::build_vec(data.len(), row, |start, out| {
        for (r, o) in out.chunks_mut(row).enumerate() {
            let at = start + r * row;
            softmax_row(&data[at..at + row], data.get(at + row..at + 2 * row).unwrap_or(&[]), o, log);
        }
    })
}

multiversion! {
    /// One row of [`rows`]: `o` is written in full. `next` is the row after it (empty for the
    /// last), fetched into the cache while this row's exponentials are computed, so that its
    /// maximum does not wait on memory.
    fn softmax_row<T: FloatMath>(x: &[T], next: &[T], o: &mut [MaybeUninit<T>], log: bool) where T: RowSum
    {
        // A NaN is not the maximum, but its `exp` makes the row's sum, and so the whole row, NaN.
        let max = max_lanes(x);
        // An all -inf row has no finite maximum; shifting by 0 keeps it -inf rather than NaN.
        let shift = if max == T::from_f64(f64::NEG_INFINITY) { T::ZERO } else { max };
        const BLOCK: usize = 64;
        for (k, (o, x)) in o.chunks_mut(BLOCK).zip(x.chunks(BLOCK)).enumerate() {
            prefetch_block(next, k, BLOCK);
            for (o, &v) in o.iter_mut().zip(x) {
                o.write((v - shift).exp_flushed());
            }
        }
        // SAFETY: the loop above initialised every element of `o` (as long as `x`, the row).
        let o = unsafe { &mut *(o as *mut [MaybeUninit<T>] as *mut [T]) };
        let sum = T::row_sum(o);
        if log {
            let lse = sum.ln();
            for (o, &v) in o.iter_mut().zip(x) {
                *o = v - shift - lse;
            }
        } else {
            let inv = T::ONE / sum;
            for o in o.iter_mut() {
                *o = *o * inv;
            }
        }
    }
}

/// A fast, accurate sum of a row.
pub(crate) trait RowSum: Sized {
    fn row_sum(xs: &[Self]) -> Self;
}

impl RowSum for f32 {
    fn row_sum(xs: &[f32]) -> f32 {
        simd::sum_f32(xs)
    }
}

impl RowSum for f64 {
    fn row_sum(xs: &[f64]) -> f64 {
        simd::sum_f64(xs)
    }
}
