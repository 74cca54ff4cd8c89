//! im2col and col2im on the device (`kernels/conv.cu`), as [`crate::cpu::im2col`] and
//! [`crate::cpu::col2im`]: one thread per output element, inputs read through their strides.

use super::buffer::{expect_dtype, CudaBuffer};
use super::launch::{elementwise, launch, strided_exact, Args};
use super::source::CONV;
use crate::plan::{Col2ImPlan, ConvWindow, Im2ColPlan};
use crate::Result;
use tessera_core::Layout;

/// `total` and the window's sizes, in the kernels' parameter order.
fn window_args(total: usize, w: &ConvWindow) -> Args {
    let s = &w.spec;
    [
        total,
        w.channels,
        w.image[0],
        w.image[1],
        s.kernel[0],
        s.kernel[1],
        s.stride[0],
        s.stride[1],
        s.padding[0],
        s.padding[1],
        s.dilation[0],
        s.dilation[1],
        w.out[0],
        w.out[1],
    ]
    .into_iter()
    .fold(Args::new(), |a, v| a.u64(v as u64))
}

/// Launches `<kernel>_<dtype>` over `total` outputs reading `input` through `layout`.
fn run(kernel: &str, w: &ConvWindow, layout: &Layout, input: &CudaBuffer, total: usize) -> Result<CudaBuffer> {
    let out = CudaBuffer::alloc(input.device(), input.dtype(), total)?;
    if total > 0 {
        let view = strided_exact(layout.dims(), layout.strides(), layout.offset())?;
        let args = window_args(total, w).view(&view).buf(input).buf(&out);
        let name = format!("{kernel}_{}", input.dtype().as_str());
        launch(input.device(), &CONV, &name, elementwise(total), args)?;
    }
    Ok(out)
}

/// The plan's im2col of `x`, as [`crate::cpu::im2col`].
pub fn im2col(plan: &Im2ColPlan, x: &CudaBuffer) -> Result<CudaBuffer> {
    expect_dtype("im2col", plan.dtype, &[x])?;
    run("im2col", &plan.window, &plan.x, x, plan.out_shape.elem_count())
}

/// The plan's col2im of `col`, as [`crate::cpu::col2im`].
pub fn col2im(plan: &Col2ImPlan, col: &CudaBuffer) -> Result<CudaBuffer> {
    expect_dtype("col2im", plan.dtype, &[col])?;
    run("col2im", &plan.window, &plan.col, col, plan.out_shape.elem_count())
}
