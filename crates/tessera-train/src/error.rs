//! The error type of `tessera-train`.

use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Errors from data loading, training and run bookkeeping.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A tensor operation failed.
    #[error(transparent)]
    Tensor(#[from] tessera_tensor::Error),
    /// An autograd operation failed.
    #[error(transparent)]
    Autograd(#[from] tessera_autograd::Error),
    /// A collective of a distributed run failed or found the processes disagreeing.
    #[error(transparent)]
    Dist(#[from] tessera_dist::Error),
    /// A layer, loss or state dict failed.
    #[error(transparent)]
    Nn(#[from] tessera_nn::Error),
    /// A text metric or tokenizer failed.
    #[error(transparent)]
    Text(#[from] tessera_text::Error),
    /// A checkpoint does not belong to this model or optimizer.
    #[error("{path}: {msg}")]
    Checkpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What does not match.
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
    /// A data file is malformed or truncated.
    #[error("{path}: {msg}")]
    BadData {
        /// The file.
        path: PathBuf,
        /// What is wrong, with the position.
        msg: String,
    },
    /// A label is outside the classes the model predicts.
    #[error("label {label} at example {index} is out of range for {classes} classes")]
    LabelOutOfRange {
        /// The label value.
        label: i64,
        /// The example it belongs to.
        index: usize,
        /// The number of classes.
        classes: usize,
    },
    /// The loss became NaN or infinite.
    #[error("the loss became {value} at epoch {epoch}, step {step}; stopping (the last good checkpoint is kept)")]
    NonFiniteLoss {
        /// The loss value.
        value: f64,
        /// The epoch (1-based).
        epoch: usize,
        /// The step within the epoch (1-based).
        step: usize,
    },
    /// A run folder cannot be used: it holds another run, is locked, or is a place no run may
    /// write into.
    #[error("{path}: {msg}")]
    RunFolder {
        /// The folder.
        path: PathBuf,
        /// Why, and what to do instead.
        msg: String,
    },
    /// A model is too large for the memory available.
    #[error("{what} needs about {needed} ({parameters} parameters) but {available} of memory is available; choose smaller sizes")]
    OutOfMemory {
        /// The model and the sizes that make it large.
        what: String,
        /// The estimate.
        needed: String,
        /// The parameter count.
        parameters: String,
        /// What the machine has.
        available: String,
    },
    /// A configuration value is invalid.
    #[error("invalid configuration: {0}")]
    Config(String),
    /// A hyperparameter search space (`lr=1e-3,3e-4 batch_size=32`) is malformed, or names a
    /// key or value the model does not accept.
    #[error("search space: {0}")]
    SearchSpace(String),
}

impl Error {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    /// Malformed data in `path`.
    pub fn bad_data(path: impl Into<PathBuf>, msg: impl Into<String>) -> Self {
        Error::BadData { path: path.into(), msg: msg.into() }
    }
}
