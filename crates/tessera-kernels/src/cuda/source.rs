//! The CUDA C++ kernel sources, embedded at build time (no toolkit needed to build).
//!
//! The sources live in the repository's top-level `kernels/` folder, where contributors look for
//! them; this crate's `kernels` entry is a link to it, which `cargo package` follows, so the
//! published crate carries the sources too.

/// The shared header every module includes as `"common.cuh"`.
pub const COMMON_HEADER: &str = include_str!("../../kernels/common.cuh");

/// One kernel family: a `.cu` file under `kernels/`, compiled as one NVRTC program.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct KernelModule {
    /// The family name, also the file stem (`unary` for `kernels/unary.cu`).
    pub name: &'static str,
    /// The CUDA C++ source.
    pub source: &'static str,
}

macro_rules! module {
    ($name:literal) => {
        KernelModule { name: $name, source: include_str!(concat!("../../kernels/", $name, ".cu")) }
    };
}

/// Elementwise ops of one operand.
pub const UNARY: KernelModule = module!("unary");
/// Broadcast binary ops.
pub const BINARY: KernelModule = module!("binary");
/// Broadcast comparisons and `where`.
pub const COMPARE: KernelModule = module!("compare");
/// Sum, mean, max, min, variance, argmax, argmin.
pub const REDUCE: KernelModule = module!("reduce");
/// Softmax and log-softmax.
pub const SOFTMAX: KernelModule = module!("softmax");
/// Log-sum-exp and the fused gradient of softmax cross-entropy.
pub const CROSS_ENTROPY: KernelModule = module!("cross_entropy");
/// The fused LSTM cell, forward and backward.
pub const LSTM: KernelModule = module!("lstm");
/// index_select, gather, scatter_add, index bounds check.
pub const INDEX: KernelModule = module!("index");
/// Strided copy and concatenation.
pub const COPY: KernelModule = module!("copy");
/// Casts between dtypes.
pub const CAST: KernelModule = module!("cast");
/// Constant fills.
pub const CREATION: KernelModule = module!("creation");
/// Philox random fills.
pub const RANDOM: KernelModule = module!("random");
/// Fused optimizer updates.
pub const OPTIM: KernelModule = module!("optim");

/// Every kernel module, in the order `cargo xtask kernels` reports them.
pub const MODULES: [KernelModule; 13] =
    [UNARY, BINARY, COMPARE, REDUCE, SOFTMAX, CROSS_ENTROPY, LSTM, INDEX, COPY, CAST, CREATION, RANDOM, OPTIM];

/// The module of the op family `family` (`kernels/<family>.cu`), if it has one.
pub fn module(family: &str) -> Option<KernelModule> {
    MODULES.iter().copied().find(|m| m.name == family)
}
