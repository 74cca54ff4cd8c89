//! Rotary position embeddings on the device (`kernels/rotary.cu`), as [`crate::cpu::rotary`].

use super::buffer::{expect_dtype, CudaBuffer};
use super::copy::contiguous;
use super::launch::{elementwise, launch, Args};
use super::source::ROTARY;
use crate::plan::RotaryPlan;
use crate::Result;

/// The plan's rotation of `x`, contiguous in its shape.
pub fn rotary(plan: &RotaryPlan, x: &CudaBuffer) -> Result<CudaBuffer> {
    expect_dtype("rotary", plan.dtype, &[x])?;
    let n = plan.x.elem_count();
    let xc = contiguous(x, &plan.x)?;
    let y = CudaBuffer::alloc(x.device(), plan.dtype, n)?;
    let pairs = n / 2;
    if pairs > 0 {
        let args = Args::new()
            .u64(pairs as u64)
            .u64(plan.seq as u64)
            .u64(plan.dim as u64)
            .u64(plan.offset as u64)
            .f64(plan.base)
            .f64(if plan.inverse { -1.0 } else { 1.0 })
            .buf(&xc)
            .buf(&y);
        launch(x.device(), &ROTARY, &format!("rotary_{}", plan.dtype.as_str()), elementwise(pairs), args)?;
    }
    Ok(y)
}
