//! LayerNorm and RMSNorm on the device (`kernels/norm.cu`), as [`crate::cpu::norm`]: a warp per
//! row.

use super::buffer::{expect_dtype, CudaBuffer};
use super::copy::contiguous;
use super::launch::{launch, Args, Shape3};
use super::source::NORM;
use crate::plan::{NormBackwardPlan, NormKind, NormParamGrads, NormPlan};
use crate::Result;

/// Four warps per block, a row each.
pub(super) fn rows_launch(rows: usize) -> Shape3 {
    Shape3 { grid: rows.div_ceil(4).clamp(1, 1 << 16) as u32, block: 128 }
}

/// A parameter made contiguous, or a one-element stand-in the kernels never read.
pub(super) fn param(b: Option<&CudaBuffer>, l: Option<&tessera_core::Layout>, like: &CudaBuffer) -> Result<CudaBuffer> {
    match (b, l) {
        (Some(b), Some(l)) => contiguous(b, l),
        _ => CudaBuffer::alloc(like.device(), like.dtype(), 1),
    }
}

/// The plan's normalisation: `[y, stats]`, as [`crate::cpu::norm`].
pub fn norm(
    plan: &NormPlan,
    x: &CudaBuffer,
    weight: Option<&CudaBuffer>,
    bias: Option<&CudaBuffer>,
) -> Result<[CudaBuffer; 2]> {
    expect_dtype(plan.kind.name(), plan.dtype, &[x])?;
    expect_dtype(plan.kind.name(), plan.dtype, &[weight, bias].into_iter().flatten().collect::<Vec<_>>())?;
    let dev = x.device().clone();
    let xc = contiguous(x, &plan.x)?;
    let (w, b) = (param(weight, plan.weight.as_ref(), x)?, param(bias, plan.bias.as_ref(), x)?);
    let y = CudaBuffer::alloc(&dev, plan.dtype, plan.rows * plan.width)?;
    let stats = CudaBuffer::alloc(&dev, plan.stat_dtype, plan.rows * 2)?;
    if plan.rows * plan.width > 0 {
        let args = Args::new()
            .u64(plan.rows as u64)
            .u64(plan.width as u64)
            .i32((plan.kind == NormKind::Rms) as i32)
            .i32(plan.weight.is_some() as i32)
            .i32(plan.bias.is_some() as i32)
            .f64(plan.eps)
            .buf(&xc)
            .buf(&w)
            .buf(&b)
            .buf(&y)
            .buf(&stats);
        launch(&dev, &NORM, &format!("norm_{}", plan.dtype.as_str()), rows_launch(plan.rows), args)?;
    }
    Ok([y, stats])
}

/// The gradient of `x` and the parameters' gradients the plan asks for, as
/// [`crate::cpu::norm_backward`].
pub fn norm_backward(
    plan: &NormBackwardPlan,
    x: &CudaBuffer,
    weight: Option<&CudaBuffer>,
    dy: &CudaBuffer,
    stats: &CudaBuffer,
) -> Result<(CudaBuffer, [Option<CudaBuffer>; 2])> {
    let f = &plan.forward;
    expect_dtype("norm_backward", f.dtype, &[x, dy])?;
    expect_dtype("norm_backward", f.stat_dtype, &[stats])?;
    let dev = x.device().clone();
    let (xc, dyc, sc) = (contiguous(x, &f.x)?, contiguous(dy, &plan.dy)?, contiguous(stats, &plan.stats)?);
    let w = param(weight, f.weight.as_ref(), x)?;
    let dx = CudaBuffer::alloc(&dev, f.dtype, f.rows * f.width)?;
    if f.rows * f.width > 0 {
        let args = Args::new()
            .u64(f.rows as u64)
            .u64(f.width as u64)
            .i32((f.kind == NormKind::Rms) as i32)
            .i32(f.weight.is_some() as i32)
            .buf(&xc)
            .buf(&w)
            .buf(&dyc)
            .buf(&sc)
            .buf(&dx);
        launch(&dev, &NORM, &format!("norm_backward_{}", f.dtype.as_str()), rows_launch(f.rows), args)?;
    }
    let NormParamGrads { weight: want_w, bias: want_b } = plan.params;
    if !(want_w || want_b) {
        return Ok((dx, [None, None]));
    }
    // Sums over no rows are zeros, which the kernel writes too.
    let grad =
        |wanted: bool| -> Result<CudaBuffer> { CudaBuffer::alloc(&dev, f.dtype, if wanted { f.width } else { 1 }) };
    let (dw, db) = (grad(want_w)?, grad(want_b)?);
    if f.width > 0 {
        let args = Args::new()
            .u64(f.rows as u64)
            .u64(f.width as u64)
            .i32(want_w as i32)
            .i32(want_b as i32)
            .buf(&xc)
            .buf(&dyc)
            .buf(&sc)
            .buf(&dw)
            .buf(&db);
        launch(&dev, &NORM, &format!("norm_param_grads_{}", f.dtype.as_str()), param_grads_launch(f.width), args)?;
    }
    Ok((dx, [want_w.then_some(dw), want_b.then_some(db)]))
}

/// A block of eight warps per 32 columns.
pub(super) fn param_grads_launch(width: usize) -> Shape3 {
    Shape3 { grid: width.div_ceil(32).clamp(1, 1 << 16) as u32, block: 256 }
}
