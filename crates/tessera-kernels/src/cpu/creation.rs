//! Buffers made from nothing: constants, ranges, identity matrices.

use super::buffer::CpuBuffer;
use crate::plan::ArangePlan;
use tessera_core::{bf16, f16, DType, Element};

/// `len` copies of `value` (converted to `dtype`: floats round, integers saturate).
pub fn full(dtype: DType, len: usize, value: f64) -> CpuBuffer {
    fn fill<T: Element>(len: usize, v: f64) -> Vec<T> {
        vec![T::from_f64(v); len]
    }
    match dtype {
        DType::F32 => fill::<f32>(len, value).into(),
        DType::F64 => fill::<f64>(len, value).into(),
        DType::F16 => fill::<f16>(len, value).into(),
        DType::BF16 => fill::<bf16>(len, value).into(),
        DType::U8 => fill::<u8>(len, value).into(),
        DType::U32 => fill::<u32>(len, value).into(),
        DType::I64 => fill::<i64>(len, value).into(),
    }
}

/// The plan's `start, start + step, ...` below `end`, as in `torch.arange`.
pub fn arange(plan: &ArangePlan) -> CpuBuffer {
    from_fn(plan.dtype, plan.len, |i| plan.value(i))
}

/// The `rows x cols` identity matrix (ones on the main diagonal), row-major.
pub fn eye(dtype: DType, rows: usize, cols: usize) -> CpuBuffer {
    from_fn(dtype, rows * cols, |i| if i / cols.max(1) == i % cols.max(1) { 1.0 } else { 0.0 })
}

fn from_fn(dtype: DType, len: usize, f: impl Fn(usize) -> f64) -> CpuBuffer {
    fn build<T: Element>(len: usize, f: &dyn Fn(usize) -> f64) -> Vec<T> {
        (0..len).map(|i| T::from_f64(f(i))).collect()
    }
    match dtype {
        DType::F32 => build::<f32>(len, &f).into(),
        DType::F64 => build::<f64>(len, &f).into(),
        DType::F16 => build::<f16>(len, &f).into(),
        DType::BF16 => build::<bf16>(len, &f).into(),
        DType::U8 => build::<u8>(len, &f).into(),
        DType::U32 => build::<u32>(len, &f).into(),
        DType::I64 => build::<i64>(len, &f).into(),
    }
}
