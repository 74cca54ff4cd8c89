//! Iteration over the buffer positions of a strided layout.

use crate::Layout;

/// The buffer offset of each element of a layout, in row-major order.
#[derive(Debug, Clone)]
pub struct StridedIndex {
    next: Option<usize>,
    index: Vec<usize>,
    dims: Vec<usize>,
    strides: Vec<usize>,
}

impl StridedIndex {
    /// Iterates over `layout`.
    pub fn new(layout: &Layout) -> Self {
        StridedIndex {
            next: (layout.elem_count() > 0).then_some(layout.offset()),
            index: vec![0; layout.rank()],
            dims: layout.dims().to_vec(),
            strides: layout.strides().to_vec(),
        }
    }
}

impl Iterator for StridedIndex {
    type Item = usize;

    #[inline]
    fn next(&mut self) -> Option<usize> {
        let current = self.next?;
        let mut offset = current;
        let mut d = self.dims.len();
        loop {
            if d == 0 {
                self.next = None;
                break;
            }
            d -= 1;
            self.index[d] += 1;
            offset += self.strides[d];
            if self.index[d] < self.dims[d] {
                self.next = Some(offset);
                break;
            }
            offset -= self.strides[d] * self.index[d];
            self.index[d] = 0;
        }
        Some(current)
    }
}

/// A layout as runs of consecutive buffer positions: `(start, len)` pairs in row-major order.
///
/// The run length is the product of the trailing dims that are contiguous, so a contiguous layout
/// is one run and a transposed one is many runs of length 1.
#[derive(Debug, Clone)]
pub struct StridedBlocks {
    outer: StridedIndex,
    block_len: usize,
}

impl StridedBlocks {
    /// Splits `layout` into runs.
    pub fn new(layout: &Layout) -> Self {
        let dims = layout.dims();
        let strides = layout.strides();
        let mut block_len = 1;
        let mut split = dims.len();
        while split > 0 {
            let d = split - 1;
            if dims[d] != 1 && strides[d] != block_len {
                break;
            }
            block_len *= dims[d];
            split = d;
        }
        let outer = Layout::new(dims[..split].to_vec().into(), strides[..split].to_vec(), layout.offset())
            .expect("prefix of a valid layout is valid");
        let mut outer = StridedIndex::new(&outer);
        if layout.elem_count() == 0 {
            outer.next = None;
        }
        StridedBlocks { outer, block_len }
    }

    /// The length of every run.
    pub fn block_len(&self) -> usize {
        self.block_len
    }
}

impl Iterator for StridedBlocks {
    type Item = (usize, usize);

    #[inline]
    fn next(&mut self) -> Option<(usize, usize)> {
        self.outer.next().map(|s| (s, self.block_len))
    }
}

#[cfg(test)]
mod tests {
    use crate::{Layout, Shape};

    #[test]
    fn blocks_merge_contiguous_suffix() {
        let l = Layout::contiguous([4, 3, 2]).narrow(0, 1, 2).unwrap();
        let b: Vec<_> = l.blocks().collect();
        assert_eq!(b, vec![(6, 12)]);
        let t = Layout::contiguous([2, 3]).transpose(0, 1).unwrap();
        assert_eq!(t.blocks().count(), 6);
        let n = Layout::contiguous([3, 4]).narrow(1, 1, 2).unwrap();
        assert_eq!(n.blocks().collect::<Vec<_>>(), vec![(1, 2), (5, 2), (9, 2)]);
        let e = Layout::contiguous([2, 0]);
        assert_eq!(e.blocks().count(), 0);
        let s = Layout::contiguous(Shape::scalar());
        assert_eq!(s.blocks().collect::<Vec<_>>(), vec![(0, 1)]);
    }
}
