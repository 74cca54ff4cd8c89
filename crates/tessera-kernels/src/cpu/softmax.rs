//! Softmax and log-softmax along one dim, numerically stable (the row maximum is subtracted).

use super::buffer::{expect_dtype, is_nan, strided_values, CpuBuffer};
use super::unary::{map, FloatMath};
use super::{par, simd};
use crate::ops::SoftmaxKind;
use crate::plan::SoftmaxPlan;
use crate::Result;
use rayon::prelude::*;
use tessera_core::{bf16, f16};

/// The plan's softmax or log-softmax: a contiguous buffer of the input's shape. f16 and bf16
/// compute in f32.
pub fn softmax(plan: &SoftmaxPlan, buf: &CpuBuffer) -> Result<CpuBuffer> {
    expect_dtype(plan.kind.name(), plan.dtype, &[buf])?;
    let (moved, row, log) = (&plan.rows.layout, plan.rows.len, plan.kind == SoftmaxKind::LogSoftmax);
    let out: CpuBuffer = match buf {
        CpuBuffer::F32(v) => rows(&strided_values(v, moved), row, log).into(),
        CpuBuffer::F64(v) => rows(&strided_values(v, moved), row, log).into(),
        CpuBuffer::F16(v) => map(&rows(&map(&strided_values(v, moved), f16::to_f32), row, log), f16::from_f32).into(),
        CpuBuffer::BF16(v) => {
            map(&rows(&map(&strided_values(v, moved), bf16::to_f32), row, log), bf16::from_f32).into()
        }
        _ => unreachable!("the plan admits float dtypes only"),
    };
    Ok(match &plan.back {
        Some(back) => super::copy::copy_strided(&out, back),
        None => out,
    })
}

fn rows<T: FloatMath + Send + Sync + RowSum>(data: &[T], row: usize, log: bool) -> Vec<T> {
    let mut out = vec![T::ZERO; data.len()];
    if row == 0 {
        return out;
    }
    let one_row = |(x, o): (&[T], &mut [T])| {
        let max = x.iter().fold(x[0], |m, &v| if v > m || is_nan(v) { v } else { m });
        // An all -inf row has no finite maximum; shifting by 0 keeps it -inf rather than NaN.
        let shift = if max == T::from_f64(f64::NEG_INFINITY) { T::ZERO } else { max };
        for (o, &v) in o.iter_mut().zip(x) {
            *o = (v - shift).exp();
        }
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
    };
    if par::worth_parallel(data.len()) {
        data.par_chunks(row).zip(out.par_chunks_mut(row)).for_each(one_row);
    } else {
        data.chunks(row).zip(out.chunks_mut(row)).for_each(one_row);
    }
    out
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
