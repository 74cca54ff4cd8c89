//! Host emulation of `kernels/softmax.cu`: softmax and log-softmax along every dim of strided
//! views.

use super::{arg, assert_close, data, module, ptr, ptr_mut, sym, ulp, views, FLOATS};
use crate::cpu::{self, CpuBuffer};
use crate::cuda::launch::{strided, StridedArg};
use crate::ops::SoftmaxKind;
use crate::plan::SoftmaxPlan;
use std::ffi::c_void;

#[test]
fn host_softmax_kernels_match_cpu() {
    let Some(lib) = module("softmax") else { return };
    type SoftmaxFn = unsafe extern "C" fn(u64, u64, StridedArg, *const c_void, *mut c_void);
    for dtype in FLOATS {
        let x = data(dtype, 60, 10, -6.0, 6.0);
        for (name, l) in views() {
            for kind in [SoftmaxKind::Softmax, SoftmaxKind::LogSoftmax] {
                // The kernel writes rows in the plan's row order; the dim last keeps that the
                // output order (the host permutes back otherwise).
                let plan = SoftmaxPlan::new(kind, arg(&x, &l), -1).unwrap();
                let want = cpu::softmax(&plan, &x).unwrap();
                let r = &plan.rows;
                let mut got = CpuBuffer::zeros(dtype, plan.out_shape.elem_count());
                let kernel = format!("{}_{}", kind.name(), dtype.as_str());
                let f: SoftmaxFn = sym(lib, &kernel);
                // SAFETY: `x` covers every offset of the rows' view, `got` holds its elements.
                unsafe { f(r.rows as u64, r.len as u64, strided(&r.layout).unwrap(), ptr(&x), ptr_mut(&mut got)) };
                assert_close(&format!("{kernel} {name}"), &got, &want, 4.0 * ulp(dtype));
            }
        }
    }
}
