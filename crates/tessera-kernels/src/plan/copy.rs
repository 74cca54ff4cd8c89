//! Plans of copies: concatenation.

use super::{require_same_dtype, Arg};
use crate::Result;
use tessera_core::{saturating_product, DType, Error, Layout, Shape};

/// A checked concatenation along a dim: inputs of one dtype and rank that agree on every other
/// dim.
#[derive(Debug, Clone, PartialEq)]
pub struct CatPlan {
    /// The dim joined along.
    pub dim: usize,
    /// The dtype of inputs and output.
    pub dtype: DType,
    /// The inputs' views, in order.
    pub inputs: Vec<Layout>,
    /// The output's shape.
    pub out_shape: Shape,
}

impl CatPlan {
    /// Checks the concatenation of `inputs` along `dim` (negative counts from the end).
    pub fn new(inputs: &[Arg<'_>], dim: isize) -> Result<Self> {
        let Some(first) = inputs.first() else {
            return Err(Error::InvalidArgument { op: "cat", msg: "no tensors given".into() }.into());
        };
        let dim = super::resolve_dim("cat", first.layout, dim)?;
        require_same_dtype("cat", &inputs.iter().map(|a| a.dtype).collect::<Vec<_>>())?;
        let rank = first.layout.rank();
        let mut dims = first.layout.dims().to_vec();
        dims[dim] = 0;
        for a in inputs {
            let l = a.layout;
            if l.rank() != rank || (0..rank).any(|d| d != dim && l.dims()[d] != first.layout.dims()[d]) {
                let (lhs, rhs) = (first.layout.shape().clone(), l.shape().clone());
                return Err(Error::ShapeMismatch { op: "cat", lhs, rhs }.into());
            }
            dims[dim] = dims[dim].checked_add(l.dims()[dim]).ok_or_else(|| Error::InvalidArgument {
                op: "cat",
                msg: format!("the sizes of dim {dim} add up to more than a usize holds"),
            })?;
        }
        let out_shape = Shape::new(dims);
        out_shape.countable("cat", first.dtype)?;
        Ok(CatPlan { dim, dtype: first.dtype, inputs: inputs.iter().map(|a| a.layout.clone()).collect(), out_shape })
    }

    /// Elements below `dim` in the output (saturating, as an empty output's dims may multiply
    /// past a usize).
    pub fn inner(&self) -> usize {
        saturating_product(self.out_shape.dims()[self.dim + 1..].iter().copied())
    }
}
