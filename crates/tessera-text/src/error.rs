//! The crate's error type.

use std::path::PathBuf;

/// Everything that can go wrong in `tessera-text`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("I/O error on `{path}`: {source}")]
    Io {
        /// The file at fault.
        path: PathBuf,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Input bytes are not valid UTF-8.
    #[error("`{source_name}` is not valid UTF-8 at line {line}, byte offset {offset}")]
    InvalidUtf8 {
        /// The file (or `<stdin>`) the bytes came from.
        source_name: String,
        /// 1-based line of the first invalid byte.
        line: usize,
        /// Byte offset of the first invalid byte.
        offset: usize,
    },
    /// A tokenizer, vocabulary or dictionary file is malformed.
    #[error("malformed file `{path}`: {reason}")]
    Malformed {
        /// The file at fault.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A line of a dictionary or merges file is malformed.
    #[error("`{path}` line {line}: {reason}")]
    BadLine {
        /// The file at fault.
        path: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong with the line.
        reason: String,
    },
    /// A token id is outside the vocabulary.
    #[error("token id {id} is outside the vocabulary (size {vocab_size})")]
    UnknownId {
        /// The id at fault.
        id: u32,
        /// Size of the vocabulary.
        vocab_size: usize,
    },
    /// A token is not in the vocabulary and there is no unknown token to use instead.
    #[error("token `{token}` is not in the vocabulary and no unknown token is set")]
    UnknownToken {
        /// The token at fault.
        token: String,
    },
    /// An argument is out of its valid range.
    #[error("invalid argument `{name}`: {reason}")]
    InvalidArgument {
        /// The argument's name.
        name: &'static str,
        /// Why the value is invalid.
        reason: String,
    },
    /// Building a tensor failed.
    #[cfg(feature = "tensor")]
    #[error("tensor: {0}")]
    Tensor(#[from] tessera_tensor::Error),
    /// The operation needs data that is empty.
    #[error("empty input: {0}")]
    EmptyInput(String),
}

/// Shorthand for `Result<T, tessera_text::Error>`.
pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io { path: path.into(), source }
    }

    pub(crate) fn malformed(path: impl std::fmt::Display, reason: impl Into<String>) -> Self {
        Error::Malformed { path: path.to_string(), reason: reason.into() }
    }
}
