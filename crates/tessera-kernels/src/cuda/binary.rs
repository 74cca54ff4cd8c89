//! Broadcast binary ops (`kernels/binary.cu`).

use super::buffer::{expect_dtype, CudaBuffer};
use super::launch::{elementwise, launch, strided_views, Args};
use super::source::BINARY;
use crate::plan::{division_by_zero, BinaryPlan, ZipPlan};
use crate::Result;
use tessera_core::{DType, Layout, Shape};

/// Runs `kernel` of `module` over the plan's two broadcast operands into a new `out_dtype` buffer.
pub(super) fn zip(
    module: &super::source::KernelModule,
    kernel: &str,
    plan: &ZipPlan,
    a: &CudaBuffer,
    b: &CudaBuffer,
    out_dtype: DType,
) -> Result<CudaBuffer> {
    let n = plan.shape.elem_count();
    let out = CudaBuffer::alloc(a.device(), out_dtype, n)?;
    if n > 0 {
        let v = strided_views(&[&plan.lhs, &plan.rhs])?;
        let args = Args::new().u64(n as u64).view(&v[0]).view(&v[1]).buf(a).buf(b).buf(&out);
        launch(a.device(), module, kernel, elementwise(n), args)?;
    }
    Ok(out)
}

/// The plan's op over its two broadcast operands, as [`crate::cpu::binary`] (integer division by
/// zero is an error: the divisor is checked on the host first).
pub fn binary(plan: &BinaryPlan, lhs: &CudaBuffer, rhs: &CudaBuffer) -> Result<CudaBuffer> {
    let dtype = plan.zip.dtype;
    expect_dtype(plan.op.name(), dtype, &[lhs, rhs])?;
    if plan.checks_divisor() {
        let divisor = super::copy::copy_strided(rhs, &plan.zip.rhs)?.to_cpu()?;
        let flat = Layout::contiguous(Shape::new(vec![divisor.len()]));
        if divisor.to_f64_vec(&flat).contains(&0.0) {
            return Err(division_by_zero(dtype));
        }
    }
    zip(&BINARY, &plan.op.kernel(dtype), &plan.zip, lhs, rhs, dtype)
}
