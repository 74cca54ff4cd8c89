//! Plans of the row-wise ops of classifiers: softmax, log-softmax, log-sum-exp and the fused
//! gradient of softmax cross-entropy.

use super::{dim_last, require_float, require_index_dtype, require_same_dtype, resolve_dim, Arg};
use crate::ops::SoftmaxKind;
use crate::Result;
use tessera_core::{saturating_product, DType, Error, Layout, Shape};

/// Rows along one dim: the input viewed with that dim last, so that each row is `len`
/// consecutive positions of the read order.
#[derive(Debug, Clone, PartialEq)]
pub struct Rows {
    /// The input's view with the row dim moved last.
    pub layout: Layout,
    /// Number of rows.
    pub rows: usize,
    /// Elements per row.
    pub len: usize,
}

impl Rows {
    fn along(layout: &Layout, dim: usize) -> Result<(Rows, Option<Layout>)> {
        let (moved, back) = dim_last(layout, dim)?;
        let len = layout.dims()[dim];
        // Saturating: beside an empty dim the others' product may pass a usize (no row is read).
        let rows = saturating_product(layout.dims().iter().enumerate().filter(|&(d, _)| d != dim).map(|(_, &n)| n));
        Ok((Rows { layout: moved, rows, len }, back))
    }
}

/// A checked softmax or log-softmax along a dim; float dtypes.
#[derive(Debug, Clone, PartialEq)]
pub struct SoftmaxPlan {
    /// Which of the two.
    pub kind: SoftmaxKind,
    /// The dtype of input and output.
    pub dtype: DType,
    /// The rows.
    pub rows: Rows,
    /// How a contiguous result in row order maps back to the input's dim order (`None` when the
    /// dim is already last).
    pub back: Option<Layout>,
    /// The output's shape (the input's).
    pub out_shape: Shape,
}

impl SoftmaxPlan {
    /// Checks `kind` along `dim` of `x`.
    pub fn new(kind: SoftmaxKind, x: Arg<'_>, dim: isize) -> Result<Self> {
        let d = resolve_dim(kind.name(), x.layout, dim)?;
        require_float(kind.name(), x.dtype)?;
        let (rows, back) = Rows::along(x.layout, d)?;
        Ok(SoftmaxPlan { kind, dtype: x.dtype, rows, back, out_shape: x.layout.shape().clone() })
    }
}

/// A checked `log(sum(exp(x)))` along a dim; float dtypes.
#[derive(Debug, Clone, PartialEq)]
pub struct LogSumExpPlan {
    /// The dtype of input and output.
    pub dtype: DType,
    /// The rows; the output holds one value per row, in row order.
    pub rows: Rows,
    /// The output's shape.
    pub out_shape: Shape,
}

impl LogSumExpPlan {
    /// Checks a log-sum-exp along `dim` of `x`, keeping it as size 1 with `keepdim`.
    pub fn new(x: Arg<'_>, dim: isize, keepdim: bool) -> Result<Self> {
        let d = resolve_dim("logsumexp", x.layout, dim)?;
        require_float("logsumexp", x.dtype)?;
        let (rows, _) = Rows::along(x.layout, d)?;
        let mut dims = x.layout.dims().to_vec();
        if keepdim {
            dims[d] = 1;
        } else {
            dims.remove(d);
        }
        let out_shape = Shape::new(dims);
        out_shape.countable("logsumexp", x.dtype)?;
        Ok(LogSumExpPlan { dtype: x.dtype, rows, out_shape })
    }
}

/// A checked gradient of softmax cross-entropy with respect to logits `[n, c]`:
/// `scale[i] * (exp(logits[i, j] - lse[i]) - smoothing / c - (1 - smoothing) * [j == target[i]])`.
#[derive(Debug, Clone, PartialEq)]
pub struct CrossEntropyBackwardPlan {
    /// Rows `n`.
    pub n: usize,
    /// Classes `c`.
    pub classes: usize,
    /// The dtype of logits, `lse`, `scale` and the output.
    pub dtype: DType,
    /// The logits' view, `[n, c]`.
    pub logits: Layout,
    /// Each row's log-sum-exp, `[n]`.
    pub lse: Layout,
    /// Each row's target class (u32 or i64), `[n]`.
    pub target: Layout,
    /// The targets' dtype.
    pub target_dtype: DType,
    /// Each row's upstream gradient (zero for ignored rows), `[n]`.
    pub scale: Layout,
    /// Label smoothing in `[0, 1]`.
    pub smoothing: f64,
}

impl CrossEntropyBackwardPlan {
    /// Checks the operands' shapes and dtypes.
    pub fn new(logits: Arg<'_>, lse: Arg<'_>, target: Arg<'_>, scale: Arg<'_>, smoothing: f64) -> Result<Self> {
        const OP: &str = "cross_entropy_backward";
        let (n, classes) = match *logits.layout.dims() {
            [n, c] => (n, c),
            _ => {
                let msg = format!("logits must be [rows, classes], got {}", logits.layout.shape());
                return Err(Error::InvalidArgument { op: OP, msg }.into());
            }
        };
        for other in [lse, target, scale] {
            if other.layout.dims() != [n] {
                let (lhs, rhs) = (logits.layout.shape().clone(), other.layout.shape().clone());
                return Err(Error::ShapeMismatch { op: OP, lhs, rhs }.into());
            }
        }
        require_float(OP, logits.dtype)?;
        require_same_dtype(OP, &[logits.dtype, lse.dtype, scale.dtype])?;
        require_index_dtype(OP, target.dtype, " (targets are u32 or i64)")?;
        Ok(CrossEntropyBackwardPlan {
            n,
            classes,
            dtype: logits.dtype,
            logits: logits.layout.clone(),
            lse: lse.layout.clone(),
            target: target.layout.clone(),
            target_dtype: target.dtype,
            scale: scale.layout.clone(),
            smoothing,
        })
    }

    /// The plan of the fused forward and backward (`cross_entropy_with_grad`), which computes
    /// each row's log-sum-exp itself: as [`new`](Self::new), the log-sum-exp taken as a
    /// contiguous `[n]` of the logits' dtype.
    pub fn with_own_lse(logits: Arg<'_>, target: Arg<'_>, scale: Arg<'_>, smoothing: f64) -> Result<Self> {
        let n = logits.layout.dims().first().copied().unwrap_or(0);
        let lse = Layout::contiguous(Shape::new(vec![n]));
        Self::new(logits, Arg::new(logits.dtype, &lse), target, scale, smoothing)
    }
}
