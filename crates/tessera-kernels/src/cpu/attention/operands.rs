//! The operands of the CPU attention as its tiles read them: q, k and v as rows in place (or
//! copied when their rows are not contiguous) and the key-padding mask.

use super::super::buffer::{expect_dtype, strided_values, CpuBuffer};
use crate::plan::AttentionPlan;
use crate::Result;
use std::borrow::Cow;
use tessera_core::{saturating_product, DType, Layout};

/// The key-padding mask as one `u8` per (batch row, key), contiguous.
pub(super) fn padding(plan: &AttentionPlan, mask: Option<&CpuBuffer>) -> Result<Option<Vec<u8>>> {
    match (mask, &plan.key_padding) {
        (Some(m), Some(l)) => {
            expect_dtype("attention", DType::U8, &[m])?;
            Ok(m.as_slice::<u8>().map(|v| strided_values(v, l).into_owned()))
        }
        _ => Ok(None),
    }
}

/// The operands of one backward call: q `[P, Sq, D]`, k `[P, Sk, D]`, v `[P, Sk, Dv]`.
pub(super) struct Views<'a, T: Clone> {
    pub(super) q: Rows<'a, T>,
    pub(super) k: Rows<'a, T>,
    pub(super) v: Rows<'a, T>,
    pub(super) mask: Option<&'a [u8]>,
}

/// An operand `[batch, heads, seq, width]` read where it lies: each problem's rows start at its
/// own offset and follow one another `stride` apart, each row's values contiguous (the split
/// heads of a fused projection are read in place). A view whose rows are not contiguous is
/// copied first.
pub(super) struct Rows<'a, T: Clone> {
    data: Cow<'a, [T]>,
    heads: usize,
    /// Strides of the batch and head dims.
    problem: [usize; 2],
    /// Where element 0 lies, the distance between rows and the values per row.
    offset: usize,
    pub(super) stride: usize,
    width: usize,
}

impl<'a, T: Copy + Send + Sync> Rows<'a, T> {
    pub(super) fn new(data: &'a [T], layout: &Layout) -> Self {
        let (dims, st) = (layout.dims(), layout.strides());
        if st[3] == 1 || dims[3] <= 1 {
            let problem = [st[0], st[1]];
            Rows {
                data: Cow::Borrowed(data),
                heads: dims[1],
                problem,
                offset: layout.offset(),
                stride: st[2],
                width: dims[3],
            }
        } else {
            Rows::contiguous(strided_values(data, layout), layout)
        }
    }

    /// Values already in `layout`'s shape, row-major.
    pub(super) fn contiguous(data: impl Into<Cow<'a, [T]>>, layout: &Layout) -> Self {
        let [_, h, s, w] = [0, 1, 2, 3].map(|d| layout.dims()[d]);
        // Zero-aware: an empty operand's other dims may multiply past a usize.
        let problem = [saturating_product([h, s, w]), s.saturating_mul(w)];
        Rows { data: data.into(), heads: h, problem, offset: 0, stride: w, width: w }
    }

    /// Rows `i0..i0 + n` of problem `p`, from the first one's start (rows `stride` apart).
    pub(super) fn rows(&self, p: usize, i0: usize, n: usize) -> &[T] {
        if n == 0 || self.width == 0 {
            // Nothing to read, and an empty operand's strides may point past its (empty) data.
            return &[];
        }
        let (b, h) = (p / self.heads.max(1), p % self.heads.max(1));
        let start = self.offset + b * self.problem[0] + h * self.problem[1] + i0 * self.stride;
        let len = (n - 1) * self.stride + self.width;
        &self.data[start..][..len]
    }
}
