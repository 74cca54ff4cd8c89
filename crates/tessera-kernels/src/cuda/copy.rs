//! Copies on the device: strided view to contiguous, and concatenation (`kernels/copy.cu`).

use super::buffer::{expect_dtype, CudaBuffer};
use super::launch::{elementwise, launch, strided, width_sfx, Args};
use super::source::COPY;
use crate::plan::CatPlan;
use crate::Result;
use tessera_core::Layout;

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

/// Concatenates `inputs` along the plan's dim, one copy kernel per input, as [`crate::cpu::cat`].
pub fn cat(plan: &CatPlan, inputs: &[&CudaBuffer]) -> Result<CudaBuffer> {
    expect_dtype("cat", plan.dtype, inputs)?;
    let first = inputs[0];
    let out = CudaBuffer::alloc(first.device(), plan.dtype, plan.out_shape.elem_count())?;
    if out.is_empty() {
        // An empty output's dims may multiply past a usize below.
        return Ok(out);
    }
    let inner = plan.inner();
    let out_block = plan.out_shape.dims()[plan.dim] * inner;
    let mut start = 0;
    for (&buf, layout) in inputs.iter().zip(&plan.inputs) {
        let n = layout.elem_count();
        let block = layout.dims()[plan.dim] * inner;
        if n > 0 {
            let args = Args::new()
                .u64(n as u64)
                .u64(block as u64)
                .u64(out_block as u64)
                .u64(start as u64)
                .view(&strided(layout)?)
                .buf(buf)
                .buf(&out);
            launch(buf.device(), &COPY, &format!("cat_{}", width_sfx(buf.dtype())), elementwise(n), args)?;
        }
        start += block;
    }
    Ok(out)
}
