//! Shapes and the broadcasting rule.

use crate::{DType, Error, Result};
use std::fmt;

/// The size of each dimension of a tensor. A scalar has the empty shape `[]`.
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct Shape(Vec<usize>);

impl Shape {
    /// The shape with these dims.
    pub fn new(dims: Vec<usize>) -> Self {
        Shape(dims)
    }

    /// The scalar shape `[]`.
    pub fn scalar() -> Self {
        Shape(Vec::new())
    }

    /// The dims as a slice.
    pub fn dims(&self) -> &[usize] {
        &self.0
    }

    /// Number of dims.
    pub fn rank(&self) -> usize {
        self.0.len()
    }

    /// Number of elements (1 for a scalar, 0 when any dim is 0). A count past `usize::MAX`
    /// reads as `usize::MAX`, never wrapped round to a small one; the shapes tensors are made
    /// with are checked by [`Shape::countable`] first.
    pub fn elem_count(&self) -> usize {
        saturating_product(self.0.iter().copied())
    }

    /// Number of elements, or `None` when it does not fit in a `usize`.
    pub fn checked_elem_count(&self) -> Option<usize> {
        if self.0.contains(&0) {
            return Some(0);
        }
        self.0.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
    }

    /// Checks that the elements of this shape can be counted and, as `dtype`, held in one buffer
    /// (at most `isize::MAX` bytes); `op` names the operation in the error.
    pub fn countable(&self, op: &'static str, dtype: DType) -> Result<usize> {
        let count = self.checked_elem_count();
        match count.filter(|n| n.checked_mul(dtype.size_in_bytes()).is_some_and(|b| b <= isize::MAX as usize)) {
            Some(n) => Ok(n),
            None => Err(Error::InvalidArgument {
                op,
                msg: format!("shape {self} has more {dtype} elements than any buffer can hold"),
            }),
        }
    }

    /// Row-major (C order) strides of a contiguous tensor of this shape. They saturate: only an
    /// empty shape has dims whose product passes a usize (`[0, 2^33, 2^40]`), and the saturated
    /// stride is then of a dim no index can step along.
    pub fn contiguous_strides(&self) -> Vec<usize> {
        let mut strides = vec![0; self.0.len()];
        let mut acc = 1usize;
        for (s, &d) in strides.iter_mut().zip(&self.0).rev() {
            *s = acc;
            acc = acc.saturating_mul(d.max(1));
        }
        strides
    }

    /// Resolves a possibly negative dim (`-1` is the last) against this shape's rank.
    pub fn dim(&self, dim: isize, op: &'static str) -> Result<usize> {
        resolve_dim(dim, self.rank(), self, op)
    }

    /// Resolves a dim for inserting a new axis, where `rank` itself is valid (`unsqueeze`).
    pub fn dim_for_insert(&self, dim: isize, op: &'static str) -> Result<usize> {
        resolve_dim(dim, self.rank() + 1, self, op)
    }

    /// Resolves a list of dims, rejecting duplicates; the result is sorted.
    pub fn dims_sorted(&self, dims: &[isize], op: &'static str) -> Result<Vec<usize>> {
        let mut out = dims.iter().map(|&d| self.dim(d, op)).collect::<Result<Vec<_>>>()?;
        out.sort_unstable();
        if let Some(w) = out.windows(2).find(|w| w[0] == w[1]) {
            return Err(Error::DuplicateDim { op, dim: w[0] });
        }
        Ok(out)
    }

    /// The dims as a vector.
    pub fn into_dims(self) -> Vec<usize> {
        self.0
    }
}

fn resolve_dim(dim: isize, bound: usize, shape: &Shape, op: &'static str) -> Result<usize> {
    let resolved = if dim < 0 { dim + bound as isize } else { dim };
    if resolved < 0 || resolved as usize >= bound {
        return Err(Error::DimOutOfRange { op, dim, shape: shape.clone() });
    }
    Ok(resolved as usize)
}

/// The shape two shapes broadcast to under NumPy/PyTorch rules: align from the right; each pair of
/// dims must be equal or one of them 1.
pub fn broadcast_shapes(lhs: &Shape, rhs: &Shape, op: &'static str) -> Result<Shape> {
    let rank = lhs.rank().max(rhs.rank());
    let mut dims = vec![0; rank];
    for i in 0..rank {
        let l = dim_from_right(lhs, rank - 1 - i);
        let r = dim_from_right(rhs, rank - 1 - i);
        dims[i] = match (l, r) {
            (a, b) if a == b => a,
            (1, b) => b,
            (a, 1) => a,
            _ => return Err(Error::BroadcastIncompatible { op, lhs: lhs.clone(), rhs: rhs.clone() }),
        };
    }
    countable_view(Shape(dims), op)
}

/// The product of `dims`, `usize::MAX` when it does not fit, 0 when one of them is 0 (however
/// large the others): the element count of a shape, or of some of its dims. An empty tensor's
/// other dims may multiply past a usize, and such a count is never walked.
pub fn saturating_product(dims: impl IntoIterator<Item = usize>) -> usize {
    dims.into_iter().fold(1usize, |a, d| a.saturating_mul(d))
}

/// `shape`, unless its elements cannot be counted in a `usize` (a broadcast or an expansion of
/// dims that are each fine).
pub(crate) fn countable_view(shape: Shape, op: &'static str) -> Result<Shape> {
    match shape.checked_elem_count() {
        Some(_) => Ok(shape),
        None => Err(Error::InvalidArgument { op, msg: format!("shape {shape} has more elements than can be counted") }),
    }
}

fn dim_from_right(s: &Shape, k: usize) -> usize {
    if k < s.rank() {
        s.0[s.rank() - 1 - k]
    } else {
        1
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{self}")
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{d}")?;
        }
        write!(f, "]")
    }
}

impl From<Vec<usize>> for Shape {
    fn from(v: Vec<usize>) -> Self {
        Shape(v)
    }
}

impl From<&[usize]> for Shape {
    fn from(v: &[usize]) -> Self {
        Shape(v.to_vec())
    }
}

impl<const N: usize> From<[usize; N]> for Shape {
    fn from(v: [usize; N]) -> Self {
        Shape(v.to_vec())
    }
}

impl From<&Shape> for Shape {
    fn from(s: &Shape) -> Self {
        s.clone()
    }
}

impl From<()> for Shape {
    fn from(_: ()) -> Self {
        Shape::scalar()
    }
}

impl From<usize> for Shape {
    fn from(d: usize) -> Self {
        Shape(vec![d])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn element_counts_never_wrap() {
        let s = |d: &[usize]| Shape::from(d);
        let huge = 1usize << 33;
        assert_eq!(s(&[huge, huge]).checked_elem_count(), None);
        assert_eq!(s(&[huge, huge]).elem_count(), usize::MAX);
        assert_eq!(s(&[huge, huge, 0]).checked_elem_count(), Some(0), "a zero dim anywhere counts none");
        assert_eq!(s(&[]).checked_elem_count(), Some(1));
        assert_eq!(s(&[3, 4]).countable("t", DType::F32).unwrap(), 12);
        let err = s(&[usize::MAX / 2]).countable("t", DType::F64).unwrap_err().to_string();
        assert_eq!(err, format!("t: shape [{}] has more f64 elements than any buffer can hold", usize::MAX / 2));
    }

    #[test]
    fn broadcasting_follows_numpy() {
        let s = |d: &[usize]| Shape::from(d);
        assert_eq!(broadcast_shapes(&s(&[3, 1, 5]), &s(&[4, 5]), "t").unwrap(), s(&[3, 4, 5]));
        assert_eq!(broadcast_shapes(&s(&[]), &s(&[2]), "t").unwrap(), s(&[2]));
        assert_eq!(broadcast_shapes(&s(&[0]), &s(&[1]), "t").unwrap(), s(&[0]));
        let err = broadcast_shapes(&s(&[3]), &s(&[4]), "add").unwrap_err();
        assert_eq!(err.to_string(), "add: shapes [3] and [4] cannot be broadcast together");
    }

    #[test]
    fn negative_dims_resolve() {
        let s = Shape::from([2, 3, 4]);
        assert_eq!(s.dim(-1, "t").unwrap(), 2);
        assert!(matches!(s.dim(3, "t"), Err(Error::DimOutOfRange { .. })));
        assert!(matches!(s.dims_sorted(&[0, -3], "t"), Err(Error::DuplicateDim { dim: 0, .. })));
    }

    #[test]
    fn strides_handle_zero_sized_dims() {
        assert_eq!(Shape::from([2, 0, 3]).contiguous_strides(), vec![3, 3, 1]);
        assert_eq!(Shape::from([2, 0, 3]).elem_count(), 0);
    }
}
