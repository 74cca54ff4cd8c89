//! Host emulation of `kernels/copy.cu`: strided copies of every width, and concatenation.

use super::{arg, data, launch, module, ptr, ptr_mut, sym, views};
use crate::cpu::{self, CpuBuffer};
use crate::cuda::launch::{elementwise, strided, width_sfx, StridedArg};
use crate::plan::CatPlan;
use std::ffi::c_void;
use tessera_core::{DType, Layout, Shape};

pub(super) type CopyFn = unsafe extern "C" fn(u64, StridedArg, *const c_void, *mut c_void);

#[test]
fn host_copy_and_cat_kernels_match_cpu() {
    let Some(lib) = module("copy") else { return };
    for dtype in DType::ALL {
        let x = data(dtype, 60, 4, -400.0, 400.0);
        for (name, l) in views() {
            let n = l.elem_count();
            let mut got = CpuBuffer::zeros(dtype, n);
            let f: CopyFn = sym(lib, &format!("copy_{}", width_sfx(dtype)));
            let (view, out) = (strided(&l).unwrap(), ptr_mut(&mut got));
            // SAFETY: buffers sized for the view; the kernel's signature is CopyFn.
            launch(lib, elementwise(n), || unsafe { f(n as u64, view, ptr(&x), out) });
            assert_eq!(got, cpu::copy_strided(&x, &l), "copy {dtype} {name}");
        }
    }
    // cat along dim 1 of a contiguous view and a transposed one.
    type CatFn = unsafe extern "C" fn(u64, u64, u64, u64, StridedArg, *const c_void, *mut c_void);
    let f: CatFn = sym(lib, "cat_u32");
    let x = data(DType::F32, 60, 5, -1.0, 1.0);
    let (a, b) = (
        Layout::contiguous(Shape::new(vec![5, 4, 3])),
        Layout::contiguous(Shape::new(vec![3, 4, 5])).transpose(0, 2).unwrap(),
    );
    let plan = CatPlan::new(&[arg(&x, &a), arg(&x, &b)], 1).unwrap();
    let want = cpu::cat(&plan, &[&x, &x]).unwrap();
    let mut got = CpuBuffer::zeros(DType::F32, plan.out_shape.elem_count());
    let mut start = 0;
    for l in [&a, &b] {
        let block = (l.dims()[1] * 3) as u64;
        let (view, out) = (strided(l).unwrap(), ptr_mut(&mut got));
        // SAFETY: as above.
        launch(lib, elementwise(60), || unsafe { f(60, block, 8 * 3, start, view, ptr(&x), out) });
        start += block;
    }
    assert_eq!(got, want, "cat");
}
