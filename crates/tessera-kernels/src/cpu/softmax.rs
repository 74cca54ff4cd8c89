//! Softmax and log-softmax along one dim, numerically stable (the row maximum is subtracted).

use super::buffer::{is_nan, strided_values, CpuBuffer};
use super::unary::{map, FloatMath};
use super::{par, simd};
use crate::Result;
use rayon::prelude::*;
use tessera_core::{bf16, f16, Error, Layout};

/// `exp(x - max) / sum(exp(x - max))` along `dim`; the result is contiguous in `layout`'s shape.
pub fn softmax(buf: &CpuBuffer, layout: &Layout, dim: usize) -> Result<CpuBuffer> {
    along_dim("softmax", buf, layout, dim, false)
}

/// `x - max - log(sum(exp(x - max)))` along `dim`; the result is contiguous in `layout`'s shape.
pub fn log_softmax(buf: &CpuBuffer, layout: &Layout, dim: usize) -> Result<CpuBuffer> {
    along_dim("log_softmax", buf, layout, dim, true)
}

fn along_dim(op: &'static str, buf: &CpuBuffer, layout: &Layout, dim: usize, log: bool) -> Result<CpuBuffer> {
    let rank = layout.rank();
    if dim >= rank {
        return Err(Error::DimOutOfRange { op, dim: dim as isize, shape: layout.shape().clone() }.into());
    }
    // Move `dim` last so that rows are contiguous, then move it back.
    let mut perm: Vec<usize> = (0..rank).filter(|&d| d != dim).collect();
    perm.push(dim);
    let moved = layout.permute(&perm)?;
    let row = layout.dims()[dim];
    let out: CpuBuffer = match buf {
        CpuBuffer::F32(v) => rows(&strided_values(v, &moved), row, log).into(),
        CpuBuffer::F64(v) => rows(&strided_values(v, &moved), row, log).into(),
        CpuBuffer::F16(v) => map(&rows(&map(&strided_values(v, &moved), f16::to_f32), row, log), f16::from_f32).into(),
        CpuBuffer::BF16(v) => {
            map(&rows(&map(&strided_values(v, &moved), bf16::to_f32), row, log), bf16::from_f32).into()
        }
        other => {
            return Err(
                Error::UnsupportedDType { op, dtype: other.dtype(), hint: " (cast to a float dtype first)" }.into()
            )
        }
    };
    if dim == rank - 1 {
        return Ok(out);
    }
    let mut inverse = vec![0; rank];
    for (i, &p) in perm.iter().enumerate() {
        inverse[p] = i;
    }
    let back = Layout::contiguous(moved.shape().clone()).permute(&inverse)?;
    Ok(super::copy::copy_strided(&out, &back))
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
