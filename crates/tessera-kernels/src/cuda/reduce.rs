//! Reductions (`kernels/reduce.cu`): sum, mean, max, min, var, argmax, argmin over any dims.

use super::buffer::CudaBuffer;
use super::launch::{launch, sfx, strided, Args, Shape3, BLOCK};
use super::source::REDUCE;
use crate::ops::ReduceOp;
use crate::Result;
use tessera_core::{DType, Error, Layout, Shape};

/// The data as [pre, red, post] lines: the layout to read (reduced dims permuted last when they
/// are not consecutive) and the three counts. Mirrors the CPU plan.
pub(super) fn plan(layout: &Layout, dims: &[usize]) -> Result<(Layout, usize, usize, usize)> {
    for &d in dims {
        if d >= layout.rank() {
            return Err(Error::DimOutOfRange { op: "reduce", dim: d as isize, shape: layout.shape().clone() }.into());
        }
    }
    let all = layout.dims();
    let prod = |r: &[usize]| r.iter().product::<usize>();
    if dims.is_empty() {
        return Ok((layout.clone(), layout.elem_count(), 1, 1));
    }
    if dims.windows(2).all(|w| w[1] == w[0] + 1) {
        let (first, last) = (dims[0], dims[dims.len() - 1]);
        return Ok((layout.clone(), prod(&all[..first]), prod(&all[first..=last]), prod(&all[last + 1..])));
    }
    let kept: Vec<usize> = (0..layout.rank()).filter(|d| !dims.contains(d)).collect();
    let perm: Vec<usize> = kept.iter().chain(dims).copied().collect();
    let red = dims.iter().map(|&d| all[d]).product();
    Ok((layout.permute(&perm)?, kept.iter().map(|&d| all[d]).product(), red, 1))
}

fn reduced_shape(shape: &Shape, dims: &[usize], keepdim: bool) -> Shape {
    let out = shape.dims().iter().enumerate().filter_map(|(d, &n)| match dims.contains(&d) {
        false => Some(n),
        true if keepdim => Some(1),
        true => None,
    });
    Shape::new(out.collect())
}

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

/// Launches one reduction kernel.
fn run(
    kernel: String,
    buf: &CudaBuffer,
    read: &Layout,
    lines: (usize, usize, usize),
    out_dtype: DType,
    extra: f64,
) -> Result<CudaBuffer> {
    let (pre, red, post) = lines;
    let outputs = pre * post;
    let out = CudaBuffer::alloc(buf.device(), out_dtype, outputs)?;
    if outputs == 0 {
        return Ok(out);
    }
    let (mode, shape) = mode_for(outputs, red, post);
    let args = Args::new()
        .u64(outputs as u64)
        .u64(red as u64)
        .u64(post as u64)
        .i32(mode as i32)
        .view(&strided(read)?)
        .buf(buf)
        .buf(&out)
        .f64(extra);
    launch(buf.device(), &REDUCE, &kernel, shape, args)?;
    Ok(out)
}

/// Sum, mean, max or min over `dims`; the same rules as [`crate::cpu::reduce`] (integer sums
/// give i64; max/min of an empty dim and integer means are errors).
pub fn reduce(
    op: ReduceOp,
    buf: &CudaBuffer,
    layout: &Layout,
    dims: &[usize],
    keepdim: bool,
) -> Result<(CudaBuffer, Shape)> {
    let (read, pre, red, post) = plan(layout, dims)?;
    let shape = reduced_shape(layout.shape(), dims, keepdim);
    let dtype = buf.dtype();
    if matches!(op, ReduceOp::Max | ReduceOp::Min) && red == 0 && pre * post > 0 {
        return Err(Error::InvalidArgument {
            op: op.name(),
            msg: format!("cannot reduce over an empty dim of shape {}", layout.shape()),
        }
        .into());
    }
    if op == ReduceOp::Mean && dtype.is_int() {
        return Err(Error::UnsupportedDType { op: "mean", dtype, hint: " (cast to a float dtype first)" }.into());
    }
    let (name, out_dtype, extra) = match op {
        ReduceOp::Sum => ("sum", if dtype.is_int() { DType::I64 } else { dtype }, 1.0),
        ReduceOp::Mean => ("sum", dtype, 1.0 / red as f64),
        ReduceOp::Max => ("max", dtype, 0.0),
        ReduceOp::Min => ("min", dtype, 0.0),
    };
    let out = run(format!("reduce_{name}_{}", sfx(dtype)), buf, &read, (pre, red, post), out_dtype, extra)?;
    Ok((out, shape))
}

/// Variance over `dims` with `correction` (1 = unbiased); float dtypes.
pub fn var(
    buf: &CudaBuffer,
    layout: &Layout,
    dims: &[usize],
    keepdim: bool,
    correction: usize,
) -> Result<(CudaBuffer, Shape)> {
    let (read, pre, red, post) = plan(layout, dims)?;
    let shape = reduced_shape(layout.shape(), dims, keepdim);
    if buf.dtype().is_int() {
        return Err(
            Error::UnsupportedDType { op: "var", dtype: buf.dtype(), hint: " (cast to a float dtype first)" }.into()
        );
    }
    let out =
        run(format!("reduce_var_{}", sfx(buf.dtype())), buf, &read, (pre, red, post), buf.dtype(), correction as f64)?;
    Ok((out, shape))
}

/// Position (i64) of the maximum (`greater`) or minimum along `dim`; first NaN wins, ties go to
/// the first position.
pub fn arg_reduce(
    buf: &CudaBuffer,
    layout: &Layout,
    dim: usize,
    keepdim: bool,
    greater: bool,
) -> Result<(CudaBuffer, Shape)> {
    let op = if greater { "argmax" } else { "argmin" };
    let (read, pre, red, post) = plan(layout, &[dim]).map_err(|_| Error::DimOutOfRange {
        op,
        dim: dim as isize,
        shape: layout.shape().clone(),
    })?;
    if red == 0 {
        return Err(
            Error::InvalidArgument { op, msg: format!("dim {dim} of shape {} is empty", layout.shape()) }.into()
        );
    }
    let shape = reduced_shape(layout.shape(), &[dim], keepdim);
    let out = run(format!("reduce_{op}_{}", sfx(buf.dtype())), buf, &read, (pre, red, post), DType::I64, 0.0)?;
    Ok((out, shape))
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
        // Non-consecutive dims are permuted last: (pre, red, 1).
        let l = Layout::contiguous(Shape::new(vec![2, 3, 4]));
        let (read, pre, red, post) = plan(&l, &[0, 2]).unwrap();
        assert_eq!((read.dims(), pre, red, post), (&[3usize, 2, 4][..], 3, 8, 1));
    }
}
