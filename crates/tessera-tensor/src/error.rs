//! The error type of `tessera-tensor`.

use crate::Device;

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Errors from tensor operations.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A shape, dtype, dim or index error.
    #[error(transparent)]
    Core(#[from] tessera_core::Error),
    /// An error raised by a kernel.
    #[error(transparent)]
    Kernel(#[from] tessera_kernels::Error),
    /// Operands live on different devices.
    #[error("{op}: tensors are on different devices, {lhs} and {rhs}")]
    DeviceMismatch {
        /// The operation.
        op: &'static str,
        /// First device.
        lhs: Device,
        /// Second device.
        rhs: Device,
    },
    /// A typed read asked for a dtype the tensor does not have.
    #[error("{op}: tensor has dtype {actual}, {requested} was requested")]
    WrongElementType {
        /// The operation.
        op: &'static str,
        /// The tensor's dtype.
        actual: tessera_core::DType,
        /// The requested dtype.
        requested: tessera_core::DType,
    },
}

impl Error {
    /// The underlying core error, if this is one (whether raised here or in a kernel).
    pub fn as_core(&self) -> Option<&tessera_core::Error> {
        match self {
            Error::Core(e) | Error::Kernel(tessera_kernels::Error::Core(e)) => Some(e),
            _ => None,
        }
    }
}
