//! Neural-network building blocks for Tessera.
//!
//! - [`Module`]: forward, named parameters (nested as `encoder.lstm.weight_ih_l0`), train/eval,
//!   device moves; `#[derive(Module)]` writes a struct's [`ModuleParts`] from its fields, the
//!   user writes `forward`.
//! - Layers: [`Linear`], [`Embedding`] (filled from word vectors by
//!   [`Embedding::from_pretrained`]), [`Lstm`], [`Gru`], [`Dropout`], [`LayerNorm`], [`RmsNorm`],
//!   [`MultiheadAttention`], [`TransformerEncoderLayer`], [`TransformerDecoderLayer`], their
//!   stacks [`TransformerEncoder`], [`TransformerDecoder`] (with KV-cached step decoding) and
//!   [`Transformer`], activations, and [`Sequential`].
//! - [`loss`]: MSE, cross-entropy (fused log-softmax + NLL, label smoothing, ignore_index), NLL,
//!   sparse categorical cross-entropy from probabilities (Keras), binary cross-entropy with logits.
//! - [`init`]: PyTorch's default initialisations, xavier and kaiming.
//! - [`state_dict`]: save and load parameters as safetensors with PyTorch's names and layouts.
//! - [`summary`]: per-layer output shape, parameters and FLOPs.
//!
//! ```
//! use tessera_autograd::Var;
//! use tessera_nn::{loss, Linear, Module, Relu, Sequential};
//! use tessera_tensor::{DType, Device, Generator, Tensor};
//! let mut g = Generator::new(0);
//! let model = Sequential::new()
//!     .add(Linear::new(&mut g, 4, 8, DType::F32, &Device::Cpu)?)
//!     .add(Relu)
//!     .add(Linear::new(&mut g, 8, 3, DType::F32, &Device::Cpu)?);
//! let x = Var::constant(Tensor::randn(&mut g, [5, 4], DType::F32, &Device::Cpu)?);
//! let y = Var::constant(Tensor::from_vec(vec![0u32, 2, 1, 1, 0], [5], &Device::Cpu)?);
//! let l = loss::cross_entropy(&model.forward(&x)?, &y, &loss::CrossEntropy::default())?;
//! l.backward()?;
//! assert!(model.parameters().iter().all(|(_, p)| p.grad().is_some()));
//! # Ok::<(), tessera_nn::Error>(())
//! ```

// The derive names this crate `::tessera_nn`; inside it, that path is the crate itself.
extern crate self as tessera_nn;

mod error;
#[cfg(feature = "gradcheck")]
pub mod gradcheck;
pub mod init;
mod layers;
pub mod loss;
mod module;
pub mod state_dict;
pub mod summary;

pub use error::{Error, Result};
pub use layers::{
    AdaptiveAvgPool2d, Alignment, AttentionConfig, AttentionMask, AvgPool2d, BatchNorm, BatchNorm1d, BatchNorm2d,
    BatchNormConfig, Conv2d, ConvShape, ConvTranspose2d, DecoderCache, DecoderLayerCache, DecoderMasks, Dropout,
    Embedding, FeedForwardActivation, Flatten, Gelu, Gru, KeyValues, LayerNorm, Linear, LogSoftmax, Lstm, LstmState,
    MaxPool2d, MultiheadAttention, Relu, RmsNorm, Sequential, Sigmoid, Softmax, Tanh, Transformer, TransformerConfig,
    TransformerDecoder, TransformerDecoderLayer, TransformerEncoder, TransformerEncoderLayer, TransformerMasks,
    Unflatten, WordVectors,
};
pub use module::{prefixed, Buffer, MapFn, Module, ModuleField, ModuleParts, Parameters, Part, StateEntry};
/// `#[derive(Module)]`: implements [`ModuleParts`] from a struct's fields (see `tessera_derive`).
pub use tessera_derive::Module;

/// The README's examples, compiled and run as doc tests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
