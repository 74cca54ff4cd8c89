//! The layers.

mod activation;
mod attention;
mod batch_norm;
mod conv;
mod dropout;
mod embedding;
mod gru;
mod linear;
mod lstm;
pub(crate) mod lstm_cell;
mod norm;
mod pooling;
mod pretrained;
mod recurrent;
mod sequential;
mod transformer;

pub use activation::{Gelu, LogSoftmax, Relu, Sigmoid, Softmax, Tanh};
pub use attention::{AttentionConfig, AttentionMask, MultiheadAttention};
pub use batch_norm::{BatchNorm, BatchNorm1d, BatchNorm2d, BatchNormConfig};
pub use conv::{Conv2d, ConvShape, ConvTranspose2d};
pub use dropout::Dropout;
pub use embedding::Embedding;
pub use gru::Gru;
pub use linear::Linear;
pub use lstm::{Lstm, LstmState};
pub use norm::{LayerNorm, RmsNorm};
pub use pooling::{AdaptiveAvgPool2d, AvgPool2d, Flatten, MaxPool2d, Unflatten};
pub use pretrained::{Alignment, WordVectors};
pub use sequential::Sequential;
pub use transformer::{
    DecoderMasks, FeedForwardActivation, TransformerConfig, TransformerDecoderLayer, TransformerEncoderLayer,
};
