//! Host emulation of `kernels/compare.cu`: every comparison of the table, and `where`.

use super::binary::{ZipFn, PAIRS};
use super::{arg, data, launch, module, ptr, ptr_mut, sym, FLOATS};
use crate::cpu::{self, CpuBuffer};
use crate::cuda::launch::{elementwise, strided_views, StridedArg};
use crate::ops::CmpOp;
use crate::plan::{ComparePlan, WherePlan};
use std::ffi::c_void;
use tessera_core::{DType, Layout, Shape};

type WhereFn = unsafe extern "C" fn(
    u64,
    StridedArg,
    StridedArg,
    StridedArg,
    *const c_void,
    *const c_void,
    *const c_void,
    *mut c_void,
);

#[test]
fn host_compare_and_where_kernels_match_cpu() {
    let Some(lib) = module("compare") else { return };
    for dtype in FLOATS.into_iter().chain([DType::I64, DType::U8, DType::U32]) {
        for (sa, sb) in PAIRS {
            let (la, lb) = (Layout::contiguous(Shape::from(sa)), Layout::contiguous(Shape::from(sb)));
            let (a, b) = (data(dtype, la.elem_count(), 2, 1.0, 9.0), data(dtype, lb.elem_count(), 3, 1.0, 9.0));
            for &op in CmpOp::ALL {
                let plan = ComparePlan::new(op, arg(&a, &la), arg(&b, &lb)).unwrap();
                let want = cpu::compare(&plan, &a, &b).unwrap();
                let n = plan.zip.shape.elem_count();
                let v = strided_views(&[&plan.zip.lhs, &plan.zip.rhs]).unwrap();
                let mut got = CpuBuffer::zeros(DType::U8, n);
                let f: ZipFn = sym(lib, &op.kernel(dtype));
                let out = ptr_mut(&mut got);
                // SAFETY: buffers sized for the views; the kernel's signature is ZipFn.
                launch(lib, elementwise(n), || unsafe { f(n as u64, v[0], v[1], ptr(&a), ptr(&b), out) });
                assert_eq!(got, want, "{} {dtype} {sa:?} {sb:?}", op.name());
            }
            let mask = cpu::compare(&ComparePlan::new(CmpOp::Gt, arg(&a, &la), arg(&b, &lb)).unwrap(), &a, &b).unwrap();
            let shape = Layout::contiguous(tessera_core::broadcast_shapes(la.shape(), lb.shape(), "t").unwrap());
            let plan = WherePlan::new(arg(&mask, &shape), arg(&a, &la), arg(&b, &lb)).unwrap();
            let want = cpu::where_cond(&plan, &mask, &a, &b).unwrap();
            let n = plan.shape.elem_count();
            let v = strided_views(&[&plan.mask, &plan.on_true, &plan.on_false]).unwrap();
            let mut got = CpuBuffer::zeros(dtype, n);
            let f: WhereFn = sym(lib, &format!("where_{}", dtype.as_str()));
            let out = ptr_mut(&mut got);
            // SAFETY: as above.
            launch(lib, elementwise(n), || unsafe { f(n as u64, v[0], v[1], v[2], ptr(&mask), ptr(&a), ptr(&b), out) });
            assert_eq!(got, want, "where {dtype} {sa:?} {sb:?}");
        }
    }
}
