//! Host emulation of `kernels/creation.cu`: constant fills of every width.

use super::{launch, module, ptr_mut, sym};
use crate::cpu::{self, CpuBuffer};
use crate::cuda::creation::fill_bits;
use crate::cuda::launch::elementwise;
use crate::cuda::launch::width_sfx;
use std::ffi::c_void;
use tessera_core::DType;

#[test]
fn host_fill_kernels_match_cpu() {
    let Some(lib) = module("creation") else { return };
    type FillFn = unsafe extern "C" fn(u64, *mut c_void, u64);
    for dtype in DType::ALL {
        let value = -2.75;
        let bits = fill_bits(dtype, value);
        let mut got = CpuBuffer::zeros(dtype, 7);
        let f: FillFn = sym(lib, &format!("fill_{}", width_sfx(dtype)));
        let out = ptr_mut(&mut got);
        // SAFETY: `got` holds 7 elements of the kernel's width.
        launch(lib, elementwise(7), || unsafe { f(7, out, bits) });
        assert_eq!(got, cpu::full(dtype, 7, value), "fill {dtype}");
    }
}
