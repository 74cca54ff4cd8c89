//! The CUDA backend: kernels written in CUDA C++ under `kernels/`, compiled at run time with
//! NVRTC for the device's architecture, launched through cudarc (loaded dynamically, so a
//! machine without CUDA builds and runs everything on the CPU); matmul through cuBLAS.
//!
//! Every function mirrors its CPU counterpart in [`crate::cpu`]: same arguments (a buffer and any
//! strided [`Layout`](tessera_core::Layout)), same errors, a new contiguous buffer as result. The
//! CPU functions are the reference these are tested against.

pub mod compile;
pub mod source;

mod binary;
mod buffer;
mod copy;
mod cross_entropy;
pub mod device;
mod index;
pub mod launch;
mod lstm;
mod matmul;
pub mod module_cache;
pub mod pool;
mod random;
mod reduce;
mod softmax;
mod unary;

pub use binary::{binary, compare, where_cond};
pub use buffer::CudaBuffer;
pub use copy::{arange, cast, cat, contiguous, copy_strided, eye, full};
pub use cross_entropy::{cross_entropy_backward, logsumexp};
pub use device::{device_count, CudaDevice};
pub use index::{gather, index_select, scatter_add};
pub use lstm::{lstm_cell, lstm_cell_backward};
pub use matmul::{matmul, matmul_bias};
pub use random::{bernoulli, normal, uniform};
pub use reduce::{arg_reduce, reduce, var};
pub use softmax::{log_softmax, softmax};
pub use unary::unary;
#[cfg(test)]
mod host_emulation;
