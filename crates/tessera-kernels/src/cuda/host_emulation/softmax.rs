//! Host emulation of `kernels/softmax.cu`: softmax, log-softmax, and the halves of fused
//! cross-entropy (logsumexp rows and the one-pass backward).

use super::{assert_close, assert_close_abs, data, module, ptr, ptr_mut, sym, ulp, views, FLOATS};
use crate::cpu::{self, CpuBuffer};
use crate::cuda::launch::{strided, StridedArg};
use std::ffi::c_void;
use tessera_core::{Layout, Shape};

#[test]
fn host_softmax_kernels_match_cpu() {
    let Some(lib) = module("softmax") else { return };
    type SoftmaxFn = unsafe extern "C" fn(u64, u64, StridedArg, *const c_void, *mut c_void);
    for dtype in FLOATS {
        let x = data(dtype, 60, 10, -6.0, 6.0);
        for (name, l) in views() {
            for log in [false, true] {
                // The host side's job: the dim moved last, the rows contiguous in that order.
                let rank = l.rank();
                let moved = l.permute(&[0, 2, 1]).unwrap();
                let want_moved =
                    if log { cpu::log_softmax(&x, &moved, rank - 1) } else { cpu::softmax(&x, &moved, rank - 1) };
                let want = want_moved.unwrap();
                let len = moved.dims()[rank - 1];
                let mut got = CpuBuffer::zeros(dtype, moved.elem_count());
                let kernel = format!("{}_{}", if log { "log_softmax" } else { "softmax" }, dtype.as_str());
                let f: SoftmaxFn = sym(lib, &kernel);
                // SAFETY: `x` covers every offset of `moved`, `got` holds its elements.
                unsafe {
                    f(
                        (moved.elem_count() / len) as u64,
                        len as u64,
                        strided(&moved).unwrap(),
                        ptr(&x),
                        ptr_mut(&mut got),
                    )
                };
                assert_close(&format!("{kernel} {name}"), &got, &want, 4.0 * ulp(dtype));
            }
        }
    }
}

#[test]
fn host_cross_entropy_kernels_match_cpu() {
    let Some(lib) = module("softmax") else { return };
    type LseFn = unsafe extern "C" fn(u64, u64, StridedArg, *const c_void, *mut c_void);
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
    let flat = |len| Layout::contiguous(Shape::new(vec![len]));
    let target: Vec<i64> = vec![0, 9, 3, 3, 7, 1];
    let target_buf = CpuBuffer::I64(target.clone());
    for dtype in FLOATS {
        let x = data(dtype, 60, 30, -6.0, 6.0);
        for (name, l) in views() {
            let want = cpu::logsumexp(&x, &l).unwrap();
            let len = *l.dims().last().unwrap();
            let mut got = CpuBuffer::zeros(dtype, want.len());
            let kernel = format!("logsumexp_{}", dtype.as_str());
            let f: LseFn = sym(lib, &kernel);
            // SAFETY: `x` covers every offset of `l`, `got` holds one value per row.
            unsafe { f((l.elem_count() / len) as u64, len as u64, strided(&l).unwrap(), ptr(&x), ptr_mut(&mut got)) };
            assert_close(&format!("{kernel} {name}"), &got, &want, 4.0 * ulp(dtype));
        }
        let scale = data(dtype, n, 31, 0.0, 1.0);
        for (name, l) in [("contiguous", contiguous.clone()), ("transposed", transposed.clone())] {
            let lse = cpu::logsumexp(&x, &l).unwrap();
            for smoothing in [0.0, 0.1] {
                let args = [(&x, &l), (&lse, &flat(n)), (&target_buf, &flat(n)), (&scale, &flat(n))];
                let want = cpu::cross_entropy_backward(args[0], args[1], args[2], args[3], smoothing).unwrap();
                let mut got = CpuBuffer::zeros(dtype, n * classes);
                let kernel = format!("cross_entropy_backward_{}", dtype.as_str());
                let f: BackwardFn = sym(lib, &kernel);
                // SAFETY: `x` covers `l`; lse, target and scale hold n values; `got` n * classes.
                unsafe {
                    f(
                        n as u64,
                        classes as u64,
                        strided(&l).unwrap(),
                        ptr(&x),
                        ptr(&lse),
                        target.as_ptr(),
                        ptr(&scale),
                        smoothing,
                        ptr_mut(&mut got),
                    )
                };
                let tol = 4.0 * ulp(dtype);
                assert_close_abs(&format!("{kernel} {name} smoothing {smoothing}"), &got, &want, tol, tol);
            }
        }
    }
}
