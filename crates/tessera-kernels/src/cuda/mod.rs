//! The CUDA backend: kernels written in CUDA C++ under `kernels/`, compiled at run time with
//! NVRTC for the device's architecture, launched through cudarc (loaded dynamically, so a
//! machine without CUDA builds and runs everything on the CPU); matmul through cuBLAS. With
//! `TESSERA_CUDA_EMULATOR=1`, device 0 is the host [`emulator`] instead, which runs the same
//! code paths and kernels on the CPU for tests.
//!
//! Every op mirrors its CPU counterpart in [`crate::cpu`]: it takes the same plan (see
//! [`crate::plan`]) and the operands' device buffers, and returns a new contiguous buffer with
//! the same values. The CPU functions are the reference these are tested against. One file per
//! op family, named as `cpu/` and `kernels/` name theirs.

pub mod compile;
pub mod source;

mod attention;
mod batch_norm;
mod binary;
mod buffer;
mod cast;
mod compare;
mod conv;
mod conv_gemm;
mod copy;
pub(crate) mod creation;
mod cross_entropy;
pub mod device;
pub mod emulator;
mod index;
pub mod launch;
mod lstm;
mod matmul;
pub mod module_cache;
mod norm;
mod optim;
pub mod pool;
mod pooling;
mod random;
mod reduce;
mod rotary;
mod softmax;
mod unary;

pub use attention::{attention, attention_backward};
pub use batch_norm::{batch_norm, batch_norm_backward};
pub use binary::binary;
pub use buffer::CudaBuffer;
pub use cast::cast;
pub use compare::{compare, where_cond};
pub use conv::{col2im, im2col};
pub use conv_gemm::{conv2d, conv2d_input_grad, conv2d_weight_grad};
pub use copy::{cat, contiguous, copy_strided};
pub use creation::{arange, eye, full};
pub use cross_entropy::{cross_entropy_backward, logsumexp};
pub use device::{device_count, CudaDevice};
pub use index::{gather, index_select, scatter_add};
pub use lstm::{lstm_cell, lstm_cell_backward};
pub use matmul::matmul;
pub use norm::{norm, norm_backward};
pub use optim::{optim_step, optim_step_master};
pub use pooling::{avg_pool2d, avg_pool2d_backward, max_pool2d, max_pool2d_backward};
pub use random::{dropout, random};
pub use reduce::reduce;
pub use rotary::rotary;
pub use softmax::softmax;
pub use unary::unary;
#[cfg(test)]
mod host_emulation;
