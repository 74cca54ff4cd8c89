//! Plans of reductions: sum, mean, max, min, variance, argmax and argmin over dims.

use super::{require_float, resolve_dim, Arg, CAST_TO_FLOAT};
use crate::ops::{ArgReduceOp, ReduceOp};
use crate::Result;
use tessera_core::{saturating_product, DType, Error, Layout, Shape};

/// A reduction seen as `[pre, red, post]` over the data in read order:
/// `out[p, q] = fold over r of data[p, r, q]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lines {
    /// Outer count.
    pub pre: usize,
    /// Elements folded into each output.
    pub red: usize,
    /// Inner count (distance between the elements of one line).
    pub post: usize,
}

impl Lines {
    /// How many outputs the reduction has (saturating: a count past a usize meets a 0 here,
    /// since plans check their outputs are countable).
    pub fn outputs(&self) -> usize {
        self.pre.saturating_mul(self.post)
    }
}

/// What a [`ReducePlan`] computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReduceKind {
    /// A reduction of the table.
    Op(ReduceOp),
    /// `sum((x - mean)^2) / (N - correction)`.
    Variance {
        /// Bessel's correction (1: unbiased).
        correction: usize,
    },
    /// The position (i64) of the maximum or minimum along one dim.
    Arg(ArgReduceOp),
}

impl ReduceKind {
    /// The op's name, as its `Tensor` method and the op registry call it.
    pub fn name(&self) -> &'static str {
        match self {
            ReduceKind::Op(op) => op.name(),
            ReduceKind::Variance { .. } => "variance",
            ReduceKind::Arg(op) => op.name(),
        }
    }
}

/// A checked reduction: dims resolved, data order and line counts, output shape and dtype.
#[derive(Debug, Clone, PartialEq)]
pub struct ReducePlan {
    /// What to compute.
    pub kind: ReduceKind,
    /// The input's dtype.
    pub dtype: DType,
    /// The output's dtype (i64 for integer sums and arg-reductions).
    pub out_dtype: DType,
    /// The input's view with the reduced dims permuted last when they are not consecutive.
    pub read: Layout,
    /// How `read` folds into outputs.
    pub lines: Lines,
    /// The output's shape (reduced dims dropped, or kept as 1 with `keepdim`).
    pub out_shape: Shape,
}

impl ReducePlan {
    /// `op` over `dims` (every dim when empty; negative dims count from the end).
    pub fn reduce(op: ReduceOp, x: Arg<'_>, dims: &[isize], keepdim: bool) -> Result<Self> {
        let out_dtype = op.out_dtype(x.dtype).ok_or(Error::UnsupportedDType {
            op: op.name(),
            dtype: x.dtype,
            hint: CAST_TO_FLOAT,
        })?;
        let plan = ReducePlan::over(ReduceKind::Op(op), op.name(), x, dims, keepdim, out_dtype)?;
        if matches!(op, ReduceOp::Max | ReduceOp::Min) && plan.lines.red == 0 && plan.lines.outputs() > 0 {
            let msg = format!("cannot reduce over an empty dim of shape {}", x.layout.shape());
            return Err(Error::InvalidArgument { op: op.name(), msg }.into());
        }
        Ok(plan)
    }

    /// The variance over `dims` with Bessel's `correction`; float dtypes.
    pub fn variance(x: Arg<'_>, dims: &[isize], keepdim: bool, correction: usize) -> Result<Self> {
        super::require_float("variance", x.dtype)?;
        ReducePlan::over(ReduceKind::Variance { correction }, "variance", x, dims, keepdim, x.dtype)
    }

    /// The position of the maximum or minimum along `dim` (first on ties; NaN counts as extreme).
    pub fn arg(op: ArgReduceOp, x: Arg<'_>, dim: isize, keepdim: bool) -> Result<Self> {
        let d = resolve_dim(op.name(), x.layout, dim)?;
        let plan = ReducePlan::over(ReduceKind::Arg(op), op.name(), x, &[d as isize], keepdim, DType::I64)?;
        if plan.lines.red == 0 {
            let msg = format!("dim {d} of shape {} is empty", x.layout.shape());
            return Err(Error::InvalidArgument { op: op.name(), msg }.into());
        }
        Ok(plan)
    }

    fn over(
        kind: ReduceKind,
        op: &'static str,
        x: Arg<'_>,
        dims: &[isize],
        keepdim: bool,
        out_dtype: DType,
    ) -> Result<Self> {
        let layout = x.layout;
        let dims: Vec<usize> =
            if dims.is_empty() { (0..layout.rank()).collect() } else { layout.shape().dims_sorted(dims, op)? };
        // Reducing an empty dim gives outputs an input of no elements does not bound.
        let out_shape = reduced_shape(layout.shape(), &dims, keepdim);
        out_shape.countable(op, out_dtype)?;
        let (read, lines) = read_order(layout, &dims)?;
        Ok(ReducePlan { kind, dtype: x.dtype, out_dtype, read, lines, out_shape })
    }
}

/// Puts the data in the order the reduction reads it: consecutive reduced dims stay in place
/// (`[pre, red, post]`), others are permuted last (`[kept, red, 1]`). Among themselves the
/// reduced dims are read in memory order (largest stride first; the order of a reduction's
/// elements is free), so that reducing every dim of a dense view in any order, such as the
/// batch-first view of a time-major sequence, reads its storage as it lies instead of copying it
/// first. `dims` is sorted and distinct.
fn read_order(layout: &Layout, dims: &[usize]) -> Result<(Layout, Lines)> {
    let all = layout.dims();
    // Saturating: in an input with an empty dim the other dims' product may pass a usize, and
    // is then never used (the outputs were checked countable, so a saturated count meets a 0).
    let prod = |r: &[usize]| saturating_product(r.iter().copied());
    if dims.is_empty() {
        return Ok((layout.clone(), Lines { pre: layout.elem_count(), red: 1, post: 1 }));
    }
    let mut reduced = dims.to_vec();
    // Stable: dims of equal stride (size-1 dims among them) keep their order.
    reduced.sort_by_key(|&d| std::cmp::Reverse(layout.strides()[d]));
    if dims.windows(2).all(|w| w[1] == w[0] + 1) {
        let (first, last) = (dims[0], dims[dims.len() - 1]);
        let lines = Lines { pre: prod(&all[..first]), red: prod(&all[first..=last]), post: prod(&all[last + 1..]) };
        // The identity for reduced dims already in memory order (a contiguous input).
        let perm: Vec<usize> = (0..first).chain(reduced).chain(last + 1..layout.rank()).collect();
        return Ok((layout.permute(&perm)?, lines));
    }
    let kept: Vec<usize> = (0..layout.rank()).filter(|d| !dims.contains(d)).collect();
    let perm: Vec<usize> = kept.iter().chain(&reduced).copied().collect();
    let pick = |ds: &[usize]| saturating_product(ds.iter().map(|&d| all[d]));
    let lines = Lines { pre: pick(&kept), red: pick(dims), post: 1 };
    Ok((layout.permute(&perm)?, lines))
}

/// The output shape of a reduction over `dims`.
fn reduced_shape(shape: &Shape, dims: &[usize], keepdim: bool) -> Shape {
    let kept = shape.dims().iter().enumerate().filter_map(|(d, &n)| match dims.contains(&d) {
        false => Some(n),
        true if keepdim => Some(1),
        true => None,
    });
    Shape::new(kept.collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_consecutive_dims_are_read_last() {
        let l = Layout::contiguous(Shape::new(vec![2, 3, 4]));
        let p = ReducePlan::reduce(ReduceOp::Sum, Arg::new(DType::F32, &l), &[0, -1], true).unwrap();
        assert_eq!((p.read.dims(), p.lines), (&[3usize, 2, 4][..], Lines { pre: 3, red: 8, post: 1 }));
        assert_eq!(p.out_shape.dims(), &[1, 3, 1]);
        let p = ReducePlan::reduce(ReduceOp::Sum, Arg::new(DType::U8, &l), &[1], false).unwrap();
        assert_eq!((p.lines, p.out_dtype), (Lines { pre: 2, red: 3, post: 4 }, DType::I64));
        let e = ReducePlan::reduce(ReduceOp::Mean, Arg::new(DType::I64, &l), &[], false).unwrap_err();
        assert_eq!(e.to_string(), "mean: dtype i64 is not supported (cast to a float dtype first)");
    }

    #[test]
    fn reduced_dims_are_read_in_memory_order() {
        // A time-major [35, 32, 8] buffer seen batch-first: every dim reduced reads it as it lies.
        let batch_first = Layout::contiguous(Shape::new(vec![35, 32, 8])).transpose(0, 1).unwrap();
        let p = ReducePlan::reduce(ReduceOp::Sum, Arg::new(DType::F32, &batch_first), &[], false).unwrap();
        assert!(p.read.is_contiguous(), "{:?}", p.read);
        assert_eq!(p.lines, Lines { pre: 1, red: 35 * 32 * 8, post: 1 });
        // The kept dim stays first; the reduced ones, not consecutive, follow in memory order.
        let l = Layout::contiguous(Shape::new(vec![4, 3, 2])).permute(&[2, 1, 0]).unwrap();
        let p = ReducePlan::reduce(ReduceOp::Max, Arg::new(DType::F32, &l), &[0, 2], false).unwrap();
        assert_eq!((p.read.dims(), p.read.strides()), (&[3usize, 4, 2][..], &[2usize, 6, 1][..]));
        assert_eq!(p.lines, Lines { pre: 3, red: 8, post: 1 });
    }
}

/// A checked sum of the squares of every element of a float tensor (a gradient's squared L2
/// norm), accumulated and returned in f32 (f64 for f64 input), so that f16 values past 256 do not
/// overflow.
#[derive(Debug, Clone, PartialEq)]
pub struct SumSquaresPlan {
    /// The input's dtype.
    pub dtype: DType,
    /// The result's dtype: f64 for f64 input, f32 otherwise.
    pub out_dtype: DType,
    /// The input's view.
    pub layout: Layout,
}

impl SumSquaresPlan {
    /// Checks that `x` is a float tensor.
    pub fn new(x: Arg<'_>) -> Result<Self> {
        require_float("sum_squares", x.dtype)?;
        let out_dtype = if x.dtype == DType::F64 { DType::F64 } else { DType::F32 };
        Ok(SumSquaresPlan { dtype: x.dtype, out_dtype, layout: x.layout.clone() })
    }
}
