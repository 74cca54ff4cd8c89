//! Compute kernels over raw buffers and strided layouts.
//!
//! The [`cpu`] module is both Tessera's CPU backend and the reference every other backend is
//! tested against. Kernels take a buffer plus a [`Layout`](tessera_core::Layout) (any strides,
//! offsets, broadcast zero strides) and return a new contiguous buffer; they know nothing of
//! devices or autograd. The [`cuda`] module is the GPU half: CUDA C++ kernels compiled with NVRTC
//! at run time, and cuBLAS. The op vocabulary shared by all backends lives in [`ops`].

pub mod cpu;
pub mod cuda;
mod error;
pub mod ops;

pub use error::{Error, Result};
