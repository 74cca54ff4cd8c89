//! The CUDA backend: kernels written in CUDA C++ under `kernels/`, compiled at run time with
//! NVRTC for the device's architecture, launched through cudarc (loaded dynamically, so a
//! machine without CUDA builds and runs everything on the CPU); matmul through cuBLAS.
//!
//! Every function mirrors its CPU counterpart in [`crate::cpu`]: same arguments (a buffer and any
//! strided [`Layout`](tessera_core::Layout)), same errors, a new contiguous buffer as result. The
//! CPU functions are the reference these are tested against.

pub mod compile;
pub mod source;
