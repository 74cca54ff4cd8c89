//! The layers.

mod activation;
mod dropout;
mod embedding;
mod gru;
mod layer_norm;
mod linear;
mod lstm;
pub(crate) mod lstm_cell;
mod recurrent;
mod sequential;

pub use activation::{Gelu, LogSoftmax, Relu, Sigmoid, Softmax, Tanh};
pub use dropout::Dropout;
pub use embedding::Embedding;
pub use gru::Gru;
pub use layer_norm::LayerNorm;
pub use linear::Linear;
pub use lstm::{Lstm, LstmState};
pub use sequential::Sequential;
