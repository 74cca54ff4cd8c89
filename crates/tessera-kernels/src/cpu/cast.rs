//! Conversions between dtypes.

use super::buffer::{dispatch, strided_values, CpuBuffer};
use super::half::Half;
use super::unary::map;
use tessera_core::{bf16, f16, DType, Element, Layout};

/// The elements selected by `layout`, converted to `dtype` (floats round to nearest even,
/// float-to-integer truncates toward zero and saturates, NaN becomes 0), contiguous.
pub fn cast(buf: &CpuBuffer, layout: &Layout, dtype: DType) -> CpuBuffer {
    match (buf, dtype) {
        (CpuBuffer::F32(v), DType::F16) => f16::narrow(&strided_values(v, layout)).into(),
        (CpuBuffer::F32(v), DType::BF16) => bf16::narrow(&strided_values(v, layout)).into(),
        (CpuBuffer::F16(v), DType::F32) => f16::widen(&strided_values(v, layout)).into(),
        (CpuBuffer::BF16(v), DType::F32) => bf16::widen(&strided_values(v, layout)).into(),
        _ => dispatch!(buf, v => convert(&strided_values(v, layout), dtype)),
    }
}

fn convert<T: Element + Sync>(xs: &[T], dtype: DType) -> CpuBuffer {
    fn to<T: Element + Sync, U: Element + Send>(xs: &[T]) -> Vec<U> {
        map(xs, |x: T| U::from_f64(x.to_f64()))
    }
    match dtype {
        DType::F32 => to::<T, f32>(xs).into(),
        DType::F64 => to::<T, f64>(xs).into(),
        DType::F16 => to::<T, f16>(xs).into(),
        DType::BF16 => to::<T, bf16>(xs).into(),
        DType::U8 => to::<T, u8>(xs).into(),
        DType::U32 => to::<T, u32>(xs).into(),
        DType::I64 => to::<T, i64>(xs).into(),
    }
}
