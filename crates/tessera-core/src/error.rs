//! The error type of `tessera-core`, also the vocabulary of shape and dtype errors used upstream.

use crate::{DType, Shape};

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Everything that can go wrong with shapes, layouts, dtypes and indices.
///
/// Every variant names the operation at fault and the shapes, dims or values involved.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Two shapes that had to be equal were not.
    #[error("{op}: shape mismatch, {lhs} vs {rhs}")]
    ShapeMismatch {
        /// The operation.
        op: &'static str,
        /// First shape.
        lhs: Shape,
        /// Second shape.
        rhs: Shape,
    },
    /// Two shapes cannot be broadcast together.
    #[error("{op}: shapes {lhs} and {rhs} cannot be broadcast together")]
    BroadcastIncompatible {
        /// The operation.
        op: &'static str,
        /// First shape.
        lhs: Shape,
        /// Second shape.
        rhs: Shape,
    },
    /// Two operands have different dtypes.
    #[error("{op}: dtype mismatch, {lhs} vs {rhs}")]
    DTypeMismatch {
        /// The operation.
        op: &'static str,
        /// First dtype.
        lhs: DType,
        /// Second dtype.
        rhs: DType,
    },
    /// The operation does not support this dtype.
    #[error("{op}: dtype {dtype} is not supported{hint}")]
    UnsupportedDType {
        /// The operation.
        op: &'static str,
        /// The offending dtype.
        dtype: DType,
        /// Extra explanation (may be empty).
        hint: &'static str,
    },
    /// A dimension index is out of range for the tensor's rank.
    #[error("{op}: dim {dim} is out of range for a tensor of shape {shape}")]
    DimOutOfRange {
        /// The operation.
        op: &'static str,
        /// The requested dim (as given, possibly negative).
        dim: isize,
        /// The shape of the tensor.
        shape: Shape,
    },
    /// The same dim was given twice.
    #[error("{op}: dim {dim} appears more than once")]
    DuplicateDim {
        /// The operation.
        op: &'static str,
        /// The repeated dim.
        dim: usize,
    },
    /// An index value lies outside the size of the dimension it indexes.
    #[error("{op}: index {index} is out of range for dim {dim} of size {size}")]
    IndexOutOfRange {
        /// The operation.
        op: &'static str,
        /// The offending index value.
        index: i64,
        /// The dim being indexed.
        dim: usize,
        /// The size of that dim.
        size: usize,
    },
    /// `narrow` asked for a range past the end of a dim.
    #[error("{op}: range {start}..{end} is out of bounds for dim {dim} of shape {shape}")]
    NarrowOutOfRange {
        /// The operation.
        op: &'static str,
        /// The dim.
        dim: usize,
        /// Start of the range.
        start: usize,
        /// End of the range (exclusive).
        end: usize,
        /// The shape being narrowed.
        shape: Shape,
    },
    /// A reshape to a shape with a different number of elements.
    #[error("{op}: cannot reshape {from} ({from_count} elements) into {to} ({to_count} elements)")]
    ElementCountMismatch {
        /// The operation.
        op: &'static str,
        /// Source shape.
        from: Shape,
        /// Number of elements in the source.
        from_count: usize,
        /// Requested shape.
        to: Shape,
        /// Number of elements requested.
        to_count: usize,
    },
    /// A view that would need a copy was requested on a layout that does not allow it.
    #[error("{op}: layout with shape {shape} and strides {strides:?} cannot be viewed as {to} without a copy")]
    NotViewable {
        /// The operation.
        op: &'static str,
        /// Source shape.
        shape: Shape,
        /// Source strides.
        strides: Vec<usize>,
        /// Requested shape.
        to: Shape,
    },
    /// A data buffer has the wrong number of elements for the shape.
    #[error("{op}: {len} elements given for shape {shape} ({expected} expected)")]
    DataLengthMismatch {
        /// The operation.
        op: &'static str,
        /// Elements provided.
        len: usize,
        /// Elements the shape needs.
        expected: usize,
        /// The shape.
        shape: Shape,
    },
    /// Any other bad argument: the message says which and why.
    #[error("{op}: {msg}")]
    InvalidArgument {
        /// The operation.
        op: &'static str,
        /// What was wrong.
        msg: String,
    },
}
