//! The CPU backend: per-dtype buffers and every op over (buffer, layout).
//!
//! Every function here accepts any strided layout (transposed, narrowed, broadcast) and returns a
//! new contiguous buffer. Small tensors run on the calling thread; large ones are split across
//! rayon's pool (see [`par`]).

mod binary;
mod buffer;
mod cast;
mod compare;
pub(crate) mod copy;
pub(crate) mod creation;
pub(crate) mod cross_entropy;
pub(crate) mod index;
pub(crate) mod lstm;
mod math;
pub(crate) mod matmul;
mod optim;
pub mod par;
mod reduce;
mod simd;
mod softmax;
mod unary;
mod zip;

pub use binary::binary;
pub use buffer::{CpuBuffer, CpuElem};
pub use cast::cast;
pub use compare::{compare, where_cond};
pub use copy::{cat, copy_strided};
pub use creation::{arange, bernoulli, eye, full, normal, uniform};
pub use cross_entropy::{cross_entropy_backward, logsumexp};
pub use index::{gather, index_select, scatter_add};
pub use lstm::{lstm_cell, lstm_cell_backward};
pub use matmul::{matmul, matmul_bias, MatmulShape};
pub use optim::optim_step;
pub use reduce::{arg_reduce, reduce, var};
pub use softmax::{log_softmax, softmax};
pub use unary::unary;
