//! The CUDA C++ kernel sources, embedded at build time (no toolkit needed to build).

/// The shared header every module includes as `"common.cuh"`.
pub const COMMON_HEADER: &str = include_str!("../../../../kernels/common.cuh");

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
        KernelModule { name: $name, source: include_str!(concat!("../../../../kernels/", $name, ".cu")) }
    };
}

/// Elementwise ops of one operand.
pub const UNARY: KernelModule = module!("unary");
/// Broadcast binary ops, comparisons, where.
pub const BINARY: KernelModule = module!("binary");
/// Sum, mean, max, min, var, argmax, argmin.
pub const REDUCE: KernelModule = module!("reduce");
/// Softmax and log-softmax.
pub const SOFTMAX: KernelModule = module!("softmax");
/// index_select, gather, scatter_add, index bounds check.
pub const INDEX: KernelModule = module!("index");
/// Strided copy, cat, casts, fills.
pub const COPY: KernelModule = module!("copy");
/// Philox random fills.
pub const RANDOM: KernelModule = module!("random");
/// The fused LSTM cell, forward and backward.
pub const LSTM: KernelModule = module!("lstm");

/// Every kernel module, in the order `cargo xtask kernels` reports them.
pub const MODULES: [KernelModule; 8] = [UNARY, BINARY, REDUCE, SOFTMAX, INDEX, COPY, RANDOM, LSTM];
