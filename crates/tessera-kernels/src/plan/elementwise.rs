//! Plans of elementwise ops: unary, broadcast binary, comparisons and `where`.

use super::{require_same_dtype, Arg, CAST_TO_FLOAT};
use crate::ops::{BinaryOp, CmpOp, UnaryOp};
use crate::Result;
use tessera_core::{broadcast_shapes, DType, Error, Layout, Shape};

/// A checked unary op: the op is defined on the dtype and its parameters make sense.
#[derive(Debug, Clone, PartialEq)]
pub struct UnaryPlan {
    /// The op.
    pub op: UnaryOp,
    /// The dtype of input and output.
    pub dtype: DType,
    /// The input's view; the output is contiguous in its shape.
    pub input: Layout,
}

impl UnaryPlan {
    /// Checks `op` on `x`.
    pub fn new(op: UnaryOp, x: Arg<'_>) -> Result<Self> {
        if !op.supports(x.dtype) {
            let hint = match x.dtype {
                DType::I64 => " (integer input: cast to a float dtype first)",
                _ => " (unsigned integer input)",
            };
            return Err(Error::UnsupportedDType { op: op.name(), dtype: x.dtype, hint }.into());
        }
        if let UnaryOp::Clamp(lo, hi) = op {
            if lo > hi {
                let msg = format!("lower bound {lo} exceeds upper bound {hi}");
                return Err(Error::InvalidArgument { op: "clamp", msg }.into());
            }
        }
        Ok(UnaryPlan { op, dtype: x.dtype, input: x.layout.clone() })
    }
}

/// Two operands of one dtype broadcast to their common shape.
#[derive(Debug, Clone, PartialEq)]
pub struct ZipPlan {
    /// The common (output) shape.
    pub shape: Shape,
    /// The operands' dtype.
    pub dtype: DType,
    /// The left operand broadcast to `shape`.
    pub lhs: Layout,
    /// The right operand broadcast to `shape`.
    pub rhs: Layout,
}

impl ZipPlan {
    /// Checks that `lhs` and `rhs` share a dtype and broadcast together; errors name `op`.
    pub fn new(op: &'static str, lhs: Arg<'_>, rhs: Arg<'_>) -> Result<Self> {
        require_same_dtype(op, &[lhs.dtype, rhs.dtype])?;
        let shape = broadcast_shapes(lhs.layout.shape(), rhs.layout.shape(), op)?;
        Ok(ZipPlan {
            lhs: lhs.layout.broadcast_as(&shape)?,
            rhs: rhs.layout.broadcast_as(&shape)?,
            dtype: lhs.dtype,
            shape,
        })
    }
}

/// A checked broadcast binary op.
#[derive(Debug, Clone, PartialEq)]
pub struct BinaryPlan {
    /// The op.
    pub op: BinaryOp,
    /// The broadcast operands; the output has their dtype.
    pub zip: ZipPlan,
}

impl BinaryPlan {
    /// Checks `op` on `lhs` and `rhs`.
    pub fn new(op: BinaryOp, lhs: Arg<'_>, rhs: Arg<'_>) -> Result<Self> {
        let zip = ZipPlan::new(op.name(), lhs, rhs)?;
        if !op.supports(zip.dtype) {
            return Err(Error::UnsupportedDType { op: op.name(), dtype: zip.dtype, hint: CAST_TO_FLOAT }.into());
        }
        Ok(BinaryPlan { op, zip })
    }

    /// Whether the device half must check the divisor for zeros (integer division).
    pub fn checks_divisor(&self) -> bool {
        self.op == BinaryOp::Div && self.zip.dtype.is_int()
    }
}

/// A checked broadcast comparison; the output is a `u8` mask.
#[derive(Debug, Clone, PartialEq)]
pub struct ComparePlan {
    /// The comparison.
    pub op: CmpOp,
    /// The broadcast operands.
    pub zip: ZipPlan,
}

impl ComparePlan {
    /// Checks `op` on `lhs` and `rhs`.
    pub fn new(op: CmpOp, lhs: Arg<'_>, rhs: Arg<'_>) -> Result<Self> {
        Ok(ComparePlan { op, zip: ZipPlan::new(op.name(), lhs, rhs)? })
    }
}

/// A checked `mask ? on_true : on_false`, all three broadcast to their common shape.
#[derive(Debug, Clone, PartialEq)]
pub struct WherePlan {
    /// The common (output) shape.
    pub shape: Shape,
    /// The values' (and output's) dtype.
    pub dtype: DType,
    /// The u8 mask, broadcast.
    pub mask: Layout,
    /// The values where the mask is nonzero, broadcast.
    pub on_true: Layout,
    /// The values where it is zero, broadcast.
    pub on_false: Layout,
}

impl WherePlan {
    /// Checks a `where`: a u8 mask and two values of one dtype that broadcast together.
    pub fn new(mask: Arg<'_>, on_true: Arg<'_>, on_false: Arg<'_>) -> Result<Self> {
        if mask.dtype != DType::U8 {
            let hint = " for the mask (expected u8, as comparisons give)";
            return Err(Error::UnsupportedDType { op: "where", dtype: mask.dtype, hint }.into());
        }
        require_same_dtype("where", &[on_true.dtype, on_false.dtype])?;
        let shape = broadcast_shapes(mask.layout.shape(), on_true.layout.shape(), "where")?;
        let shape = broadcast_shapes(&shape, on_false.layout.shape(), "where")?;
        Ok(WherePlan {
            mask: mask.layout.broadcast_as(&shape)?,
            on_true: on_true.layout.broadcast_as(&shape)?,
            on_false: on_false.layout.broadcast_as(&shape)?,
            dtype: on_true.dtype,
            shape,
        })
    }
}
