//! Host emulation of `kernels/binary.cu`: every op of the binary table over broadcast pairs.

use super::{arg, assert_close, data, launch, module, ptr, ptr_mut, sym, ulp, FLOATS};
use crate::cpu::{self, CpuBuffer};
use crate::cuda::launch::{elementwise, strided_views, StridedArg};
use crate::ops::BinaryOp;
use crate::plan::BinaryPlan;
use std::ffi::c_void;
use tessera_core::{DType, Layout, Shape};

pub(super) type ZipFn = unsafe extern "C" fn(u64, StridedArg, StridedArg, *const c_void, *const c_void, *mut c_void);

/// Broadcast pairs of shapes, scalars included.
pub(super) const PAIRS: [(&[usize], &[usize]); 4] =
    [(&[3, 4, 5], &[3, 4, 5]), (&[3, 1, 5], &[4, 1]), (&[5], &[2, 1]), (&[], &[2, 3])];

#[test]
fn host_binary_kernels_match_cpu() {
    let Some(lib) = module("binary") else { return };
    for dtype in FLOATS.into_iter().chain([DType::I64, DType::U8, DType::U32]) {
        for (sa, sb) in PAIRS {
            let (la, lb) = (Layout::contiguous(Shape::from(sa)), Layout::contiguous(Shape::from(sb)));
            let (a, b) = (data(dtype, la.elem_count(), 2, 1.0, 40.0), data(dtype, lb.elem_count(), 3, 1.0, 40.0));
            for &op in BinaryOp::ALL.iter().filter(|op| op.supports(dtype)) {
                let plan = BinaryPlan::new(op, arg(&a, &la), arg(&b, &lb)).unwrap();
                let want = cpu::binary(&plan, &a, &b).unwrap();
                let n = plan.zip.shape.elem_count();
                let v = strided_views(&[&plan.zip.lhs, &plan.zip.rhs]).unwrap();
                let mut got = CpuBuffer::zeros(dtype, n);
                let f: ZipFn = sym(lib, &op.kernel(dtype));
                let out = ptr_mut(&mut got);
                // SAFETY: buffers sized for the views; the kernel's signature is ZipFn.
                launch(lib, elementwise(n), || unsafe { f(n as u64, v[0], v[1], ptr(&a), ptr(&b), out) });
                assert_close(&format!("{} {dtype} {sa:?} {sb:?}", op.name()), &got, &want, 2.0 * ulp(dtype));
            }
        }
    }
}
