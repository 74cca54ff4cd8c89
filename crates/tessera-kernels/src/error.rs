//! The error type of `tessera-kernels`.

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// `n` bytes in the largest binary unit that keeps it at 1 or more (`512 B`, `1.5 GiB`).
fn human_bytes(n: usize) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"];
    let (mut value, mut unit) = (n as f64, 0);
    while value >= 1024.0 && unit + 1 < units.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", units[unit])
    }
}

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
    /// A device allocation failed for want of memory, after the caching pool gave back every
    /// block it held.
    #[error(
        "CUDA device {device} is out of memory: {} asked for, {} free of {}",
        human_bytes(*requested),
        human_bytes(*free),
        human_bytes(*total)
    )]
    OutOfDeviceMemory {
        /// The device's ordinal.
        device: usize,
        /// The bytes asked for (rounded up to the pool's block size).
        requested: usize,
        /// The device's free memory when the allocation failed.
        free: usize,
        /// The device's memory.
        total: usize,
    },
    /// The system refused the host memory for an op's output or scratch (more than the machine
    /// can give, or past its address space); see [`crate::cpu::reserve_output`].
    #[error("{op}: the system refused {} of host memory for {elements} {dtype} elements", human_bytes(*requested))]
    OutOfHostMemory {
        /// The operation.
        op: &'static str,
        /// The element count asked for.
        elements: usize,
        /// Their dtype.
        dtype: tessera_core::DType,
        /// The bytes asked for.
        requested: usize,
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
