//! The error type of `tessera-autograd`.

use tessera_tensor::{DType, Shape};

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Errors from recording ops and running backward.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// An error raised by a tensor op (shapes, dtypes, devices, indices...).
    #[error(transparent)]
    Tensor(#[from] tessera_tensor::Error),
    /// Backward reached an op recorded without a backward rule.
    #[error("backward: the op `{op}` has no backward rule, so gradients cannot flow through it")]
    NoBackwardRule {
        /// The op's name.
        op: &'static str,
    },
    /// Backward reached a node whose graph an earlier backward freed.
    #[error(
        "backward: the graph through `{op}` was freed by an earlier backward; \
         call backward_with(.., keep_graph: true) to backward through it again"
    )]
    GraphFreed {
        /// The op whose node was freed.
        op: &'static str,
    },
    /// `backward` was called on a value that does not require grad.
    #[error("backward: this Var does not require grad (no input of it is a tracked leaf)")]
    NoGradRequired,
    /// `backward` without an explicit gradient on a value that is not a single element.
    #[error("backward: the output has shape {shape}, not one element; pass its gradient explicitly")]
    NonScalarOutput {
        /// The output's shape.
        shape: Shape,
    },
    /// A gradient did not have the shape of the value it is the gradient of.
    #[error("{op}: gradient has shape {got}, expected {expected}")]
    GradShapeMismatch {
        /// Where it was detected (the op whose rule produced it, or `backward` for a seed).
        op: &'static str,
        /// The value's shape.
        expected: Shape,
        /// The gradient's shape.
        got: Shape,
    },
    /// Gradients were requested for a tensor that is not of a float dtype.
    #[error("{op}: gradients need a float dtype, got {dtype}")]
    NonFloatGrad {
        /// The operation.
        op: &'static str,
        /// The tensor's dtype.
        dtype: DType,
    },
    /// An invalid argument to an autograd op.
    #[error("{op}: {msg}")]
    InvalidArgument {
        /// The operation.
        op: &'static str,
        /// What is wrong.
        msg: String,
    },
}
