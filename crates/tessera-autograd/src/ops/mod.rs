//! The op API of [`Var`](crate::Var), mirroring `Tensor`'s method names, with a backward rule
//! for each differentiable op. Shared helpers for the rules live here.

mod attention;
mod batch_norm;
mod binary;
mod concat;
mod conv;
mod dropout;
mod index;
mod matmul;
mod norm;
mod pooling;
mod reduce;
mod shape;
mod unary;

use crate::{BackwardCtx, Result};
use tessera_tensor::{Shape, Tensor};

/// A 0-dim tensor holding `value` with `like`'s dtype and device (broadcasts in binary ops).
pub(crate) fn scalar_like(value: f64, like: &Tensor) -> Result<Tensor> {
    Ok(Tensor::scalar(value, like.dtype(), like.device())?)
}

/// Sums a broadcast gradient back to `shape`, the shape of the input that was broadcast: over the
/// leading dims it lacked and the dims where it had size 1. Returns `grad` itself when nothing was
/// broadcast.
pub(crate) fn sum_to_shape(grad: &Tensor, shape: &Shape) -> Result<Tensor> {
    if grad.shape() == shape {
        return Ok(grad.clone());
    }
    let lead = grad.rank().saturating_sub(shape.rank());
    let mut dims: Vec<isize> = (0..lead as isize).collect();
    for (i, &d) in shape.dims().iter().enumerate() {
        if d == 1 && grad.dims()[lead + i] != 1 {
            dims.push((lead + i) as isize);
        }
    }
    let summed = if dims.is_empty() { grad.clone() } else { grad.sum(&dims, true)? };
    Ok(summed.reshape(shape.clone())?)
}

/// The dims a reduction over `dims` covers, resolved and sorted (empty: every dim).
pub(crate) fn reduced_dims(x: &Tensor, dims: &[isize], op: &'static str) -> Result<Vec<usize>> {
    if dims.is_empty() {
        return Ok((0..x.rank()).collect());
    }
    Ok(x.shape().dims_sorted(dims, op).map_err(tessera_tensor::Error::from)?)
}

/// Brings the gradient of a reduction over `dims` (sorted) back to the input's shape: re-inserts
/// the reduced dims when they were dropped, then broadcasts (a view, no copy).
pub(crate) fn unreduce(grad: &Tensor, x_shape: &Shape, dims: &[usize], keepdim: bool) -> Result<Tensor> {
    let mut g = grad.clone();
    if !keepdim {
        for &d in dims {
            g = g.unsqueeze(d as isize)?;
        }
    }
    Ok(g.expand(x_shape.clone())?)
}

/// The number of elements a reduction over `dims` combines.
pub(crate) fn reduced_count(x: &Shape, dims: &[usize]) -> usize {
    dims.iter().map(|&d| x.dims()[d]).product()
}

/// Zeros with the shape, dtype and device of input `i` of a rule, as one zero broadcast (a view):
/// the base of a scatter, which fills its output from it once instead of copying a zeroed table.
pub(crate) fn zeros_of_input(c: &BackwardCtx<'_>, i: usize) -> Result<Tensor> {
    Ok(Tensor::zeros([], c.input_dtype(i), c.input_device(i))?.expand(c.input_shape(i).clone())?)
}
