//! Buffers made from nothing on the device: fills (`kernels/creation.cu`), and ranges and
//! identity matrices computed on the host (a handful of values) and uploaded.

use super::buffer::CudaBuffer;
use super::device::CudaDevice;
use super::launch::{elementwise, launch, width_sfx, Args};
use super::source::CREATION;
use crate::cpu;
use crate::plan::ArangePlan;
use crate::Result;
use std::sync::Arc;
use tessera_core::{DType, Element};

/// `value` converted to `dtype` (the CPU's rules), as the bits a `fill_<width>` kernel writes.
pub fn fill_bits(dtype: DType, value: f64) -> u64 {
    match dtype {
        DType::F32 => f32::from_f64(value).to_bits() as u64,
        DType::F64 => value.to_bits(),
        DType::F16 => tessera_core::f16::from_f64(value).to_bits() as u64,
        DType::BF16 => tessera_core::bf16::from_f64(value).to_bits() as u64,
        DType::U8 => u8::from_f64(value) as u64,
        DType::U32 => u32::from_f64(value) as u64,
        DType::I64 => i64::from_f64(value) as u64,
    }
}

/// `len` copies of `value` converted to `dtype` (converted on the host, filled on the device).
pub fn full(dev: &Arc<CudaDevice>, dtype: DType, len: usize, value: f64) -> Result<CudaBuffer> {
    let bits = fill_bits(dtype, value);
    let out = CudaBuffer::alloc(dev, dtype, len)?;
    if len > 0 {
        let args = Args::new().u64(len as u64).buf(&out).u64(bits);
        launch(dev, &CREATION, &format!("fill_{}", width_sfx(dtype)), elementwise(len), args)?;
    }
    Ok(out)
}

/// The plan's range: computed on the host (the CPU kernel), uploaded.
pub fn arange(dev: &Arc<CudaDevice>, plan: &ArangePlan) -> Result<CudaBuffer> {
    cpu::reserve_output("arange", plan.dtype, plan.len)?;
    CudaBuffer::from_cpu(dev, &cpu::arange(plan))
}

/// The identity matrix: computed on the host, uploaded.
pub fn eye(dev: &Arc<CudaDevice>, dtype: DType, rows: usize, cols: usize) -> Result<CudaBuffer> {
    cpu::reserve_output("eye", dtype, rows.saturating_mul(cols))?;
    CudaBuffer::from_cpu(dev, &cpu::eye(dtype, rows, cols))
}
