//! The error type of `tessera-kernels`.

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Errors raised by kernels.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A shape, dtype, dim or index error.
    #[error(transparent)]
    Core(#[from] tessera_core::Error),
}
