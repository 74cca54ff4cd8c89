//! Host emulation of `kernels/lstm.cu`: the fused LSTM cell, forward and backward.

use super::{arg, assert_close_abs, data, launch, module, ptr, ptr_mut, sym, ulp, FLOATS};
use crate::cpu::{self, CpuBuffer};
use crate::cuda::launch::{elementwise, strided, StridedArg};
use crate::plan::{LstmCellBackwardPlan, LstmCellPlan};
use std::ffi::c_void;
use tessera_core::{Layout, Shape};

#[test]
fn host_lstm_kernels_match_cpu() {
    let Some(lib) = module("lstm") else { return };
    type FwdFn = unsafe extern "C" fn(
        u64,
        u64,
        StridedArg,
        StridedArg,
        StridedArg,
        *const c_void,
        *const c_void,
        *const c_void,
        *mut c_void,
        *mut c_void,
        *mut c_void,
    );
    type BwdFn = unsafe extern "C" fn(
        u64,
        u64,
        StridedArg,
        StridedArg,
        StridedArg,
        StridedArg,
        StridedArg,
        *const c_void,
        *const c_void,
        *const c_void,
        *const c_void,
        *const c_void,
        *mut c_void,
        *mut c_void,
    );
    let (b, h) = (3, 5);
    let contiguous = |dims: &[usize]| Layout::contiguous(Shape::from(dims));
    // Gates: a step of a [2, b, 4h] projection, and a transposed [4h, b] buffer.
    let step = contiguous(&[2, b, 4 * h]).narrow(0, 1, 1).unwrap().squeeze(0).unwrap();
    let transposed = contiguous(&[4 * h, b]).transpose(0, 1).unwrap();
    // States: contiguous, transposed, and a narrow of a [b, 2h] buffer (h, then c, per row).
    let state_t = contiguous(&[h, b]).transpose(0, 1).unwrap();
    let state_n = contiguous(&[b, 2 * h]).narrow(1, h, h).unwrap();
    for dtype in FLOATS {
        let x = data(dtype, 2 * b * 4 * h, 21, -3.0, 3.0);
        let hg = data(dtype, 4 * h * b, 22, -3.0, 3.0);
        let cp = data(dtype, b * h, 23, -2.0, 2.0);
        for (name, cl) in [("contiguous", contiguous(&[b, h])), ("transposed", state_t.clone())] {
            let plan = LstmCellPlan::new(arg(&x, &step), arg(&hg, &transposed), arg(&cp, &cl)).unwrap();
            let [want_h, want_c, want_a] = cpu::lstm_cell(&plan, [&x, &hg, &cp]).unwrap();
            let mut got = [b * h, b * h, 4 * b * h].map(|n| CpuBuffer::zeros(dtype, n));
            let f: FwdFn = sym(lib, &format!("lstm_cell_{}", dtype.as_str()));
            let v = [&step, &transposed, &cl].map(|l| strided(l).unwrap());
            let [h_out, c_out, acts_out] = got.each_mut().map(ptr_mut);
            // SAFETY: buffers sized for the views; the kernel's signature is FwdFn.
            launch(lib, elementwise(b * h), || unsafe {
                f(b as u64, h as u64, v[0], v[1], v[2], ptr(&x), ptr(&hg), ptr(&cp), h_out, c_out, acts_out)
            });
            let tol = 2.0 * ulp(dtype);
            assert_close_abs(&format!("lstm_cell {dtype} {name}: h"), &got[0], &want_h, tol, tol);
            assert_close_abs(&format!("lstm_cell {dtype} {name}: c"), &got[1], &want_c, tol, tol);
            assert_close_abs(&format!("lstm_cell {dtype} {name}: acts"), &got[2], &want_a, tol, tol);

            // Backward from the CPU's forward outputs, with dh and dc strided.
            let grads = data(dtype, b * 2 * h, 24, -1.0, 1.0);
            let dh_l = contiguous(&[b, 2 * h]).narrow(1, 0, h).unwrap();
            let (al, sl) = (contiguous(&[b, 4 * h]), contiguous(&[b, h]));
            let args = [arg(&want_a, &al), arg(&cp, &cl), arg(&want_c, &sl), arg(&grads, &dh_l), arg(&grads, &state_n)];
            let plan = LstmCellBackwardPlan::new(args).unwrap();
            let [want_g, want_cp] = cpu::lstm_cell_backward(&plan, [&want_a, &cp, &want_c, &grads, &grads]).unwrap();
            let mut dg = CpuBuffer::zeros(dtype, 4 * b * h);
            let mut dcp = CpuBuffer::zeros(dtype, b * h);
            let f: BwdFn = sym(lib, &format!("lstm_cell_backward_{}", dtype.as_str()));
            let v = [&al, &cl, &sl, &dh_l, &state_n].map(|l| strided(l).unwrap());
            let dg_out = ptr_mut(&mut dg);
            let dcp_out = ptr_mut(&mut dcp);
            // SAFETY: as above.
            launch(lib, elementwise(b * h), || unsafe {
                f(
                    b as u64,
                    h as u64,
                    v[0],
                    v[1],
                    v[2],
                    v[3],
                    v[4],
                    ptr(&want_a),
                    ptr(&cp),
                    ptr(&want_c),
                    ptr(&grads),
                    ptr(&grads),
                    dg_out,
                    dcp_out,
                )
            });
            // 1 - tanh(c)^2 cancels when |c| is large: an absolute floor of a few ulps.
            let tol = 4.0 * ulp(dtype);
            assert_close_abs(&format!("lstm_cell_backward {dtype} {name}: d_gates"), &dg, &want_g, tol, tol);
            assert_close_abs(&format!("lstm_cell_backward {dtype} {name}: dc_prev"), &dcp, &want_cp, tol, tol);
        }
    }
}
