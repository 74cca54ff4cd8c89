//! Elementwise ops of one operand (`kernels/unary.cu`).

use super::buffer::{expect_dtype, CudaBuffer};
use super::launch::{elementwise, launch, strided, Args};
use super::source::UNARY;
use crate::plan::UnaryPlan;
use crate::Result;

/// The plan's op over every element of its input view, as [`crate::cpu::unary`].
pub fn unary(plan: &UnaryPlan, buf: &CudaBuffer) -> Result<CudaBuffer> {
    expect_dtype(plan.op.name(), plan.dtype, &[buf])?;
    let (p0, p1) = plan.op.params();
    let n = plan.input.elem_count();
    let out = CudaBuffer::alloc(buf.device(), plan.dtype, n)?;
    if n > 0 {
        let args = Args::new().u64(n as u64).view(&strided(&plan.input)?).buf(buf).buf(&out).f64(p0).f64(p1);
        launch(buf.device(), &UNARY, &plan.op.kernel(plan.dtype), elementwise(n), args)?;
    }
    Ok(out)
}
