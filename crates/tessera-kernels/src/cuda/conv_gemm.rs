//! `conv2d` and its two gradients on the device, as [`crate::cpu::conv2d`] and its gradients:
//! the whole batch's im2col columns (`kernels/conv.cu`), one batched cuBLAS product over images
//! and groups, then the bias (`conv_bias_<dtype>`) or col2im; the weight's gradient contracts
//! over images and positions in one product per group.

use super::buffer::{expect_dtype, CudaBuffer};
use super::conv::{col2im, im2col};
use super::copy::{contiguous, copy_strided};
use super::launch::{elementwise, launch, Args};
use super::matmul::matmul;
use super::source::CONV;
use crate::plan::{Arg, Col2ImPlan, Conv2dOperands, Conv2dPlan, Im2ColPlan, MatmulPlan};
use crate::Result;
use tessera_core::{Error, Layout, Shape};

/// The error for a plan of another of the three computations (a caller's bug).
fn wrong_plan(op: &'static str) -> crate::Error {
    Error::InvalidArgument { op, msg: "called with the plan of another convolution op".into() }.into()
}

fn contiguous_layout(dims: &[usize]) -> Layout {
    Layout::contiguous(Shape::new(dims.to_vec()))
}

/// The batch's columns `[N, C·KH·KW, OH·OW]`, contiguous: im2col, or the images themselves.
fn columns(plan: &Conv2dPlan, x: &CudaBuffer, xl: &Layout) -> Result<CudaBuffer> {
    if plan.window.is_identity() {
        contiguous(x, xl)
    } else {
        im2col(&Im2ColPlan::new(Arg::new(plan.dtype, xl), &plan.window.spec)?, x)
    }
}

/// `lhs @ rhs` for contiguous buffers viewed through `ll` and `rl` (broadcast batch dims).
fn product(plan: &Conv2dPlan, lhs: &CudaBuffer, ll: &Layout, rhs: &CudaBuffer, rl: &Layout) -> Result<CudaBuffer> {
    let mplan = MatmulPlan::new(Arg::new(plan.dtype, ll), Arg::new(plan.dtype, rl), None)?;
    matmul(&mplan, lhs, rhs, None)
}

/// The plan's `conv2d`, as [`crate::cpu::conv2d`].
pub fn conv2d(plan: &Conv2dPlan, x: &CudaBuffer, weight: &CudaBuffer, bias: Option<&CudaBuffer>) -> Result<CudaBuffer> {
    let Conv2dOperands::Forward { x: xl, weight: wl, bias: bl } = &plan.operands else {
        return Err(wrong_plan("conv2d"));
    };
    expect_dtype("conv2d", plan.dtype, &[x, weight])?;
    expect_dtype("conv2d", plan.dtype, &bias.into_iter().collect::<Vec<_>>())?;
    let w = &plan.window;
    let (g, ocg, kg, l) = (plan.groups, plan.out_channels_per_group(), plan.taps_per_group(), w.positions());
    let col = columns(plan, x, xl)?;
    let wc = contiguous(weight, wl)?;
    let y = product(plan, &wc, &contiguous_layout(&[g, ocg, kg]), &col, &contiguous_layout(&[w.batch, g, kg, l]))?;
    if let (Some(b), Some(bl)) = (bias, bl) {
        let total = w.batch * plan.out_channels * l;
        if total > 0 {
            let bc = contiguous(b, bl)?;
            let args = Args::new().u64(total as u64).u64(plan.out_channels as u64).u64(l as u64).buf(&bc).buf(&y);
            launch(y.device(), &CONV, &format!("conv_bias_{}", plan.dtype.as_str()), elementwise(total), args)?;
        }
    }
    Ok(y)
}

/// The plan's images' gradient, as [`crate::cpu::conv2d_input_grad`].
pub fn conv2d_input_grad(plan: &Conv2dPlan, dy: &CudaBuffer, weight: &CudaBuffer) -> Result<CudaBuffer> {
    let Conv2dOperands::InputGrad { dy: dl, weight: wl } = &plan.operands else {
        return Err(wrong_plan("conv2d_input_grad"));
    };
    expect_dtype("conv2d_input_grad", plan.dtype, &[dy, weight])?;
    let w = &plan.window;
    let (g, ocg, kg, l) = (plan.groups, plan.out_channels_per_group(), plan.taps_per_group(), w.positions());
    let (dyc, wc) = (contiguous(dy, dl)?, contiguous(weight, wl)?);
    // Wᵀ per group: [g, kg, ocg] read transposed in place.
    let wt = contiguous_layout(&[g, ocg, kg]).transpose(1, 2)?;
    let col = product(plan, &wc, &wt, &dyc, &contiguous_layout(&[w.batch, g, ocg, l]))?;
    if w.is_identity() {
        return Ok(col);
    }
    let cl = contiguous_layout(&[w.batch, w.channels * w.taps(), l]);
    col2im(&Col2ImPlan::new(Arg::new(plan.dtype, &cl), &w.spec, w.image)?, &col)
}

/// The plan's weight's gradient, as [`crate::cpu::conv2d_weight_grad`].
pub fn conv2d_weight_grad(plan: &Conv2dPlan, x: &CudaBuffer, dy: &CudaBuffer) -> Result<CudaBuffer> {
    let Conv2dOperands::WeightGrad { x: xl, dy: dl } = &plan.operands else {
        return Err(wrong_plan("conv2d_weight_grad"));
    };
    expect_dtype("conv2d_weight_grad", plan.dtype, &[x, dy])?;
    let w = &plan.window;
    let (g, ocg, kg, l) = (plan.groups, plan.out_channels_per_group(), plan.taps_per_group(), w.positions());
    let (col, dyc) = (columns(plan, x, xl)?, contiguous(dy, dl)?);
    // One product per group over the images' positions together: dy [g, ocg, N·L] times the
    // columns [g, kg, N·L] transposed. The sum over images then runs in cuBLAS's accumulator
    // and a half dtype rounds once, as on the CPU; a product per image, summed afterwards,
    // rounded each image's term to bf16 first.
    let nl = w.batch * l;
    let (dy_g, col_g) = (images_innermost(&dyc, w.batch, g * ocg, l)?, images_innermost(&col, w.batch, g * kg, l)?);
    let colt = contiguous_layout(&[g, kg, nl]).transpose(1, 2)?;
    product(plan, &dy_g, &contiguous_layout(&[g, ocg, nl]), &col_g, &colt)
}

/// `[N, rows, L]` contiguous as `[rows, N, L]`: a copy, unless there is one image.
fn images_innermost(buf: &CudaBuffer, images: usize, rows: usize, l: usize) -> Result<CudaBuffer> {
    if images == 1 {
        return Ok(buf.clone());
    }
    copy_strided(buf, &contiguous_layout(&[images, rows, l]).permute(&[1, 0, 2])?)
}
