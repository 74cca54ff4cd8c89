//! The halves of fused softmax cross-entropy (`kernels/cross_entropy.cu`);
//! `cpu/cross_entropy.rs` is the reference and documents the formulas.

use super::buffer::{expect_dtype, CudaBuffer};
use super::copy::contiguous;
use super::index::checked_indices;
use super::launch::{elementwise, launch, strided, Args, Shape3};
use super::softmax::row_launch;
use super::source::CROSS_ENTROPY;
use crate::plan::{CrossEntropyBackwardPlan, LogSumExpPlan, Rows};
use crate::Result;

/// The launch of `logsumexp` over `rows`.
pub(super) fn logsumexp_launch(rows: &Rows) -> Shape3 {
    row_launch(rows, 512, 128)
}

/// `log(sum(exp(x)))` of each of the plan's rows, as [`crate::cpu::logsumexp`].
pub fn logsumexp(plan: &LogSumExpPlan, buf: &CudaBuffer) -> Result<CudaBuffer> {
    expect_dtype("logsumexp", plan.dtype, &[buf])?;
    let r = &plan.rows;
    let out = CudaBuffer::alloc(buf.device(), plan.dtype, r.rows)?;
    if r.rows > 0 {
        let args = Args::new().u64(r.rows as u64).u64(r.len as u64).view(&strided(&r.layout)?).buf(buf).buf(&out);
        let kernel = format!("logsumexp_{}", plan.dtype.as_str());
        launch(buf.device(), &CROSS_ENTROPY, &kernel, logsumexp_launch(r), args)?;
    }
    Ok(out)
}

/// The gradient of softmax cross-entropy, as [`crate::cpu::cross_entropy_backward`].
pub fn cross_entropy_backward(
    plan: &CrossEntropyBackwardPlan,
    logits: &CudaBuffer,
    lse: &CudaBuffer,
    target: &CudaBuffer,
    scale: &CudaBuffer,
) -> Result<CudaBuffer> {
    const OP: &str = "cross_entropy_backward";
    expect_dtype(OP, plan.dtype, &[logits, lse, scale])?;
    let targets = checked_indices(OP, target, &plan.target, 1, plan.classes)?;
    let (lse, scale) = (contiguous(lse, &plan.lse)?, contiguous(scale, &plan.scale)?);
    let n = plan.n * plan.classes;
    let out = CudaBuffer::alloc(logits.device(), plan.dtype, n)?;
    if n > 0 {
        let args = Args::new()
            .u64(plan.n as u64)
            .u64(plan.classes as u64)
            .view(&strided(&plan.logits)?)
            .buf(logits)
            .buf(&lse)
            .buf(&targets)
            .buf(&scale)
            .f64(plan.smoothing)
            .buf(&out);
        let kernel = format!("cross_entropy_backward_{}", plan.dtype.as_str());
        launch(logits.device(), &CROSS_ENTROPY, &kernel, elementwise(n), args)?;
    }
    Ok(out)
}
