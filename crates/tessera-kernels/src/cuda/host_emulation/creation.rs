//! Host emulation of `kernels/creation.cu`: constant fills of every width.

use super::{module, ptr_mut, sym};
use crate::cpu::{self, CpuBuffer};
use crate::cuda::launch::width_sfx;
use std::ffi::c_void;
use tessera_core::{DType, Element};

#[test]
fn host_fill_kernels_match_cpu() {
    let Some(lib) = module("creation") else { return };
    type FillFn = unsafe extern "C" fn(u64, *mut c_void, u64);
    for dtype in DType::ALL {
        let value = -2.75;
        // The host converts the value to the dtype's bits, as cuda::full does.
        let bits = match dtype {
            DType::F32 => f32::from_f64(value).to_bits() as u64,
            DType::F64 => value.to_bits(),
            DType::F16 => tessera_core::f16::from_f64(value).to_bits() as u64,
            DType::BF16 => tessera_core::bf16::from_f64(value).to_bits() as u64,
            DType::U8 => u8::from_f64(value) as u64,
            DType::U32 => u32::from_f64(value) as u64,
            DType::I64 => i64::from_f64(value) as u64,
        };
        let mut got = CpuBuffer::zeros(dtype, 7);
        let f: FillFn = sym(lib, &format!("fill_{}", width_sfx(dtype)));
        // SAFETY: `got` holds 7 elements of the kernel's width.
        unsafe { f(7, ptr_mut(&mut got), bits) };
        assert_eq!(got, cpu::full(dtype, 7, value), "fill {dtype}");
    }
}
