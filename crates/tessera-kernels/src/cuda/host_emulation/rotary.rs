//! Host emulation of `kernels/rotary.cu`: rotations and their inverses against the CPU.

use super::{arg, assert_close_abs, data, launch, module, ptr, ptr_mut, sym, ulp, FLOATS};
use crate::cpu::{self, CpuBuffer};
use crate::cuda::launch::elementwise;
use crate::plan::RotaryPlan;
use std::ffi::c_void;
use tessera_core::{Layout, Shape};

#[test]
fn host_rotary_kernels_match_cpu() {
    let Some(lib) = module("rotary") else { return };
    type RotaryFn = unsafe extern "C" fn(u64, u64, u64, u64, f64, f64, *const c_void, *mut c_void);
    for dtype in FLOATS {
        let x = data(dtype, 60, 70, -2.0, 2.0);
        let c = |dims: &[usize]| Layout::contiguous(Shape::from(dims));
        let layouts = [
            ("contiguous", c(&[3, 5, 4])),
            ("transposed", c(&[3, 4, 5]).transpose(1, 2).unwrap()),
            ("narrowed", c(&[3, 20]).narrow(1, 2, 8).unwrap()),
        ];
        for (name, l) in layouts {
            for inverse in [false, true] {
                let plan = RotaryPlan::new(arg(&x, &l), 3, 10_000.0, inverse).unwrap();
                let want = cpu::rotary(&plan, &x).unwrap();
                let xc = cpu::copy_strided(&x, &l);
                let mut got = CpuBuffer::zeros(dtype, l.elem_count());
                let f: RotaryFn = sym(lib, &format!("rotary_{}", dtype.as_str()));
                let sign = if inverse { -1.0 } else { 1.0 };
                let (pairs, out) = (l.elem_count() / 2, ptr_mut(&mut got));
                // SAFETY: `xc` and `got` hold the view's elements; the signature is RotaryFn.
                launch(lib, elementwise(pairs), || unsafe {
                    f(pairs as u64, plan.seq as u64, plan.dim as u64, 3, 10_000.0, sign, ptr(&xc), out)
                });
                let tol = 2.0 * ulp(dtype);
                assert_close_abs(&format!("rotary {dtype} {name} inverse {inverse}"), &got, &want, tol, tol);
            }
        }
    }
}
