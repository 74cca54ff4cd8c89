//! The CPU backend: per-dtype buffers and every op over (plan, buffers).
//!
//! Each op takes the plan that checked its arguments (see [`crate::plan`]) and the operands'
//! buffers, reads any strided view the plan describes (transposed, narrowed, broadcast) and
//! returns a new contiguous buffer. Small tensors run on the calling thread; large ones are split
//! across rayon's pool (see [`par`]). This half is also the reference the CUDA half is tested
//! against. One file per op family, named as `cuda/` and `kernels/` name theirs.

mod attention;
mod attention_tile;
mod batch_norm;
mod binary;
mod buffer;
mod cast;
mod compare;
mod conv;
mod conv_gemm;
mod copy;
mod creation;
mod cross_entropy;
mod gemm_elem;
mod gru_sequence;
mod half;
mod index;
mod lanes;
mod lstm;
mod lstm_sequence;
mod math;
mod matmul;
mod matmul_bias;
mod matmul_blocked;
mod matmul_reused;
mod matmul_rows;
mod norm;
mod optim;
pub mod par;
#[cfg(test)]
mod par_tests;
mod pooling;
mod product_flops;
mod random;
mod recurrence;
mod reduce;
mod reserve;
mod rotary;
mod simd;
mod softmax;
mod sum_squares;
#[cfg(test)]
mod test_values;
mod transpose;
mod unary;
mod wide;
mod zip;

pub use attention::{attention, attention_backward};
pub use batch_norm::{batch_norm, batch_norm_backward};
pub use binary::binary;
pub use buffer::{CpuBuffer, CpuElem};
pub use cast::cast;
pub use compare::{compare, where_cond};
pub use conv::{col2im, im2col};
pub use conv_gemm::{conv2d, conv2d_input_grad, conv2d_weight_grad};
pub use copy::{cat, copy_strided};
pub use creation::{arange, eye, full};
pub use cross_entropy::{cross_entropy_backward, cross_entropy_with_grad, logsumexp};
pub use gru_sequence::{gru_sequence, gru_sequence_backward};
pub use index::{gather, index_select, scatter_add};
pub use lstm::{lstm_cell, lstm_cell_backward};
pub use lstm_sequence::{lstm_sequence, lstm_sequence_backward};
pub use matmul::matmul;
pub use norm::{norm, norm_backward};
pub use optim::{optim_step, optim_step_master};
pub use pooling::{avg_pool2d, avg_pool2d_backward, max_pool2d, max_pool2d_backward};
pub use product_flops::product_flops;
pub use random::{dropout, random};
pub use reduce::reduce;
pub use reserve::{host_has_room, reserve_output, RESERVE_MIN_BYTES};
pub use rotary::rotary;
pub use softmax::softmax;
pub use sum_squares::sum_squares;
pub use unary::unary;
