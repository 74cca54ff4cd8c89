//! Batch normalisation on the device (`kernels/batch_norm.cu`), as [`crate::cpu::batch_norm`]:
//! a block per channel.

use super::buffer::{expect_dtype, CudaBuffer};
use super::copy::contiguous;
use super::launch::{launch, Args, Shape3};
use super::norm::param;
use super::source::BATCH_NORM;
use crate::plan::{BatchNormBackwardPlan, BatchNormPlan};
use crate::Result;

/// A block of 256 threads per channel.
pub(super) fn channels_launch(channels: usize) -> Shape3 {
    Shape3 { grid: channels.clamp(1, 1 << 16) as u32, block: 256 }
}

/// Batch normalisation: `[y, saved]`, as [`crate::cpu::batch_norm`].
pub fn batch_norm(
    plan: &BatchNormPlan,
    x: &CudaBuffer,
    weight: Option<&CudaBuffer>,
    bias: Option<&CudaBuffer>,
    running: Option<(&CudaBuffer, &CudaBuffer)>,
) -> Result<[CudaBuffer; 2]> {
    let params: Vec<&CudaBuffer> =
        [weight, bias, running.map(|r| r.0), running.map(|r| r.1)].into_iter().flatten().collect();
    expect_dtype("batch_norm", plan.dtype, &[x])?;
    expect_dtype("batch_norm", plan.dtype, &params)?;
    let dev = x.device().clone();
    let xc = contiguous(x, &plan.x)?;
    let (w, b) = (param(weight, plan.weight.as_ref(), x)?, param(bias, plan.bias.as_ref(), x)?);
    let (rl_m, rl_v) = (plan.running.as_ref().map(|r| &r.0), plan.running.as_ref().map(|r| &r.1));
    let (rm, rv) = (param(running.map(|r| r.0), rl_m, x)?, param(running.map(|r| r.1), rl_v, x)?);
    let y = CudaBuffer::alloc(&dev, plan.dtype, xc.len())?;
    let saved = CudaBuffer::alloc(&dev, plan.stat_dtype, 3 * plan.channels)?;
    if plan.channels > 0 {
        let args = Args::new()
            .u64(plan.batch as u64)
            .u64(plan.channels as u64)
            .u64(plan.inner as u64)
            .i32(plan.training as i32)
            .i32(plan.weight.is_some() as i32)
            .i32(plan.bias.is_some() as i32)
            .f64(plan.eps)
            .buf(&xc)
            .buf(&w)
            .buf(&b)
            .buf(&rm)
            .buf(&rv)
            .buf(&y)
            .buf(&saved);
        let name = format!("batch_norm_{}", plan.dtype.as_str());
        launch(&dev, &BATCH_NORM, &name, channels_launch(plan.channels), args)?;
    }
    Ok([y, saved])
}

/// The gradients `[dx, dweight, dbias]`, as [`crate::cpu::batch_norm_backward`].
pub fn batch_norm_backward(
    plan: &BatchNormBackwardPlan,
    x: &CudaBuffer,
    weight: Option<&CudaBuffer>,
    dy: &CudaBuffer,
    saved: &CudaBuffer,
) -> Result<[CudaBuffer; 3]> {
    let f = &plan.forward;
    expect_dtype("batch_norm_backward", f.dtype, &[x, dy])?;
    expect_dtype("batch_norm_backward", f.dtype, &weight.into_iter().collect::<Vec<_>>())?;
    expect_dtype("batch_norm_backward", f.stat_dtype, &[saved])?;
    let dev = x.device().clone();
    let (xc, dyc, sc) = (contiguous(x, &f.x)?, contiguous(dy, &plan.dy)?, contiguous(saved, &plan.saved)?);
    let w = param(weight, f.weight.as_ref(), x)?;
    let dx = CudaBuffer::alloc(&dev, f.dtype, xc.len())?;
    let (dw, db) = (CudaBuffer::alloc(&dev, f.dtype, f.channels)?, CudaBuffer::alloc(&dev, f.dtype, f.channels)?);
    if f.channels > 0 {
        let args = Args::new()
            .u64(f.batch as u64)
            .u64(f.channels as u64)
            .u64(f.inner as u64)
            .i32(f.training as i32)
            .i32(f.weight.is_some() as i32)
            .buf(&xc)
            .buf(&w)
            .buf(&dyc)
            .buf(&sc)
            .buf(&dx)
            .buf(&dw)
            .buf(&db);
        let name = format!("batch_norm_backward_{}", f.dtype.as_str());
        launch(&dev, &BATCH_NORM, &name, channels_launch(f.channels), args)?;
    }
    Ok([dx, dw, db])
}
