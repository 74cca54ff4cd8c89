//! Host emulation of `kernels/softmax.cu`: softmax and log-softmax along every dim of strided
//! views.

use super::{arg, assert_close_abs, data, launch, module, ptr, ptr_mut, sym, ulp, views, FLOATS};
use crate::cpu::{self, CpuBuffer};
use crate::cuda::launch::{strided, StridedArg};
use crate::cuda::softmax::softmax_launch;
use crate::ops::SoftmaxKind;
use crate::plan::SoftmaxPlan;
use std::ffi::c_void;
use tessera_core::{DType, Layout, Shape};

#[test]
fn host_softmax_kernels_match_cpu() {
    let Some(lib) = module("softmax") else { return };
    for dtype in FLOATS {
        let x = data(dtype, 60, 10, -6.0, 6.0);
        for (name, l) in views() {
            check(lib, &x, &l, name);
        }
    }
    // Rows long enough for each block size the launch picks: 64, 256 and 512 threads, each
    // thread reading several elements, and a transposed view of them.
    for (rows, len) in [(3, 1500), (4, 300), (5, 100)] {
        for dtype in [DType::F32, DType::BF16] {
            let x = data(dtype, rows * len, 11, -6.0, 6.0);
            let l = Layout::contiguous(Shape::new(vec![rows, len]));
            check(lib, &x, &l, &format!("[{rows}, {len}]"));
            let t = Layout::contiguous(Shape::new(vec![len, rows])).transpose(0, 1).unwrap();
            check(lib, &x, &t, &format!("[{len}, {rows}] transposed"));
        }
    }
}

/// Softmax and log-softmax of the rows of `x` through `l`, against the CPU.
fn check(lib: &libloading::Library, x: &CpuBuffer, l: &Layout, name: &str) {
    type SoftmaxFn = unsafe extern "C" fn(u64, u64, StridedArg, *const c_void, *mut c_void);
    let dtype = x.dtype();
    for kind in [SoftmaxKind::Softmax, SoftmaxKind::LogSoftmax] {
        // The kernel writes rows in the plan's row order; the dim last keeps that the output
        // order (the host permutes back otherwise).
        let plan = SoftmaxPlan::new(kind, arg(x, l), -1).unwrap();
        let want = cpu::softmax(&plan, x).unwrap();
        let r = &plan.rows;
        let mut got = CpuBuffer::zeros(dtype, plan.out_shape.elem_count());
        let kernel = format!("{}_{}", kind.name(), dtype.as_str());
        let f: SoftmaxFn = sym(lib, &kernel);
        let (view, out) = (strided(&r.layout).unwrap(), ptr_mut(&mut got));
        // SAFETY: `x` covers every offset of the rows' view, `got` holds its elements.
        launch(lib, softmax_launch(r), || unsafe { f(r.rows as u64, r.len as u64, view, ptr(x), out) });
        // The threads of a row add in another order than the CPU: log-softmax near 0 keeps the
        // absolute error of the row's log-sum-exp, not a relative one.
        let tol = 4.0 * ulp(dtype);
        assert_close_abs(&format!("{kernel} {name}"), &got, &want, 4.0 * tol, tol);
    }
}
