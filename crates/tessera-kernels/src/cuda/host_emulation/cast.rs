//! Host emulation of `kernels/cast.cu`: every (from, to) pair over strided views.

use super::copy::CopyFn;
use super::{assert_close, data, launch, module, ptr, ptr_mut, sym, ulp, views};
use crate::cpu::{self, CpuBuffer};
use crate::cuda::launch::{elementwise, strided};
use tessera_core::DType;

#[test]
fn host_cast_kernels_match_cpu() {
    let Some(lib) = module("cast") else { return };
    for from in DType::ALL {
        let x = data(from, 60, 4, -400.0, 400.0);
        for (name, l) in views() {
            let n = l.elem_count();
            for to in DType::ALL.into_iter().filter(|&t| t != from) {
                let want = cpu::cast(&x, &l, to);
                let mut got = CpuBuffer::zeros(to, n);
                let f: CopyFn = sym(lib, &format!("cast_{}_{}", from.as_str(), to.as_str()));
                let (view, out) = (strided(&l).unwrap(), ptr_mut(&mut got));
                // SAFETY: buffers sized for the view; the kernel's signature is CopyFn.
                launch(lib, elementwise(n), || unsafe { f(n as u64, view, ptr(&x), out) });
                // f64 -> bf16 rounds through f32 in the kernel (double rounding): allow one ulp.
                let tol = if from == DType::F64 && to == DType::BF16 { ulp(to) } else { 0.0 };
                assert_close(&format!("cast {from}->{to} {name}"), &got, &want, tol);
            }
        }
    }
}
