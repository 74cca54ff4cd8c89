//! The layers.

mod activation;
mod attention;
mod dropout;
mod embedding;
mod gru;
mod linear;
mod lstm;
pub(crate) mod lstm_cell;
mod norm;
mod pretrained;
mod recurrent;
mod sequential;
mod transformer;

pub use activation::{Gelu, LogSoftmax, Relu, Sigmoid, Softmax, Tanh};
pub use attention::{AttentionConfig, AttentionMask, MultiheadAttention};
pub use dropout::Dropout;
pub use embedding::Embedding;
pub use gru::Gru;
pub use linear::Linear;
pub use lstm::{Lstm, LstmState};
pub use norm::{LayerNorm, RmsNorm};
pub use pretrained::{Alignment, WordVectors};
pub use sequential::Sequential;
pub use transformer::{
    DecoderMasks, FeedForwardActivation, TransformerConfig, TransformerDecoderLayer, TransformerEncoderLayer,
};
