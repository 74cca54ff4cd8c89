//! Rotary position embeddings: each pair `(c, c + dim / 2)` of a position's features rotated by
//! the position's angle for that pair (see [`RotaryPlan`]). f16 and bf16 compute in f32.

use super::buffer::{expect_dtype, strided_values, CpuBuffer};
use super::half::Half;
use super::par;
use super::unary::FloatMath;
use crate::plan::RotaryPlan;
use crate::Result;
use rayon::prelude::*;
use tessera_core::{bf16, f16};

/// The plan's rotation of `x`, contiguous in its shape.
pub fn rotary(plan: &RotaryPlan, x: &CpuBuffer) -> Result<CpuBuffer> {
    expect_dtype("rotary", plan.dtype, &[x])?;
    Ok(match x {
        CpuBuffer::F32(v) => rotate(plan, &strided_values(v, &plan.x)).into(),
        CpuBuffer::F64(v) => rotate(plan, &strided_values(v, &plan.x)).into(),
        CpuBuffer::F16(v) => f16::narrow(&rotate(plan, &f16::widen(&strided_values(v, &plan.x)))).into(),
        CpuBuffer::BF16(v) => bf16::narrow(&rotate(plan, &bf16::widen(&strided_values(v, &plan.x)))).into(),
        _ => unreachable!("the plan admits float dtypes only"),
    })
}

fn rotate<T: FloatMath + Send + Sync>(plan: &RotaryPlan, x: &[T]) -> Vec<T> {
    let (dim, half) = (plan.dim, plan.dim / 2);
    let mut out = par::filled(x.len(), T::ZERO);
    let row = |(r, o): (usize, &mut [T])| {
        let xr = &x[r * dim..][..dim];
        for c in 0..half {
            let (cos, sin) = plan.rotation(r, c);
            let (cos, sin) = (T::from_f64(cos), T::from_f64(sin));
            o[c] = xr[c] * cos - xr[c + half] * sin;
            o[c + half] = xr[c + half] * cos + xr[c] * sin;
        }
    };
    if par::worth_parallel(x.len()) {
        out.par_chunks_mut(dim.max(1)).enumerate().for_each(row);
    } else {
        out.chunks_mut(dim.max(1)).enumerate().for_each(row);
    }
    out
}
