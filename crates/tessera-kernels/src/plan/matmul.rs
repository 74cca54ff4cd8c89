//! Plans of matrix products: `matmul` and `matmul_bias`.

use super::{require_float, require_same_dtype, Arg};
use crate::Result;
use tessera_core::{broadcast_shapes, saturating_product, DType, Error, Layout, Shape};

/// The dims of a (batched) product `[..., m, k] x [..., k, n]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatmulShape {
    /// The broadcast batch dims.
    pub batch: Vec<usize>,
    /// Rows of the left operand.
    pub m: usize,
    /// Inner dim.
    pub k: usize,
    /// Columns of the right operand.
    pub n: usize,
}

impl MatmulShape {
    /// Checks two layouts (rank >= 2 each, inner dims equal, batch dims broadcastable) and
    /// derives the product's dims; errors name `op`.
    pub fn new(op: &'static str, ll: &Layout, rl: &Layout) -> Result<Self> {
        let (ld, rd) = (ll.dims(), rl.dims());
        if ld.len() < 2 || rd.len() < 2 || ld[ld.len() - 1] != rd[rd.len() - 2] {
            return Err(Error::ShapeMismatch { op, lhs: ll.shape().clone(), rhs: rl.shape().clone() }.into());
        }
        let lb = Shape::from(&ld[..ld.len() - 2]);
        let rb = Shape::from(&rd[..rd.len() - 2]);
        let batch = broadcast_shapes(&lb, &rb, op).map_err(|_| Error::BroadcastIncompatible {
            op,
            lhs: ll.shape().clone(),
            rhs: rl.shape().clone(),
        })?;
        Ok(MatmulShape { batch: batch.into_dims(), m: ld[ld.len() - 2], k: ld[ld.len() - 1], n: rd[rd.len() - 1] })
    }

    /// The shape of the product.
    pub fn out_shape(&self) -> Shape {
        let mut dims = self.batch.clone();
        dims.extend([self.m, self.n]);
        Shape::new(dims)
    }

    /// The number of elements of the product (saturating at `usize::MAX`).
    pub fn out_elem_count(&self) -> usize {
        self.count().saturating_mul(self.m).saturating_mul(self.n)
    }

    /// The number of matrices in the batch (saturating, so that batch dims whose product
    /// overflows but include a 0 count 0, and others at least as many as can exist).
    pub fn count(&self) -> usize {
        saturating_product(self.batch.iter().copied())
    }
}

/// A checked `lhs @ rhs` (+ `bias` `[n]` added to every row): one float dtype, compatible shapes.
#[derive(Debug, Clone, PartialEq)]
pub struct MatmulPlan {
    /// The product's dims.
    pub shape: MatmulShape,
    /// The dtype of operands and output.
    pub dtype: DType,
    /// The left operand's view.
    pub lhs: Layout,
    /// The right operand's view.
    pub rhs: Layout,
    /// The bias's view, for `matmul_bias`.
    pub bias: Option<Layout>,
}

impl MatmulPlan {
    /// Checks `lhs @ rhs`, and `+ bias` when given (then the op is `matmul_bias`).
    pub fn new(lhs: Arg<'_>, rhs: Arg<'_>, bias: Option<Arg<'_>>) -> Result<Self> {
        let op = if bias.is_some() { "matmul_bias" } else { "matmul" };
        let dtypes: Vec<DType> = [Some(lhs), Some(rhs), bias].iter().flatten().map(|a| a.dtype).collect();
        require_same_dtype(op, &dtypes)?;
        let shape = MatmulShape::new(op, lhs.layout, rhs.layout)?;
        if let Some(b) = bias {
            if b.layout.dims() != [shape.n] {
                return Err(Error::ShapeMismatch { op, lhs: shape.out_shape(), rhs: b.layout.shape().clone() }.into());
            }
        }
        require_float(op, lhs.dtype)?;
        Ok(MatmulPlan {
            shape,
            dtype: lhs.dtype,
            lhs: lhs.layout.clone(),
            rhs: rhs.layout.clone(),
            bias: bias.map(|b| b.layout.clone()),
        })
    }

    /// The shape of the product.
    pub fn out_shape(&self) -> Shape {
        self.shape.out_shape()
    }
}
