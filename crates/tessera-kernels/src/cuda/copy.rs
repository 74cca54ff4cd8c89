//! Copies, casts, concatenation and creation on the device (`kernels/copy.cu`).

use super::buffer::CudaBuffer;
use super::device::CudaDevice;
use super::launch::{elementwise, launch, sfx, strided, width_sfx, Args};
use super::source::COPY;
use crate::cpu;
use crate::Result;
use std::sync::Arc;
use tessera_core::{DType, Element, Layout, Shape};

/// The elements selected by `layout`, copied into a new contiguous buffer.
pub fn copy_strided(buf: &CudaBuffer, layout: &Layout) -> Result<CudaBuffer> {
    let n = layout.elem_count();
    let out = CudaBuffer::alloc(buf.device(), buf.dtype(), n)?;
    if n > 0 {
        let args = Args::new().u64(n as u64).view(&strided(layout)?).buf(buf).buf(&out);
        launch(buf.device(), &COPY, &format!("copy_{}", width_sfx(buf.dtype())), elementwise(n), args)?;
    }
    Ok(out)
}

/// `buf` itself when `layout` reads it contiguously from element 0, else a contiguous copy.
pub fn contiguous(buf: &CudaBuffer, layout: &Layout) -> Result<CudaBuffer> {
    if layout.contiguous_range() == Some((0, buf.len())) {
        Ok(buf.clone())
    } else {
        copy_strided(buf, layout)
    }
}

/// The elements selected by `layout`, converted to `dtype` with the CPU's rules.
pub fn cast(buf: &CudaBuffer, layout: &Layout, dtype: DType) -> Result<CudaBuffer> {
    if dtype == buf.dtype() {
        return copy_strided(buf, layout);
    }
    let n = layout.elem_count();
    let out = CudaBuffer::alloc(buf.device(), dtype, n)?;
    if n > 0 {
        let name = format!("cast_{}_{}", sfx(buf.dtype()), sfx(dtype));
        let args = Args::new().u64(n as u64).view(&strided(layout)?).buf(buf).buf(&out);
        launch(buf.device(), &COPY, &name, elementwise(n), args)?;
    }
    Ok(out)
}

/// Concatenates along `dim`: the same checks as [`cpu::cat`], one copy kernel per input.
pub fn cat(inputs: &[(&CudaBuffer, &Layout)], dim: usize) -> Result<(CudaBuffer, Shape)> {
    let shape = crate::cpu::copy::cat_shape(&inputs.iter().map(|&(b, l)| (b.dtype(), l)).collect::<Vec<_>>(), dim)?;
    let first = inputs[0].0;
    let inner: usize = shape.dims()[dim + 1..].iter().product();
    let out = CudaBuffer::alloc(first.device(), first.dtype(), shape.elem_count())?;
    let mut start = 0;
    for &(buf, layout) in inputs {
        let n = layout.elem_count();
        let block = layout.dims()[dim] * inner;
        if n > 0 {
            let args = Args::new()
                .u64(n as u64)
                .u64(block as u64)
                .u64((shape.dims()[dim] * inner) as u64)
                .u64(start as u64)
                .view(&strided(layout)?)
                .buf(buf)
                .buf(&out);
            launch(buf.device(), &COPY, &format!("cat_{}", width_sfx(buf.dtype())), elementwise(n), args)?;
        }
        start += block;
    }
    Ok((out, shape))
}

/// `len` copies of `value` converted to `dtype` (converted on the host, filled on the device).
pub fn full(dev: &Arc<CudaDevice>, dtype: DType, len: usize, value: f64) -> Result<CudaBuffer> {
    let bits = match dtype {
        DType::F32 => f32::from_f64(value).to_bits() as u64,
        DType::F64 => value.to_bits(),
        DType::F16 => tessera_core::f16::from_f64(value).to_bits() as u64,
        DType::BF16 => tessera_core::bf16::from_f64(value).to_bits() as u64,
        DType::U8 => u8::from_f64(value) as u64,
        DType::U32 => u32::from_f64(value) as u64,
        DType::I64 => i64::from_f64(value) as u64,
    };
    let out = CudaBuffer::alloc(dev, dtype, len)?;
    if len > 0 {
        let args = Args::new().u64(len as u64).buf(&out).u64(bits);
        launch(dev, &COPY, &format!("fill_{}", width_sfx(dtype)), elementwise(len), args)?;
    }
    Ok(out)
}

/// `start, start + step, ...` below `end`: computed on the host (the CPU kernel), uploaded.
pub fn arange(dev: &Arc<CudaDevice>, dtype: DType, start: f64, end: f64, step: f64) -> Result<CudaBuffer> {
    CudaBuffer::from_cpu(dev, &cpu::arange(dtype, start, end, step)?)
}

/// The identity matrix: computed on the host, uploaded.
pub fn eye(dev: &Arc<CudaDevice>, dtype: DType, rows: usize, cols: usize) -> Result<CudaBuffer> {
    CudaBuffer::from_cpu(dev, &cpu::eye(dtype, rows, cols))
}
