//! Host emulation of `kernels/batch_norm.cu`: batch normalisation forward and backward, in
//! training and eval mode, with and without weight and bias, in every float dtype.

use super::{arg, assert_close_abs, data, launch, module, ptr, ptr_mut, sym, ulp, FLOATS};
use crate::cpu::{self, CpuBuffer};
use crate::cuda::batch_norm::channels_launch;
use crate::plan::{BatchNormBackwardPlan, BatchNormPlan};
use std::ffi::c_void;
use tessera_core::{Layout, Shape};

type ForwardFn = unsafe extern "C" fn(
    u64,
    u64,
    u64,
    i32,
    i32,
    i32,
    f64,
    *const c_void,
    *const c_void,
    *const c_void,
    *const c_void,
    *const c_void,
    *mut c_void,
    *mut c_void,
);
type BackwardFn = unsafe extern "C" fn(
    u64,
    u64,
    u64,
    i32,
    i32,
    *const c_void,
    *const c_void,
    *const c_void,
    *const c_void,
    *mut c_void,
    *mut c_void,
    *mut c_void,
);

#[test]
fn host_batch_norm_kernels_match_cpu() {
    let Some(lib) = module("batch_norm") else { return };
    let p = |o: Option<&CpuBuffer>| o.map_or(std::ptr::null(), ptr);
    // A block per channel: small batches, and one of 8 * 100 values per channel, more than the
    // block's 256 threads.
    for dims in [vec![5, 4, 3, 2], vec![9, 6], vec![8, 3, 10, 10]] {
        let (n, c, inner) = (dims[0], dims[1], dims[2..].iter().product::<usize>());
        let (xl, pl) = (Layout::contiguous(Shape::new(dims.clone())), Layout::contiguous(Shape::new(vec![c])));
        let sl = Layout::contiguous(Shape::new(vec![3, c]));
        for dtype in FLOATS {
            let (x, dy) = (data(dtype, n * c * inner, 90, -3.0, 3.0), data(dtype, n * c * inner, 91, -1.0, 1.0));
            let (w, b) = (data(dtype, c, 92, 0.5, 1.5), data(dtype, c, 93, -1.0, 1.0));
            let (rm, rv) = (data(dtype, c, 94, -1.0, 1.0), data(dtype, c, 95, 0.5, 2.0));
            for (training, has_w, has_b) in
                [(true, true, true), (true, false, false), (false, true, true), (false, false, true)]
            {
                let (wo, bo) = (has_w.then_some(&w), has_b.then_some(&b));
                let plan = BatchNormPlan::new(
                    arg(&x, &xl),
                    wo.map(|w| arg(w, &pl)),
                    bo.map(|b| arg(b, &pl)),
                    Some((arg(&rm, &pl), arg(&rv, &pl))),
                    training,
                    1e-5,
                )
                .unwrap();
                let [want_y, want_s] = cpu::batch_norm(&plan, &x, wo, bo, Some((&rm, &rv))).unwrap();
                let (mut y, mut s) = (CpuBuffer::zeros(dtype, x.len()), CpuBuffer::zeros(plan.stat_dtype, 3 * c));
                let f: ForwardFn = sym(lib, &format!("batch_norm_{}", dtype.as_str()));
                let (nn, cc, ii) = (n as u64, c as u64, inner as u64);
                let (y_out, s_out) = (ptr_mut(&mut y), ptr_mut(&mut s));
                // SAFETY: buffers sized as the plan says; the kernel's signature is ForwardFn.
                launch(lib, channels_launch(c), || unsafe {
                    f(
                        nn,
                        cc,
                        ii,
                        training as i32,
                        has_w as i32,
                        has_b as i32,
                        1e-5,
                        ptr(&x),
                        p(wo),
                        p(bo),
                        ptr(&rm),
                        ptr(&rv),
                        y_out,
                        s_out,
                    )
                });
                let what = format!("batch_norm {dims:?} {dtype} training {training} weight {has_w} bias {has_b}");
                let tol = 4.0 * ulp(dtype);
                assert_close_abs(&format!("{what}: y"), &y, &want_y, tol, tol);
                assert_close_abs(&format!("{what}: saved"), &s, &want_s, 1e-5, 1e-5);
                let back = BatchNormBackwardPlan::new(
                    arg(&x, &xl),
                    wo.map(|w| arg(w, &pl)),
                    arg(&dy, &xl),
                    arg(&want_s, &sl),
                    training,
                )
                .unwrap();
                let [want_dx, want_dw, want_db] = cpu::batch_norm_backward(&back, &x, wo, &dy, &want_s).unwrap();
                let mut outs =
                    [CpuBuffer::zeros(dtype, x.len()), CpuBuffer::zeros(dtype, c), CpuBuffer::zeros(dtype, c)];
                let g: BackwardFn = sym(lib, &format!("batch_norm_backward_{}", dtype.as_str()));
                let [dx_out, dw_out, db_out] = outs.each_mut().map(ptr_mut);
                // SAFETY: as above.
                launch(lib, channels_launch(c), || unsafe {
                    g(
                        nn,
                        cc,
                        ii,
                        training as i32,
                        has_w as i32,
                        ptr(&x),
                        p(wo),
                        ptr(&dy),
                        ptr(&want_s),
                        dx_out,
                        dw_out,
                        db_out,
                    )
                });
                let [dx, dw, db] = &outs;
                assert_close_abs(&format!("{what}: dx"), dx, &want_dx, 4.0 * tol, 4.0 * tol);
                assert_close_abs(&format!("{what}: dweight"), dw, &want_dw, 8.0 * tol, 4.0 * tol);
                assert_close_abs(&format!("{what}: dbias"), db, &want_db, 8.0 * tol, 4.0 * tol);
            }
        }
    }
}
