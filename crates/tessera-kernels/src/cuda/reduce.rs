//! Reductions (`kernels/reduce.cu`): sum, mean, max, min, var, argmax, argmin over any dims.

use super::buffer::{expect_dtype, CudaBuffer};
use super::launch::{launch, strided, Args, Shape3, BLOCK};
use super::source::REDUCE;
use crate::ops::ReduceOp;
use crate::plan::{ReduceKind, ReducePlan};
use crate::Result;

/// Who shares one output (`TS_MODE_*` in reduce.cu).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Mode {
    /// A block per output: long lines.
    Block = 0,
    /// A warp per output: lines up to 1024 elements.
    Warp = 1,
    /// A thread per output: column reductions (post >= 32), where neighbouring threads read
    /// neighbouring addresses, with enough outputs to fill the GPU.
    Thread = 2,
}

/// The launch mode and shape for `outputs` lines of `red` elements, `post` apart.
pub(super) fn mode_for(outputs: usize, red: usize, post: usize) -> (Mode, Shape3) {
    if post >= 32 && outputs >= 2048 {
        (Mode::Thread, Shape3 { grid: outputs.div_ceil(BLOCK as usize).min(1 << 16) as u32, block: BLOCK })
    } else if red <= 1024 {
        (Mode::Warp, Shape3 { grid: outputs.div_ceil((BLOCK / 32) as usize).min(1 << 16) as u32, block: BLOCK })
    } else {
        (Mode::Block, Shape3 { grid: outputs.min(1 << 16) as u32, block: 512 })
    }
}

/// The plan's reduction, as [`crate::cpu::reduce`]: one kernel over `[pre, red, post]` lines.
pub fn reduce(plan: &ReducePlan, buf: &CudaBuffer) -> Result<CudaBuffer> {
    let (name, extra) = kernel_of(plan);
    expect_dtype(name, plan.dtype, &[buf])?;
    let outputs = plan.lines.outputs();
    let out = CudaBuffer::alloc(buf.device(), plan.out_dtype, outputs)?;
    if outputs == 0 {
        return Ok(out);
    }
    let (mode, shape) = mode_for(outputs, plan.lines.red, plan.lines.post);
    let args = Args::new()
        .u64(outputs as u64)
        .u64(plan.lines.red as u64)
        .u64(plan.lines.post as u64)
        .i32(mode as i32)
        .view(&strided(&plan.read)?)
        .buf(buf)
        .buf(&out)
        .f64(extra);
    launch(buf.device(), &REDUCE, &format!("reduce_{name}_{}", plan.dtype.as_str()), shape, args)?;
    Ok(out)
}

/// The kernel (`reduce_<name>_<dtype>`) of a plan and its extra argument: a sum's scale (1, or
/// `1 / red` for a mean) or a variance's correction.
pub(super) fn kernel_of(plan: &ReducePlan) -> (&'static str, f64) {
    match plan.kind {
        ReduceKind::Op(ReduceOp::Sum) => ("sum", 1.0),
        ReduceKind::Op(ReduceOp::Mean) => ("sum", 1.0 / plan.lines.red as f64),
        ReduceKind::Op(op) => (op.name(), 0.0),
        ReduceKind::Variance { correction } => ("var", correction as f64),
        ReduceKind::Arg(op) => (op.name(), 0.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn launch_modes_follow_the_line_shape() {
        // Row sums of [65536, 1024]: a warp per row.
        assert_eq!(mode_for(65536, 1024, 1).0, Mode::Warp);
        // Long rows: a block per row, 512 threads.
        let (mode, shape) = mode_for(3, 5000, 1);
        assert_eq!((mode, shape.block, shape.grid), (Mode::Block, 512, 3));
        // Bias gradients (sum over the batch of [1024, 4096]): a thread per column, coalesced.
        let (mode, shape) = mode_for(4096, 1024, 4096);
        assert_eq!((mode, shape.grid), (Mode::Thread, 16));
        // Few columns: not enough threads, so a warp per output.
        assert_eq!(mode_for(64, 100, 64).0, Mode::Warp);
    }
}
