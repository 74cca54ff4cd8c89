//! Softmax and log-softmax along a dim (`kernels/softmax.cu`).

use super::buffer::{expect_dtype, CudaBuffer};
use super::copy::copy_strided;
use super::launch::{launch, strided, Args, Shape3};
use super::source::SOFTMAX;
use crate::plan::{Rows, SoftmaxPlan};
use crate::Result;

/// A block per row, sized to the row length.
pub(super) fn row_launch(rows: &Rows, long_block: u32, short_block: u32) -> Shape3 {
    let block = if rows.len >= 1024 {
        long_block
    } else if rows.len >= 256 {
        256.min(long_block)
    } else {
        short_block
    };
    Shape3 { grid: rows.rows.clamp(1, 1 << 16) as u32, block }
}

/// The launch of softmax and log-softmax over `rows`.
pub(super) fn softmax_launch(rows: &Rows) -> Shape3 {
    row_launch(rows, 512, 64)
}

/// The plan's softmax or log-softmax, as [`crate::cpu::softmax`].
pub fn softmax(plan: &SoftmaxPlan, buf: &CudaBuffer) -> Result<CudaBuffer> {
    expect_dtype(plan.kind.name(), plan.dtype, &[buf])?;
    let n = plan.out_shape.elem_count();
    let out = CudaBuffer::alloc(buf.device(), plan.dtype, n)?;
    if n > 0 {
        let r = &plan.rows;
        let args = Args::new().u64(r.rows as u64).u64(r.len as u64).view(&strided(&r.layout)?).buf(buf).buf(&out);
        let kernel = format!("{}_{}", plan.kind.name(), plan.dtype.as_str());
        launch(buf.device(), &SOFTMAX, &kernel, softmax_launch(r), args)?;
    }
    match &plan.back {
        Some(back) => copy_strided(&out, back),
        None => Ok(out),
    }
}
