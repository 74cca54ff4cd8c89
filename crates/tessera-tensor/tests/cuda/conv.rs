//! im2col and col2im, conv2d and its two gradients, and conv_transpose2d built on them, on the
//! GPU against the CPU.

use crate::common::cuda::*;
use tessera_tensor::{Conv2dSpec, ConvTranspose2dSpec, DType, Device, Im2ColSpec, Result, Tensor};

/// Tolerances of results that sum products (f32's `(1e-4, 1e-4)`, wider for the half types).
fn sums(dtype: DType) -> (f64, f64) {
    match dtype {
        DType::F32 => (1e-4, 1e-4),
        DType::F64 => (1e-10, 1e-10),
        _ => (3e-2, 1e-2),
    }
}

/// A batch of [4, 5, 19, 23] images stored channels-last, as a permuted view on both devices.
fn images(dev: &Device, dtype: DType) -> Result<(Tensor, Tensor)> {
    let (cs, gs) = pair(dev, dtype, &[4, 19, 23, 5], 110, -2.0, 2.0)?;
    Ok((cs.permute(&[0, 3, 1, 2])?, gs.permute(&[0, 3, 1, 2])?))
}

pub fn windows(dev: &Device) -> Result<()> {
    let specs = [
        Im2ColSpec { kernel: [3, 3], stride: [1, 1], padding: [0, 0], dilation: [1, 1] },
        Im2ColSpec { kernel: [3, 2], stride: [2, 1], padding: [1, 2], dilation: [1, 2] },
        Im2ColSpec { kernel: [5, 3], stride: [3, 2], padding: [2, 1], dilation: [2, 1] },
    ];
    for dtype in FLOATS {
        let t = if dtype == DType::F32 { (1e-4, 1e-4) } else { tol(dtype) };
        let (cx, gx) = images(dev, dtype)?;
        for spec in &specs {
            let what = format!("{dtype} {spec:?}");
            check(&format!("im2col {what}"), dtype, &cx.im2col(spec), &gx.im2col(spec));
            // col2im of columns read transposed in their last two dims.
            let dims = cx.im2col(spec)?.dims().to_vec();
            let (cc, gc) = pair(dev, dtype, &[dims[0], dims[2], dims[1]], 111, -1.0, 1.0)?;
            let run = |c: &Tensor| c.transpose(1, 2)?.col2im(spec, [19, 23]);
            check_tol(&format!("col2im {what}"), t, &run(&cc), &run(&gc));
        }
        // The same errors on both devices, among them offsets past an i64 (a padding of
        // 2^64 - 2 reached by a stride of 2^63 - 1: found by the var_ops fuzz target).
        let big = Im2ColSpec { kernel: [30, 3], ..specs[0] };
        check(&format!("im2col {dtype} kernel too large"), dtype, &cx.im2col(&big), &gx.im2col(&big));
        let far = Im2ColSpec {
            kernel: [1, 3],
            stride: [isize::MAX as usize, 1 << 32],
            padding: [usize::MAX - 1, usize::MAX],
            dilation: [usize::MAX; 2],
        };
        check(&format!("im2col {dtype} offsets past i64"), dtype, &cx.im2col(&far), &gx.im2col(&far));
    }
    Ok(())
}

pub fn convolutions(dev: &Device) -> Result<()> {
    let specs = [
        Conv2dSpec { padding: [1, 1], ..Default::default() },
        Conv2dSpec { stride: [2, 1], padding: [0, 2], dilation: [1, 2], groups: 1 },
        Conv2dSpec { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 5 },
    ];
    for dtype in FLOATS {
        let t = sums(dtype);
        let (cx, gx) = images(dev, dtype)?;
        let (cb, gb) = pair(dev, dtype, &[10], 113, -1.0, 1.0)?;
        for spec in &specs {
            let what = format!("{dtype} {spec:?}");
            let (cw, gw) = pair(dev, dtype, &[10, 5 / spec.groups, 3, 3], 112, -0.5, 0.5)?;
            let conv = |x: &Tensor, w: &Tensor, b: &Tensor| x.conv2d(w, Some(b), spec);
            check_tol(&format!("conv2d {what}"), t, &conv(&cx, &cw, &cb), &conv(&gx, &gw, &gb));
            let dims = cx.conv2d(&cw, None, spec)?.dims().to_vec();
            let (cd, gd) = pair(dev, dtype, &dims, 114, -1.0, 1.0)?;
            let dx = |d: &Tensor, w: &Tensor| d.conv2d_input_grad(w, spec, [19, 23]);
            check_tol(&format!("conv2d_input_grad {what}"), t, &dx(&cd, &cw), &dx(&gd, &gw));
            let dw = |x: &Tensor, d: &Tensor| x.conv2d_weight_grad(d, spec, [3, 3]);
            check_tol(&format!("conv2d_weight_grad {what}"), t, &dw(&cx, &cd), &dw(&gx, &gd));
        }
        // A 1x1 kernel (im2col is a reshape) and a transposed convolution.
        let (cw, gw) = pair(dev, dtype, &[3, 5, 1, 1], 115, -0.5, 0.5)?;
        let one = |x: &Tensor, w: &Tensor| x.conv2d(w, None, &Conv2dSpec::default());
        check_tol(&format!("conv2d 1x1 {dtype}"), t, &one(&cx, &cw), &one(&gx, &gw));
        let (ct, gt) = pair(dev, dtype, &[5, 3, 2, 2], 116, -0.5, 0.5)?;
        let spec = ConvTranspose2dSpec { stride: [2, 2], output_padding: [1, 0], ..Default::default() };
        let convt = |x: &Tensor, w: &Tensor| x.conv_transpose2d(w, None, &spec);
        check_tol(&format!("conv_transpose2d {dtype}"), t, &convt(&cx, &ct), &convt(&gx, &gt));
        // Bad groups: the same error on both devices.
        let bad = Conv2dSpec { groups: 2, ..Default::default() };
        let (cw, gw) = pair(dev, dtype, &[4, 2, 3, 3], 117, -0.5, 0.5)?;
        check(&format!("conv2d {dtype} bad groups"), dtype, &cx.conv2d(&cw, None, &bad), &gx.conv2d(&gw, None, &bad));
    }
    Ok(())
}
