//! Host emulation of `kernels/index.cu`: the bounds check, index_select, gather, scatter_add.

use super::{arg, assert_close, data, launch, module, ptr, ptr_mut, sym, ulp};
use crate::cpu::{self, CpuBuffer};
use crate::cuda::launch::{elementwise, strided, strided_exact, StridedArg};
use crate::plan::{GatherPlan, IndexSelectPlan, ScatterAddPlan};
use std::ffi::c_void;
use tessera_core::{DType, Layout, Shape};

#[test]
fn host_index_kernels_match_cpu() {
    let Some(lib) = module("index") else { return };
    // The bounds check finds the first bad position (the one the CPU's error names).
    type CheckFn = unsafe extern "C" fn(u64, *const c_void, u64, *mut c_void);
    let f: CheckFn = sym(lib, "check_indices");
    for (idx, want) in [(vec![1i64, 9, -1, 7], 1u64), (vec![0, 4, 3], u64::MAX), (vec![2, 0, -3], 2)] {
        let mut first = CpuBuffer::I64(vec![-1]);
        let idx = CpuBuffer::I64(idx);
        let first_out = ptr_mut(&mut first);
        // SAFETY: `idx` holds its length, `first` one value.
        launch(lib, elementwise(idx.len()), || unsafe { f(idx.len() as u64, ptr(&idx), 5, first_out) });
        assert_eq!(first, CpuBuffer::I64(vec![want as i64]), "check_indices {idx:?}");
    }
    let x = data(DType::F32, 60, 6, -5.0, 5.0);
    let base = Layout::contiguous(Shape::new(vec![3, 4, 5]));
    let idx = CpuBuffer::I64(vec![2, 0, 3, 3, 1]);
    // index_select along dim 1 of a permuted view ([4, 5, 3]: select along dim 0).
    let l = base.permute(&[1, 2, 0]).unwrap();
    let il = Layout::contiguous(Shape::new(vec![5]));
    let plan = IndexSelectPlan::new(arg(&x, &l), 0, arg(&idx, &il)).unwrap();
    let want = cpu::index_select(&plan, &x, &idx).unwrap();
    let mut got = CpuBuffer::zeros(DType::F32, plan.out_shape.elem_count());
    type SelFn = unsafe extern "C" fn(u64, u64, u64, u64, StridedArg, *const c_void, *const c_void, *mut c_void);
    let f: SelFn = sym(lib, "index_select_f32");
    let n = plan.out_shape.elem_count() as u64;
    let got_out = ptr_mut(&mut got);
    // SAFETY: `x` covers the view, `idx` holds 5 indices below 4... the plan's sizes.
    launch(lib, elementwise(n as usize), || unsafe {
        f(n, 5, 4, plan.inner() as u64, strided(&l).unwrap(), ptr(&x), ptr(&idx), got_out)
    });
    assert_eq!(got, want, "index_select");
    // gather along dim 2 of the transposed view, index shape [5, 2, 3].
    let t = base.transpose(0, 2).unwrap();
    let gi = CpuBuffer::I64((0..30).map(|i| (i * 7 % 3) as i64).collect());
    let gl = Layout::contiguous(Shape::new(vec![5, 2, 3]));
    let plan = GatherPlan::new(arg(&x, &t), 2, arg(&gi, &gl)).unwrap();
    let want = cpu::gather(&plan, &x, &gi).unwrap();
    let mut got = CpuBuffer::zeros(DType::F32, 30);
    type GatherFn = unsafe extern "C" fn(u64, u64, StridedArg, *const c_void, *const c_void, *mut c_void);
    let f: GatherFn = sym(lib, "gather_f32");
    let view = strided_exact(gl.dims(), t.strides(), t.offset()).unwrap();
    let got_out = ptr_mut(&mut got);
    // SAFETY: as above.
    launch(lib, elementwise(30), || unsafe { f(30, 2, view, ptr(&x), ptr(&gi), got_out) });
    assert_eq!(got, want, "gather");
    // scatter_add with repeated indices into a narrowed base, for f32, bf16 and u8 (CAS path).
    for dtype in [DType::F32, DType::BF16, DType::U8] {
        let b = data(dtype, 60, 7, 0.0, 4.0);
        let s = data(dtype, 24, 8, 0.0, 4.0);
        let bl = base.narrow(2, 1, 3).unwrap();
        let sl = Layout::contiguous(Shape::new(vec![2, 4, 3]));
        let si = CpuBuffer::I64((0..24).map(|i| (i * 5 % 3) as i64).collect());
        let plan = ScatterAddPlan::new(arg(&b, &bl), 0, arg(&si, &sl), arg(&s, &sl)).unwrap();
        let want = cpu::scatter_add(&plan, &b, &si, &s).unwrap();
        let mut got = cpu::copy_strided(&b, &bl);
        type ScatterFn =
            unsafe extern "C" fn(u64, u64, StridedArg, StridedArg, *const c_void, *const c_void, *mut c_void);
        let f: ScatterFn = sym(lib, &format!("scatter_add_{}", dtype.as_str()));
        let ss = strided_exact(sl.dims(), sl.strides(), 0).unwrap();
        let os = strided_exact(sl.dims(), &bl.shape().contiguous_strides(), 0).unwrap();
        let got_out = ptr_mut(&mut got);
        // SAFETY: as above.
        launch(lib, elementwise(24), || unsafe { f(24, 0, ss, os, ptr(&s), ptr(&si), got_out) });
        assert_close(&format!("scatter_add {dtype}"), &got, &want, ulp(dtype));
    }
}
