//! Host emulation of `kernels/conv.cu`: im2col and col2im against the CPU over strided,
//! padded, dilated and strided windows in every float dtype.

use super::{arg, assert_close_abs, data, launch, module, ptr, ptr_mut, sym, ulp, FLOATS};
use crate::cpu::{self, CpuBuffer};
use crate::cuda::launch::{elementwise, strided_exact, StridedArg};
use crate::plan::{Col2ImPlan, ConvWindow, Im2ColPlan, Im2ColSpec};
use std::ffi::c_void;
use tessera_core::{Layout, Shape};

type WindowFn = unsafe extern "C" fn(
    u64,
    u64,
    u64,
    u64,
    u64,
    u64,
    u64,
    u64,
    u64,
    u64,
    u64,
    u64,
    u64,
    u64,
    StridedArg,
    *const c_void,
    *mut c_void,
);

/// Calls `kernel` over `total` outputs of window `w`, reading `input` through `layout`.
fn call(
    lib: &libloading::Library,
    kernel: &str,
    w: &ConvWindow,
    layout: &Layout,
    input: &CpuBuffer,
    total: usize,
) -> CpuBuffer {
    let f: WindowFn = sym(lib, &format!("{kernel}_{}", input.dtype().as_str()));
    let mut out = CpuBuffer::zeros(input.dtype(), total);
    let view = strided_exact(layout.dims(), layout.strides(), layout.offset()).unwrap();
    let s = &w.spec;
    let u = |v: usize| v as u64;
    let out_p = ptr_mut(&mut out);
    // SAFETY: `input` covers the view, `out` holds `total` elements; the signature is WindowFn.
    launch(lib, elementwise(total), || unsafe {
        f(
            u(total),
            u(w.channels),
            u(w.image[0]),
            u(w.image[1]),
            u(s.kernel[0]),
            u(s.kernel[1]),
            u(s.stride[0]),
            u(s.stride[1]),
            u(s.padding[0]),
            u(s.padding[1]),
            u(s.dilation[0]),
            u(s.dilation[1]),
            u(w.out[0]),
            u(w.out[1]),
            view,
            ptr(input),
            out_p,
        )
    });
    out
}

#[test]
fn host_conv_kernels_match_cpu() {
    let Some(lib) = module("conv") else { return };
    let specs = [
        Im2ColSpec { kernel: [3, 3], stride: [1, 1], padding: [0, 0], dilation: [1, 1] },
        Im2ColSpec { kernel: [3, 2], stride: [2, 1], padding: [1, 2], dilation: [1, 2] },
        Im2ColSpec { kernel: [2, 3], stride: [3, 2], padding: [2, 1], dilation: [2, 1] },
    ];
    // A [2, 3, 7, 6] batch read as stored, and as a permuted view (channels stored last).
    let (dims, stored) = ([2, 3, 7, 6], [2, 7, 6, 3]);
    let views = [
        ("contiguous", Layout::contiguous(Shape::new(dims.to_vec()))),
        ("channels last", Layout::contiguous(Shape::new(stored.to_vec())).permute(&[0, 3, 1, 2]).unwrap()),
    ];
    for dtype in FLOATS {
        let x = data(dtype, 2 * 3 * 7 * 6, 80, -2.0, 2.0);
        for spec in &specs {
            for (name, xl) in &views {
                let plan = Im2ColPlan::new(arg(&x, xl), spec).unwrap();
                let want = cpu::im2col(&plan, &x).unwrap();
                let got = call(lib, "im2col", &plan.window, xl, &x, plan.out_shape.elem_count());
                assert_eq!(got, want, "im2col {dtype} {name} {spec:?}");
                // col2im of the columns read transposed in their last two dims.
                let [n, rows, positions] = *plan.out_shape.dims() else { unreachable!() };
                let col = data(dtype, n * rows * positions, 81, -1.0, 1.0);
                let cl = Layout::contiguous(Shape::new(vec![n, positions, rows])).transpose(1, 2).unwrap();
                let back = Col2ImPlan::new(arg(&col, &cl), spec, [7, 6]).unwrap();
                let want = cpu::col2im(&back, &col).unwrap();
                let got = call(lib, "col2im", &back.window, &cl, &col, back.out_shape.elem_count());
                let tol = 4.0 * ulp(dtype);
                assert_close_abs(&format!("col2im {dtype} {name} {spec:?}"), &got, &want, tol, tol);
            }
        }
    }
}

#[test]
fn host_conv_bias_matches_cpu() {
    let Some(lib) = module("conv") else { return };
    type BiasFn = unsafe extern "C" fn(u64, u64, u64, *const c_void, *mut c_void);
    let (n, c, plane) = (3, 4, 5);
    for dtype in FLOATS {
        let (y, b) = (data(dtype, n * c * plane, 82, -2.0, 2.0), data(dtype, c, 83, -1.0, 1.0));
        let l = |dims: Vec<usize>| Layout::contiguous(Shape::new(dims));
        let (yv, bv) = (y.to_f64_vec(&l(vec![n * c * plane])), b.to_f64_vec(&l(vec![c])));
        let want: Vec<f64> = (0..yv.len()).map(|i| yv[i] + bv[i / plane % c]).collect();
        let want = cpu::cast(&CpuBuffer::F64(want), &l(vec![n * c * plane]), dtype);
        let mut got = y.clone();
        let f: BiasFn = sym(lib, &format!("conv_bias_{}", dtype.as_str()));
        let got_out = ptr_mut(&mut got);
        // SAFETY: `got` holds n·c·plane elements and `b` c; the signature is BiasFn.
        launch(lib, elementwise(n * c * plane), || unsafe {
            f((n * c * plane) as u64, c as u64, plane as u64, ptr(&b), got_out)
        });
        let tol = ulp(dtype);
        assert_close_abs(&format!("conv_bias {dtype}"), &got, &want, tol, tol);
    }
}
