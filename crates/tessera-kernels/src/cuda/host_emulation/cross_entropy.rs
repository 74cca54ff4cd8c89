//! Host emulation of `kernels/cross_entropy.cu`: log-sum-exp rows and the one-pass backward.

use super::{arg, assert_close, assert_close_abs, data, launch, module, ptr, ptr_mut, sym, ulp, views, FLOATS};
use crate::cpu::{self, CpuBuffer};
use crate::cuda::cross_entropy::logsumexp_launch;
use crate::cuda::launch::{elementwise, strided, StridedArg};
use crate::plan::{CrossEntropyBackwardPlan, LogSumExpPlan};
use std::ffi::c_void;
use tessera_core::{DType, Layout, Shape};

#[test]
fn host_cross_entropy_kernels_match_cpu() {
    let Some(lib) = module("cross_entropy") else { return };
    type BackwardFn = unsafe extern "C" fn(
        u64,
        u64,
        StridedArg,
        *const c_void,
        *const c_void,
        *const i64,
        *const c_void,
        f64,
        *mut c_void,
    );
    let (n, classes) = (6, 10);
    let contiguous = Layout::contiguous(Shape::new(vec![n, classes]));
    let transposed = Layout::contiguous(Shape::new(vec![classes, n])).transpose(0, 1).unwrap();
    let flat = Layout::contiguous(Shape::new(vec![n]));
    let target: Vec<i64> = vec![0, 9, 3, 3, 7, 1];
    let target_buf = CpuBuffer::I64(target.clone());
    for dtype in FLOATS {
        let x = data(dtype, 60, 30, -6.0, 6.0);
        for (name, l) in views() {
            check_logsumexp(lib, &x, &l, name);
        }
        let scale = data(dtype, n, 31, 0.0, 1.0);
        for (name, l) in [("contiguous", contiguous.clone()), ("transposed", transposed.clone())] {
            let lse = cpu::logsumexp(&LogSumExpPlan::new(arg(&x, &l), -1, false).unwrap(), &x).unwrap();
            for smoothing in [0.0, 0.1] {
                let args = [arg(&x, &l), arg(&lse, &flat), arg(&target_buf, &flat), arg(&scale, &flat)];
                let plan = CrossEntropyBackwardPlan::new(args[0], args[1], args[2], args[3], smoothing).unwrap();
                let want = cpu::cross_entropy_backward(&plan, &x, &lse, &target_buf, &scale).unwrap();
                let mut got = CpuBuffer::zeros(dtype, n * classes);
                let kernel = format!("cross_entropy_backward_{}", dtype.as_str());
                let f: BackwardFn = sym(lib, &kernel);
                let (view, out) = (strided(&l).unwrap(), ptr_mut(&mut got));
                // SAFETY: `x` covers `l`; lse, target and scale hold n values; `got` n * classes.
                launch(lib, elementwise(n * classes), || unsafe {
                    f(n as u64, classes as u64, view, ptr(&x), ptr(&lse), target.as_ptr(), ptr(&scale), smoothing, out)
                });
                let tol = 4.0 * ulp(dtype);
                assert_close_abs(&format!("{kernel} {name} smoothing {smoothing}"), &got, &want, tol, tol);
            }
        }
    }
    // Rows long enough for each block size the launch picks (128, 256 and 512 threads).
    for (rows, len) in [(3, 1500), (4, 300), (5, 100)] {
        for dtype in [DType::F32, DType::BF16] {
            let x = data(dtype, rows * len, 32, -6.0, 6.0);
            check_logsumexp(lib, &x, &Layout::contiguous(Shape::new(vec![rows, len])), &format!("[{rows}, {len}]"));
        }
    }
}

/// `logsumexp` of the rows of `x` through `l`, against the CPU.
fn check_logsumexp(lib: &libloading::Library, x: &CpuBuffer, l: &Layout, name: &str) {
    type LseFn = unsafe extern "C" fn(u64, u64, StridedArg, *const c_void, *mut c_void);
    let dtype = x.dtype();
    let plan = LogSumExpPlan::new(arg(x, l), -1, false).unwrap();
    let want = cpu::logsumexp(&plan, x).unwrap();
    let r = &plan.rows;
    let mut got = CpuBuffer::zeros(dtype, r.rows);
    let kernel = format!("logsumexp_{}", dtype.as_str());
    let f: LseFn = sym(lib, &kernel);
    let (view, out) = (strided(&r.layout).unwrap(), ptr_mut(&mut got));
    // SAFETY: `x` covers every offset of the rows' view, `got` holds one value per row.
    launch(lib, logsumexp_launch(r), || unsafe { f(r.rows as u64, r.len as u64, view, ptr(x), out) });
    assert_close(&format!("{kernel} {name}"), &got, &want, 4.0 * ulp(dtype));
}
