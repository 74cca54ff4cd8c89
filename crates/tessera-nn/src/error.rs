//! The error type of `tessera-nn`.

use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Errors from layers, losses and state dicts.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A tensor operation failed.
    #[error(transparent)]
    Tensor(#[from] tessera_tensor::Error),
    /// An autograd operation failed.
    #[error(transparent)]
    Autograd(#[from] tessera_autograd::Error),
    /// A layer was given an input of the wrong shape.
    #[error("{layer}: expected input {expected}, got shape {got}")]
    BadInput {
        /// The layer.
        layer: String,
        /// What the layer expects.
        expected: String,
        /// The shape it got.
        got: tessera_tensor::Shape,
    },
    /// A state dict does not fit the model.
    #[error("{path}: {msg}")]
    StateDict {
        /// The file.
        path: PathBuf,
        /// What does not fit: the tensor's name and shapes.
        msg: String,
    },
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        source: std::io::Error,
    },
    /// A layer or loss was configured with an invalid value.
    #[error("{0}")]
    Config(String),
}
