//! Broadcast comparisons and `where` (`kernels/compare.cu`).

use super::binary::zip;
use super::buffer::{expect_dtype, CudaBuffer};
use super::launch::{elementwise, launch, strided_views, Args};
use super::source::COMPARE;
use crate::plan::{ComparePlan, WherePlan};
use crate::Result;
use tessera_core::DType;

/// The plan's comparison over its broadcast operands: a `u8` mask, as [`crate::cpu::compare`].
pub fn compare(plan: &ComparePlan, lhs: &CudaBuffer, rhs: &CudaBuffer) -> Result<CudaBuffer> {
    expect_dtype(plan.op.name(), plan.zip.dtype, &[lhs, rhs])?;
    zip(&COMPARE, &plan.op.kernel(plan.zip.dtype), &plan.zip, lhs, rhs, DType::U8)
}

/// `mask ? on_true : on_false` over the plan's broadcast views, as [`crate::cpu::where_cond`].
pub fn where_cond(
    plan: &WherePlan,
    mask: &CudaBuffer,
    on_true: &CudaBuffer,
    on_false: &CudaBuffer,
) -> Result<CudaBuffer> {
    expect_dtype("where", DType::U8, &[mask])?;
    expect_dtype("where", plan.dtype, &[on_true, on_false])?;
    let n = plan.shape.elem_count();
    let out = CudaBuffer::alloc(mask.device(), plan.dtype, n)?;
    if n > 0 {
        let v = strided_views(&[&plan.mask, &plan.on_true, &plan.on_false])?;
        let args = Args::new()
            .u64(n as u64)
            .view(&v[0])
            .view(&v[1])
            .view(&v[2])
            .buf(mask)
            .buf(on_true)
            .buf(on_false)
            .buf(&out);
        launch(mask.device(), &COMPARE, &format!("where_{}", plan.dtype.as_str()), elementwise(n), args)?;
    }
    Ok(out)
}
