//! Strided layouts and the pure view transforms on them.

use crate::{Error, Result, Shape, StridedBlocks, StridedIndex};

/// Where a tensor's elements live in its buffer: element `i` (a multi-index) sits at
/// `offset + sum(i[d] * strides[d])`. Strides are in elements; a stride of 0 repeats data
/// (broadcasting, `expand`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Layout {
    shape: Shape,
    strides: Vec<usize>,
    offset: usize,
}

impl Layout {
    /// A row-major contiguous layout starting at element 0.
    pub fn contiguous(shape: impl Into<Shape>) -> Self {
        let shape = shape.into();
        let strides = shape.contiguous_strides();
        Layout { shape, strides, offset: 0 }
    }

    /// A layout from its parts. The caller guarantees the buffer is large enough.
    pub fn new(shape: Shape, strides: Vec<usize>, offset: usize) -> Result<Self> {
        if strides.len() != shape.rank() {
            return Err(Error::InvalidArgument {
                op: "layout",
                msg: format!("{} strides given for shape {shape}", strides.len()),
            });
        }
        Ok(Layout { shape, strides, offset })
    }

    /// The shape.
    pub fn shape(&self) -> &Shape {
        &self.shape
    }

    /// The dims of the shape.
    pub fn dims(&self) -> &[usize] {
        self.shape.dims()
    }

    /// The strides, in elements.
    pub fn strides(&self) -> &[usize] {
        &self.strides
    }

    /// Offset of the first element, in elements.
    pub fn offset(&self) -> usize {
        self.offset
    }

    /// Number of dims.
    pub fn rank(&self) -> usize {
        self.shape.rank()
    }

    /// Number of elements.
    pub fn elem_count(&self) -> usize {
        self.shape.elem_count()
    }

    /// Whether the elements are laid out row-major without gaps (strides of size-1 dims ignored).
    pub fn is_contiguous(&self) -> bool {
        if self.elem_count() == 0 {
            return true;
        }
        let mut expected = 1;
        for (&d, &s) in self.dims().iter().zip(&self.strides).rev() {
            if d != 1 && s != expected {
                return false;
            }
            expected *= d;
        }
        true
    }

    /// The buffer range `start..end` when the layout is contiguous (`0..0` when it is empty).
    pub fn contiguous_range(&self) -> Option<(usize, usize)> {
        if self.elem_count() == 0 {
            return Some((0, 0));
        }
        self.is_contiguous().then(|| (self.offset, self.offset + self.elem_count()))
    }

    /// One past the largest buffer index this layout touches (0 for an empty layout).
    pub fn required_len(&self) -> usize {
        if self.elem_count() == 0 {
            return 0;
        }
        self.offset + self.dims().iter().zip(&self.strides).map(|(&d, &s)| (d - 1) * s).sum::<usize>() + 1
    }

    /// Swaps two dims.
    pub fn transpose(&self, d0: usize, d1: usize) -> Result<Layout> {
        self.check_dim(d0, "transpose")?;
        self.check_dim(d1, "transpose")?;
        let mut l = self.clone();
        l.shape = {
            let mut dims = self.dims().to_vec();
            dims.swap(d0, d1);
            Shape::new(dims)
        };
        l.strides.swap(d0, d1);
        Ok(l)
    }

    /// Reorders dims: dim `i` of the result is dim `perm[i]` of `self`.
    pub fn permute(&self, perm: &[usize]) -> Result<Layout> {
        let rank = self.rank();
        let mut seen = vec![false; rank];
        if perm.len() != rank {
            return Err(Error::InvalidArgument {
                op: "permute",
                msg: format!("{perm:?} is not a permutation of the {rank} dims of {}", self.shape),
            });
        }
        for &p in perm {
            if p >= rank || seen[p] {
                return Err(Error::InvalidArgument {
                    op: "permute",
                    msg: format!("{perm:?} is not a permutation of the {rank} dims of {}", self.shape),
                });
            }
            seen[p] = true;
        }
        Ok(Layout {
            shape: Shape::new(perm.iter().map(|&p| self.dims()[p]).collect()),
            strides: perm.iter().map(|&p| self.strides[p]).collect(),
            offset: self.offset,
        })
    }

    /// Keeps `len` elements of `dim` starting at `start`.
    pub fn narrow(&self, dim: usize, start: usize, len: usize) -> Result<Layout> {
        self.check_dim(dim, "narrow")?;
        let size = self.dims()[dim];
        if start.checked_add(len).is_none_or(|end| end > size) {
            return Err(Error::NarrowOutOfRange {
                op: "narrow",
                dim,
                start,
                end: start.saturating_add(len),
                shape: self.shape.clone(),
            });
        }
        let mut dims = self.dims().to_vec();
        dims[dim] = len;
        Ok(Layout {
            // An empty view keeps its offset: in an empty layout (a [0, 2^33, 2^40] tensor) the
            // start's distance may not fit a usize, and nothing is read from there.
            offset: if len == 0 || self.elem_count() == 0 {
                self.offset
            } else {
                self.offset + start * self.strides[dim]
            },
            shape: Shape::new(dims),
            strides: self.strides.clone(),
        })
    }

    /// Views the same elements (in row-major order) with another shape, when the strides allow it
    /// without a copy. `Ok(None)` means a copy is needed; a different element count is an error.
    pub fn reshape(&self, to: &Shape) -> Result<Option<Layout>> {
        let to = &crate::shape::countable_view(to.clone(), "reshape")?;
        if to.elem_count() != self.elem_count() {
            return Err(Error::ElementCountMismatch {
                op: "reshape",
                from: self.shape.clone(),
                from_count: self.elem_count(),
                to: to.clone(),
                to_count: to.elem_count(),
            });
        }
        if self.is_contiguous() {
            let mut l = Layout::contiguous(to.clone());
            l.offset = self.offset;
            return Ok(Some(l));
        }
        Ok(self.view_strides(to).map(|strides| Layout { shape: to.clone(), strides, offset: self.offset }))
    }

    /// Strides for viewing a non-contiguous layout as `to`: possible when each group of old dims
    /// that merges into (or splits from) new dims is itself contiguous.
    fn view_strides(&self, to: &Shape) -> Option<Vec<usize>> {
        // Drop size-1 dims from the source: their strides do not matter.
        let src: Vec<(usize, usize)> =
            self.dims().iter().zip(&self.strides).filter(|(&d, _)| d != 1).map(|(&d, &s)| (d, s)).collect();
        let tgt = to.dims();
        let mut strides = vec![0; tgt.len()];
        let (mut si, mut ti) = (0, 0);
        while ti < tgt.len() {
            if tgt[ti] == 1 {
                strides[ti] = 1;
                ti += 1;
                continue;
            }
            // Gather a chunk of source dims that is contiguous within itself.
            let &(first_dim, _) = src.get(si)?;
            let mut chunk_size = first_dim;
            let mut sj = si;
            let mut tj = ti;
            let mut tgt_size = tgt[ti];
            while chunk_size != tgt_size {
                if chunk_size < tgt_size {
                    sj += 1;
                    let &(d, s) = src.get(sj)?;
                    if src[sj - 1].1 != d * s {
                        return None;
                    }
                    chunk_size *= d;
                } else {
                    tj += 1;
                    tgt_size *= *tgt.get(tj)?;
                }
            }
            // Assign strides to target dims ti..=tj from the innermost source stride.
            let mut stride = src[sj].1;
            for k in (ti..=tj).rev() {
                strides[k] = stride;
                stride *= tgt[k];
            }
            si = sj + 1;
            ti = tj + 1;
        }
        (si == src.len()).then_some(strides)
    }

    /// Removes `dim` if its size is 1; otherwise returns the layout unchanged (as PyTorch does).
    pub fn squeeze(&self, dim: usize) -> Result<Layout> {
        self.check_dim(dim, "squeeze")?;
        if self.dims()[dim] != 1 {
            return Ok(self.clone());
        }
        let mut dims = self.dims().to_vec();
        let mut strides = self.strides.clone();
        dims.remove(dim);
        strides.remove(dim);
        Ok(Layout { shape: Shape::new(dims), strides, offset: self.offset })
    }

    /// Inserts a dim of size 1 at position `dim` (`0..=rank`).
    pub fn unsqueeze(&self, dim: usize) -> Result<Layout> {
        if dim > self.rank() {
            return Err(Error::DimOutOfRange { op: "unsqueeze", dim: dim as isize, shape: self.shape.clone() });
        }
        let mut dims = self.dims().to_vec();
        let mut strides = self.strides.clone();
        // Saturating: only an empty layout's strides and sizes multiply past a usize, and the new
        // dim has size 1, so its stride is never stepped along.
        let stride = if dim < self.rank() { self.strides[dim].saturating_mul(self.dims()[dim]) } else { 1 };
        dims.insert(dim, 1);
        strides.insert(dim, stride);
        Ok(Layout { shape: Shape::new(dims), strides, offset: self.offset })
    }

    /// Broadcasts to `target` (NumPy rules: align right, size-1 dims repeat with stride 0, new
    /// leading dims are added). This is PyTorch's `expand`.
    pub fn broadcast_as(&self, target: &Shape) -> Result<Layout> {
        let rank = target.rank();
        if rank < self.rank() {
            return Err(Error::BroadcastIncompatible {
                op: "broadcast_as",
                lhs: self.shape.clone(),
                rhs: target.clone(),
            });
        }
        let lead = rank - self.rank();
        let mut strides = vec![0; rank];
        for (i, &t) in target.dims().iter().enumerate().skip(lead) {
            let (d, s) = (self.dims()[i - lead], self.strides[i - lead]);
            strides[i] = if d == t {
                s
            } else if d == 1 {
                0
            } else {
                return Err(Error::BroadcastIncompatible {
                    op: "broadcast_as",
                    lhs: self.shape.clone(),
                    rhs: target.clone(),
                });
            };
        }
        let shape = crate::shape::countable_view(target.clone(), "broadcast_as")?;
        Ok(Layout { shape, strides, offset: self.offset })
    }

    /// Buffer offsets of every element, in row-major order.
    pub fn offsets(&self) -> StridedIndex {
        StridedIndex::new(self)
    }

    /// The elements as runs of consecutive buffer positions `(start, len)`, in row-major order.
    pub fn blocks(&self) -> StridedBlocks {
        StridedBlocks::new(self)
    }

    fn check_dim(&self, dim: usize, op: &'static str) -> Result<()> {
        if dim >= self.rank() {
            return Err(Error::DimOutOfRange { op, dim: dim as isize, shape: self.shape.clone() });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn offsets(l: &Layout) -> Vec<usize> {
        l.offsets().collect()
    }

    #[test]
    fn transpose_and_narrow_views() {
        let l = Layout::contiguous([2, 3]);
        let t = l.transpose(0, 1).unwrap();
        assert_eq!(offsets(&t), vec![0, 3, 1, 4, 2, 5]);
        let n = l.narrow(1, 1, 2).unwrap();
        assert_eq!(offsets(&n), vec![1, 2, 4, 5]);
        assert!(matches!(l.narrow(1, 2, 2), Err(Error::NarrowOutOfRange { .. })));
    }

    #[test]
    fn reshape_views_or_asks_for_a_copy() {
        let l = Layout::contiguous([2, 3, 4]);
        // Narrowing the outer dim keeps inner dims mergeable.
        let n = l.narrow(0, 1, 1).unwrap();
        let r = n.reshape(&Shape::from([12])).unwrap().unwrap();
        assert_eq!(offsets(&r), (12..24).collect::<Vec<_>>());
        // A transpose cannot be flattened without a copy.
        let t = l.transpose(1, 2).unwrap();
        assert_eq!(t.reshape(&Shape::from([24])).unwrap(), None);
        // ... but splitting its untouched outer dim works.
        let s = t.reshape(&Shape::from([1, 2, 4, 3])).unwrap().unwrap();
        assert_eq!(offsets(&s), offsets(&t));
        assert!(matches!(l.reshape(&Shape::from([5])), Err(Error::ElementCountMismatch { .. })));
    }

    #[test]
    fn broadcast_uses_zero_strides() {
        let l = Layout::contiguous([3, 1]);
        let b = l.broadcast_as(&Shape::from([2, 3, 2])).unwrap();
        assert_eq!(b.strides(), &[0, 1, 0]);
        assert_eq!(offsets(&b), vec![0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2]);
        assert!(l.broadcast_as(&Shape::from([3, 2, 4])).is_err());
    }

    #[test]
    fn squeeze_unsqueeze_round_trip() {
        let l = Layout::contiguous([2, 3]);
        let u = l.unsqueeze(1).unwrap();
        assert_eq!(u.dims(), &[2, 1, 3]);
        assert_eq!(u.squeeze(1).unwrap(), l);
        assert_eq!(l.squeeze(0).unwrap(), l);
        assert!(u.is_contiguous());
    }
}
