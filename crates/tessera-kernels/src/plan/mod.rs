//! Validate once, before dispatch: each op's plan.
//!
//! A plan is what an op's arguments mean once checked: dtype rules applied, dims resolved,
//! operands broadcast, rows permuted into place, the output's shape and dtype known. Both device
//! halves consume the same plan, so both accept and reject the same arguments with the same error
//! by construction, and no check is written twice. Only checks that need the data itself (an
//! index out of range, an integer division by zero) run in the device halves, which build their
//! errors with the helpers here.
//!
//! ```
//! use tessera_core::{DType, Layout, Shape};
//! use tessera_kernels::ops::UnaryOp;
//! use tessera_kernels::plan::{Arg, UnaryPlan};
//! let l = Layout::contiguous(Shape::new(vec![2, 3]));
//! assert!(UnaryPlan::new(UnaryOp::Exp, Arg::new(DType::F32, &l)).is_ok());
//! let err = UnaryPlan::new(UnaryOp::Exp, Arg::new(DType::I64, &l)).unwrap_err();
//! assert_eq!(err.to_string(), "exp: dtype i64 is not supported (integer input: cast to a float dtype first)");
//! ```

mod attention;
mod batch_norm;
mod conv;
mod conv2d;
mod copy;
mod creation;
mod dropout;
mod elementwise;
mod gru;
mod index;
mod lstm;
mod matmul;
mod nn;
mod norm;
mod optim;
mod pool_axis;
mod pooling;
mod reduce;
mod rotary;

pub use attention::{AttentionBackwardPlan, AttentionPlan, AttentionSpec};
pub use batch_norm::{BatchNormBackwardPlan, BatchNormPlan};
pub use conv::{Col2ImPlan, Conv2dSpec, ConvTranspose2dSpec, ConvWindow, Im2ColPlan, Im2ColSpec};
pub use conv2d::{Conv2dOperands, Conv2dPlan, ConvTranspose2dPlan};
pub use copy::CatPlan;
pub use creation::{ArangePlan, Distribution, RandomPlan};
pub use dropout::{DropoutMask, DropoutPlan};
pub use elementwise::{BinaryPlan, ComparePlan, UnaryPlan, WherePlan, ZipPlan};
pub use gru::{GruSequenceBackwardPlan, GruSequencePlan};
pub use index::{GatherPlan, IndexSelectPlan, ScatterAddPlan};
pub use lstm::{LstmCellBackwardPlan, LstmCellPlan, LstmSequenceBackwardPlan, LstmSequencePlan};
pub use matmul::{MatmulPlan, MatmulShape};
pub use nn::{CrossEntropyBackwardPlan, LogSumExpPlan, Rows, SoftmaxPlan};
pub use norm::{NormBackwardPlan, NormKind, NormParamGrads, NormPlan};
pub use optim::{MasterOptimPlan, OptimPlan};
pub use pool_axis::{PoolAxis, Window};
pub use pooling::{AvgPool2dSpec, MaxPool2dSpec, PoolBackwardPlan, PoolKind, PoolPlan};
pub use reduce::{Lines, ReduceKind, ReducePlan, SumSquaresPlan};
pub use rotary::RotaryPlan;

use crate::Result;
use tessera_core::{DType, Error, Layout};

/// One operand as a plan sees it: its dtype and its layout (shape, strides, offset).
#[derive(Debug, Clone, Copy)]
pub struct Arg<'a> {
    /// The element type.
    pub dtype: DType,
    /// The view of the buffer.
    pub layout: &'a Layout,
}

impl<'a> Arg<'a> {
    /// An operand of `dtype` viewed through `layout`.
    pub fn new(dtype: DType, layout: &'a Layout) -> Self {
        Arg { dtype, layout }
    }
}

/// The hint every float-only op gives for an integer input.
pub(crate) const CAST_TO_FLOAT: &str = " (cast to a float dtype first)";

/// Rejects non-float dtypes.
pub(crate) fn require_float(op: &'static str, dtype: DType) -> Result<()> {
    if dtype.is_float() {
        Ok(())
    } else {
        Err(Error::UnsupportedDType { op, dtype, hint: CAST_TO_FLOAT }.into())
    }
}

/// Rejects operands whose dtype differs from the first's.
pub(crate) fn require_same_dtype(op: &'static str, dtypes: &[DType]) -> Result<()> {
    match dtypes.iter().find(|&&d| d != dtypes[0]) {
        Some(&other) => Err(Error::DTypeMismatch { op, lhs: dtypes[0], rhs: other }.into()),
        None => Ok(()),
    }
}

/// Rejects index dtypes other than u32 and i64.
pub(crate) fn require_index_dtype(op: &'static str, dtype: DType, what: &'static str) -> Result<()> {
    if matches!(dtype, DType::U32 | DType::I64) {
        Ok(())
    } else {
        Err(Error::UnsupportedDType { op, dtype, hint: what }.into())
    }
}

/// Resolves a possibly negative dim of `layout`.
pub(crate) fn resolve_dim(op: &'static str, layout: &Layout, dim: isize) -> Result<usize> {
    Ok(layout.shape().dim(dim, op)?)
}

/// The error for an index that the data holds and the dim cannot (found by a device half).
pub fn index_out_of_range(op: &'static str, index: i64, dim: usize, size: usize) -> crate::Error {
    Error::IndexOutOfRange { op, index, dim, size }.into()
}

/// The error for an integer division whose divisor holds a zero (found by a device half).
pub fn division_by_zero(dtype: DType) -> crate::Error {
    Error::InvalidArgument { op: "div", msg: format!("integer division by zero ({dtype} divisor)") }.into()
}

/// Layout `layout` with `dim` moved last (rows contiguous in the output), and the permutation that
/// moves a contiguous result of that order back to `layout`'s order (`None` when `dim` is last).
pub(crate) fn dim_last(layout: &Layout, dim: usize) -> Result<(Layout, Option<Layout>)> {
    let rank = layout.rank();
    let mut perm: Vec<usize> = (0..rank).filter(|&d| d != dim).collect();
    perm.push(dim);
    let moved = layout.permute(&perm)?;
    if dim + 1 == rank {
        return Ok((moved, None));
    }
    let mut inverse = vec![0; rank];
    for (i, &p) in perm.iter().enumerate() {
        inverse[p] = i;
    }
    let back = Layout::contiguous(moved.shape().clone()).permute(&inverse)?;
    Ok((moved, Some(back)))
}
