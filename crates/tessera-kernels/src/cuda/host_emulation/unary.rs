//! Host emulation of `kernels/unary.cu`: every example of the unary op table, on every dtype the
//! op supports, over strided and broadcast views.

use super::{arg, assert_close, data, launch, module, ptr, ptr_mut, sym, ulp, views, FLOATS};
use crate::cpu::{self, CpuBuffer};
use crate::cuda::launch::{elementwise, strided, StridedArg};
use crate::ops::UnaryOp;
use crate::plan::UnaryPlan;
use std::ffi::c_void;
use tessera_core::DType;

type UnaryFn = unsafe extern "C" fn(u64, StridedArg, *const c_void, *mut c_void, f64, f64);

#[test]
fn host_unary_kernels_match_cpu() {
    let Some(lib) = module("unary") else { return };
    for dtype in FLOATS.into_iter().chain([DType::I64, DType::U32, DType::U8]) {
        for &op in UnaryOp::EXAMPLES.iter().filter(|op| op.supports(dtype)) {
            let (lo, hi) = if dtype.is_int() { (0.0, 9.0) } else { op.domain().bounds() };
            let x = data(dtype, 60, 1, lo, hi);
            for (name, l) in views() {
                let plan = UnaryPlan::new(op, arg(&x, &l)).unwrap();
                let want = cpu::unary(&plan, &x).unwrap();
                let mut got = CpuBuffer::zeros(dtype, l.elem_count());
                let (p0, p1) = op.params();
                let f: UnaryFn = sym(lib, &op.kernel(dtype));
                let (n, view, out) = (l.elem_count(), strided(&l).unwrap(), ptr_mut(&mut got));
                // SAFETY: buffers sized for the view; the kernel's signature is UnaryFn.
                launch(lib, elementwise(n), || unsafe { f(n as u64, view, ptr(&x), out, p0, p1) });
                assert_close(&format!("{} {dtype} {name}", op.name()), &got, &want, 2.0 * ulp(dtype));
            }
        }
    }
}
