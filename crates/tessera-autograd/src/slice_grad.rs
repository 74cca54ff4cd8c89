//! Gradients of slices of a computed value (`narrow`, and `split` and `chunk` through it), kept as
//! pieces until the value's own rule runs, then joined in one pass. A value split three ways (a
//! fused query-key-value projection) gets its gradient from one `cat`, where padding each piece
//! with zeros to the whole and adding would write the whole three times and add it twice.

use crate::graph::GradSlot;
use crate::ops::scalar_like;
use crate::{Error, Result};
use tessera_tensor::{Shape, Tensor};

/// Where a view lies in its one input: entries `start..` of dim `dim`. Backward places the
/// gradient of an op recorded with one straight into its input's (see [`accumulate_piece`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Slice {
    pub(crate) dim: usize,
    pub(crate) start: usize,
}

/// A slice's gradient waiting in its input's slot.
pub(crate) struct GradPiece {
    slice: Slice,
    grad: Tensor,
}

impl Slice {
    /// `grad`, this slice's gradient, with zeros around it: the gradient of the input, `shape`.
    pub(crate) fn place(self, shape: &Shape, grad: &Tensor) -> Result<Tensor> {
        join(shape, self.dim, &[(self.start, grad)])
    }
}

/// `pieces` (start, gradient) along `dim`, in order and not overlapping, with zeros between and
/// around them: one tensor of `shape`, or the one piece itself where it covers the whole.
fn join(shape: &Shape, dim: usize, pieces: &[(usize, &Tensor)]) -> Result<Tensor> {
    let zeros = |like: &Tensor, n: usize| -> Result<Tensor> {
        let mut dims = shape.dims().to_vec();
        dims[dim] = n;
        Ok(scalar_like(0.0, like)?.expand(dims)?)
    };
    let (mut parts, mut at) = (Vec::with_capacity(2 * pieces.len() + 1), 0);
    for &(start, grad) in pieces {
        if start > at {
            parts.push(zeros(grad, start - at)?);
        }
        parts.push(grad.clone());
        at = start + grad.dims()[dim];
    }
    if let (Some(&(_, like)), true) = (pieces.first(), at < shape.dims()[dim]) {
        parts.push(zeros(like, shape.dims()[dim] - at)?);
    }
    Ok(match parts.as_slice() {
        [whole] => whole.clone(),
        _ => Tensor::cat(&parts, dim as isize)?,
    })
}

/// Adds `grad`, the gradient of `slice` of `slot`'s value, to `slot`'s gradient, as a piece that
/// [`take_grad`] joins.
pub(crate) fn accumulate_piece(slot: &GradSlot, slice: Slice, grad: Tensor, op: &'static str) -> Result<()> {
    let full = slot.shape.dims();
    let fits = grad.rank() == full.len()
        && slice.dim < full.len()
        && slice.start + grad.dims()[slice.dim] <= full[slice.dim]
        && (0..full.len()).all(|d| d == slice.dim || grad.dims()[d] == full[d]);
    if !fits {
        return Err(Error::GradShapeMismatch { op, expected: slot.shape.clone(), got: grad.shape().clone() });
    }
    let grad = if grad.dtype() == slot.dtype { grad } else { grad.to_dtype(slot.dtype)? };
    slot.pieces().push(GradPiece { slice, grad });
    Ok(())
}

/// Takes `slot`'s gradient: the sum of the whole gradients it was given plus its pieces. One run
/// of pieces along one dim that do not overlap is joined in a single `cat`; any other piece
/// (overlapping it, or along another dim) is padded alone and added.
pub(crate) fn take_grad(slot: &GradSlot) -> Result<Option<Tensor>> {
    let whole = slot.grad_slot().take();
    let mut pieces = std::mem::take(&mut *slot.pieces());
    let Some(dim) = pieces.first().map(|p| p.slice.dim) else { return Ok(whole) };
    pieces.sort_by_key(|p| (p.slice.dim != dim, p.slice.start));
    let (mut run, mut rest, mut end) = (Vec::new(), Vec::new(), 0);
    for p in &pieces {
        if p.slice.dim == dim && p.slice.start >= end {
            end = p.slice.start + p.grad.dims()[dim];
            run.push((p.slice.start, &p.grad));
        } else {
            rest.push(p);
        }
    }
    let mut total = join(&slot.shape, dim, &run)?;
    for p in rest {
        total = total.add(&p.slice.place(&slot.shape, &p.grad)?)?;
    }
    Ok(Some(match whole {
        Some(w) => w.add(&total)?,
        None => total,
    }))
}

#[cfg(test)]
mod tests {
    use crate::Var;
    use tessera_tensor::{Device, Tensor};

    /// `[rows, cols]` values `seed + 0.1 i`.
    fn values(rows: usize, cols: usize, seed: f64) -> Tensor {
        let v: Vec<f64> = (0..rows * cols).map(|i| seed + 0.1 * i as f64).collect();
        Tensor::from_vec(v, [rows, cols], &Device::Cpu).unwrap()
    }

    /// The gradient of `x` through slices of `2 x` (a computed value) against the sum of each
    /// slice's weights at its place: slices that tile a dim, one overlapping them, one along the
    /// other dim, one covering everything, and a use of the whole value beside them.
    #[test]
    fn slices_of_a_computed_value_sum_their_gradients_at_their_places() {
        let (rows, cols) = (3, 5);
        let x = Var::param(values(rows, cols, 1.0)).unwrap();
        let y = x.scale(2.0).unwrap();
        // (dim, start, len)
        let slices = [(1, 0, 2), (1, 2, 3), (1, 1, 2), (0, 1, 2), (1, 0, 5)];
        let mut expected = vec![0f64; rows * cols];
        let mut loss = y.mul(&Var::constant(values(rows, cols, 0.5))).unwrap().sum_all().unwrap();
        for (i, &(dim, start, len)) in slices.iter().enumerate() {
            let piece = y.narrow(dim, start, len).unwrap();
            let dims = piece.dims().to_vec();
            let w = values(dims[0], dims[1], i as f64 - 2.0);
            loss = loss.add(&piece.mul(&Var::constant(w.clone())).unwrap().sum_all().unwrap()).unwrap();
            let w = w.to_vec::<f64>().unwrap();
            for r in 0..dims[0] {
                for c in 0..dims[1] {
                    let (rr, cc) = if dim == 0 { (r + start, c) } else { (r, c + start) };
                    expected[rr * cols + cc] += 2.0 * w[r * dims[1] + c];
                }
            }
        }
        for (e, w) in expected.iter_mut().zip(values(rows, cols, 0.5).to_vec::<f64>().unwrap()) {
            *e += 2.0 * w;
        }
        loss.backward().unwrap();
        let got = x.grad().unwrap().to_vec::<f64>().unwrap();
        for (g, e) in got.iter().zip(&expected) {
            assert!((g - e).abs() < 1e-12, "{got:?} against {expected:?}");
        }
    }

    /// A value split three ways, each piece weighted differently: each part of its gradient is
    /// its own piece's.
    #[test]
    fn a_split_of_a_computed_value_backs_through_its_pieces() {
        let x = Var::param(values(2, 6, 0.0)).unwrap();
        let parts = x.exp().unwrap().split(2, 1).unwrap();
        let loss = parts
            .iter()
            .enumerate()
            .fold(Var::constant(Tensor::from_vec(vec![0f64], [], &Device::Cpu).unwrap()), |acc, (i, p)| {
                acc.add(&p.scale(i as f64 + 1.0).unwrap().sum_all().unwrap()).unwrap()
            });
        loss.backward().unwrap();
        let xs = values(2, 6, 0.0).to_vec::<f64>().unwrap();
        let got = x.grad().unwrap().to_vec::<f64>().unwrap();
        for (i, (g, v)) in got.iter().zip(xs).enumerate() {
            let e = v.exp() * ((i % 6) / 2 + 1) as f64;
            assert!((g - e).abs() < 1e-12 * e.abs().max(1.0), "element {i}: {g} against {e}");
        }
    }
}
