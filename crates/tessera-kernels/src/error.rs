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
    /// A buffer handed to a device half does not match the plan it was checked with (a bug in
    /// the caller, never a user's input).
    #[error("{op}: a {got} buffer was passed with a plan for {expected}")]
    PlanMismatch {
        /// The operation.
        op: &'static str,
        /// The dtype the plan was made for.
        expected: tessera_core::DType,
        /// The buffer's dtype.
        got: tessera_core::DType,
    },
    /// CUDA cannot be used here: no driver, no such device, no NVRTC or cuBLAS library.
    #[error("CUDA unavailable: {0}")]
    CudaUnavailable(String),
    /// A CUDA driver, cuBLAS or NVRTC call failed.
    #[error("CUDA {op}: {msg}")]
    Cuda {
        /// The operation or API call.
        op: &'static str,
        /// What went wrong (the driver's error name).
        msg: String,
    },
    /// NVRTC rejected a kernel module; the log says why.
    #[error("NVRTC could not compile kernel module {module} for {arch}:\n{log}")]
    Compile {
        /// The module (`unary`, `reduce`, ...).
        module: String,
        /// The target architecture (`sm_90`).
        arch: String,
        /// NVRTC's program log.
        log: String,
    },
}
