//! Host emulation of `kernels/norm.cu`: LayerNorm and RMSNorm forward and backward, with and
//! without weight and bias, in every float dtype.

use super::{arg, assert_close_abs, data, launch, module, ptr, ptr_mut, sym, ulp, FLOATS};
use crate::cpu::{self, CpuBuffer};
use crate::cuda::norm::{param_grads_launch, rows_launch};
use crate::plan::{NormBackwardPlan, NormKind, NormParamGrads, NormPlan};
use std::ffi::c_void;
use tessera_core::{Layout, Shape};

type ForwardFn = unsafe extern "C" fn(
    u64,
    u64,
    i32,
    i32,
    i32,
    f64,
    *const c_void,
    *const c_void,
    *const c_void,
    *mut c_void,
    *mut c_void,
);
type BackwardFn =
    unsafe extern "C" fn(u64, u64, i32, i32, *const c_void, *const c_void, *const c_void, *const c_void, *mut c_void);
type ParamGradsFn =
    unsafe extern "C" fn(u64, u64, i32, i32, *const c_void, *const c_void, *const c_void, *mut c_void, *mut c_void);

#[test]
fn host_norm_kernels_match_cpu() {
    let Some(lib) = module("norm") else { return };
    // A warp per row: rows a little wider than the warp, and rows of many elements per lane;
    // the parameters' column sums over more rows than a block has warps, and over none.
    for (rows, width) in [(7, 37), (6, 1000), (43, 70), (0, 5)] {
        check(lib, rows, width);
    }
}

/// Forward and backward of both norms over `rows` rows of `width`, in every float dtype.
fn check(lib: &libloading::Library, rows: usize, width: usize) {
    let (xl, pl, sl) = (
        Layout::contiguous(Shape::new(vec![rows, width])),
        Layout::contiguous(Shape::new(vec![width])),
        Layout::contiguous(Shape::new(vec![rows, 2])),
    );
    for dtype in FLOATS {
        let (x, w, b, dy) = (
            data(dtype, rows * width, 60, -3.0, 3.0),
            data(dtype, width, 61, 0.5, 1.5),
            data(dtype, width, 62, -1.0, 1.0),
            data(dtype, rows * width, 63, -1.0, 1.0),
        );
        for (kind, has_w, has_b) in [
            (NormKind::Layer, true, true),
            (NormKind::Layer, false, false),
            (NormKind::Rms, true, false),
            (NormKind::Rms, false, false),
        ] {
            let (wo, bo) = (has_w.then_some(&w), has_b.then_some(&b));
            let plan =
                NormPlan::new(kind, arg(&x, &xl), wo.map(|w| arg(w, &pl)), bo.map(|b| arg(b, &pl)), 1e-5).unwrap();
            let [want_y, want_s] = cpu::norm(&plan, &x, wo, bo).unwrap();
            let (mut y, mut s) = (CpuBuffer::zeros(dtype, rows * width), CpuBuffer::zeros(plan.stat_dtype, rows * 2));
            let f: ForwardFn = sym(lib, &format!("norm_{}", dtype.as_str()));
            let p = |o: Option<&CpuBuffer>| o.map_or(std::ptr::null(), ptr);
            let rms = (kind == NormKind::Rms) as i32;
            let (y_out, s_out) = (ptr_mut(&mut y), ptr_mut(&mut s));
            // SAFETY: buffers sized as the plan says; the kernel's signature is ForwardFn.
            launch(lib, rows_launch(rows), || unsafe {
                f(rows as u64, width as u64, rms, has_w as i32, has_b as i32, 1e-5, ptr(&x), p(wo), p(bo), y_out, s_out)
            });
            let what = format!("{} {dtype} weight {has_w} bias {has_b}", kind.name());
            let tol = 4.0 * ulp(dtype);
            assert_close_abs(&format!("{what}: y"), &y, &want_y, tol, tol);
            assert_close_abs(&format!("{what}: stats"), &s, &want_s, 1e-5, 1e-5);
            let params = NormParamGrads { weight: has_w, bias: kind == NormKind::Layer };
            let back = NormBackwardPlan::new(plan.clone(), arg(&dy, &xl), arg(&want_s, &sl), params).unwrap();
            let (want_dx, [want_dw, want_db]) = cpu::norm_backward(&back, &x, wo, &dy, &want_s).unwrap();
            let mut dx = CpuBuffer::zeros(dtype, rows * width);
            let g: BackwardFn = sym(lib, &format!("norm_backward_{}", dtype.as_str()));
            let dx_out = ptr_mut(&mut dx);
            // SAFETY: as above.
            launch(lib, rows_launch(rows), || unsafe {
                g(rows as u64, width as u64, rms, has_w as i32, ptr(&x), p(wo), ptr(&dy), ptr(&want_s), dx_out)
            });
            assert_close_abs(&format!("{what}: dx"), &dx, &want_dx, 2.0 * tol, 2.0 * tol);
            let (mut dw, mut db) = (CpuBuffer::zeros(dtype, width), CpuBuffer::zeros(dtype, width));
            let h: ParamGradsFn = sym(lib, &format!("norm_param_grads_{}", dtype.as_str()));
            let (dw_out, db_out) = (ptr_mut(&mut dw), ptr_mut(&mut db));
            // SAFETY: as above; dweight and dbias hold `width` elements each.
            launch(lib, param_grads_launch(width), || unsafe {
                h(
                    rows as u64,
                    width as u64,
                    params.weight as i32,
                    params.bias as i32,
                    ptr(&x),
                    ptr(&dy),
                    ptr(&want_s),
                    dw_out,
                    db_out,
                )
            });
            // Sums of up to 43 rows of values below 3 in magnitude.
            let sum_tol = 4.0 * rows.max(1) as f64 * ulp(dtype);
            for (name, got, want) in [("dweight", &dw, want_dw), ("dbias", &db, want_db)] {
                if let Some(want) = want {
                    assert_close_abs(&format!("{what}: {name}"), got, &want, sum_tol, sum_tol);
                }
            }
        }
    }
}
