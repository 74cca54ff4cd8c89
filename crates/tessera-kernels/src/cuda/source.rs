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

/// The family constants and [`MODULES`], from one list.
macro_rules! modules {
    ($($(#[doc = $doc:literal])* $constant:ident = $name:literal;)*) => {
        $($(#[doc = $doc])* pub const $constant: KernelModule = module!($name);)*

        /// Every kernel module, in the order `cargo xtask kernels` reports them.
        pub const MODULES: &[KernelModule] = &[$($constant),*];
    };
}

modules! {
    /// Elementwise ops of one operand.
    UNARY = "unary";
    /// Broadcast binary ops.
    BINARY = "binary";
    /// Broadcast comparisons and `where`.
    COMPARE = "compare";
    /// Sum, mean, max, min, variance, argmax, argmin.
    REDUCE = "reduce";
    /// Softmax and log-softmax.
    SOFTMAX = "softmax";
    /// Log-sum-exp and the fused gradient of softmax cross-entropy.
    CROSS_ENTROPY = "cross_entropy";
    /// The fused LSTM cell, forward and backward.
    LSTM = "lstm";
    /// Fused scaled-dot-product attention, forward and backward.
    ATTENTION = "attention";
    /// LayerNorm and RMSNorm, forward and backward.
    NORM = "norm";
    /// Rotary position embeddings.
    ROTARY = "rotary";
    /// 2-d max and average pooling (plain and adaptive), forward and backward.
    POOLING = "pooling";
    /// Batch normalisation, forward and backward.
    BATCH_NORM = "batch_norm";
    /// im2col and col2im, the windows of 2-D convolution.
    CONV = "conv";
    /// index_select, gather, scatter_add, index bounds check.
    INDEX = "index";
    /// Strided copy and concatenation.
    COPY = "copy";
    /// Casts between dtypes.
    CAST = "cast";
    /// Constant fills.
    CREATION = "creation";
    /// Philox random fills.
    RANDOM = "random";
    /// Fused optimizer updates.
    OPTIM = "optim";
}

/// The module of the op family `family` (`kernels/<family>.cu`), if it has one.
pub fn module(family: &str) -> Option<KernelModule> {
    MODULES.iter().copied().find(|m| m.name == family)
}
