//! Indexing: index_select (embedding lookup), gather, and scatter_add (their backward).

use super::buffer::{dispatch, expect_dtype, strided_values, CpuBuffer, CpuElem};
use super::par;
use crate::plan::{index_out_of_range, GatherPlan, IndexSelectPlan, ScatterAddPlan};
use crate::Result;
use rayon::prelude::*;
use tessera_core::{DType, Layout, Shape};

/// Reads an index tensor (u32 or i64) as `usize` values, each checked against `size`.
fn read_indices(op: &'static str, idx: &CpuBuffer, layout: &Layout, dim: usize, size: usize) -> Result<Vec<usize>> {
    let check = |i: i64| {
        if i < 0 || i as u64 >= size as u64 {
            Err(index_out_of_range(op, i, dim, size))
        } else {
            Ok(i as usize)
        }
    };
    match idx {
        CpuBuffer::U32(v) => strided_values(v, layout).iter().map(|&i| check(i as i64)).collect(),
        CpuBuffer::I64(v) => strided_values(v, layout).iter().map(|&i| check(i)).collect(),
        other => Err(crate::Error::PlanMismatch { op, expected: DType::I64, got: other.dtype() }),
    }
}

/// Picks the slices `indices[j]` along the plan's dim: with `dim = 0` and a `[vocab, dim]` table
/// this is an embedding lookup.
pub fn index_select(plan: &IndexSelectPlan, buf: &CpuBuffer, idx: &CpuBuffer) -> Result<CpuBuffer> {
    expect_dtype("index_select", plan.dtype, &[buf])?;
    let (dim, size) = (plan.dim, plan.size);
    let indices = read_indices("index_select", idx, &plan.indices, dim, size)?;
    if plan.out_shape.elem_count() == 0 {
        // Nothing to copy, though the other dims of an empty tensor may multiply past a usize.
        return Ok(CpuBuffer::zeros(plan.dtype, 0));
    }
    let outer: usize = plan.out_shape.dims()[..dim].iter().product();
    let inner = plan.inner();
    Ok(dispatch!(buf, v => {
        let src = strided_values(v, &plan.input);
        let mut out = Vec::with_capacity(outer * indices.len() * inner);
        for o in 0..outer {
            for &i in &indices {
                let start = (o * size + i) * inner;
                out.extend_from_slice(&src[start..start + inner]);
            }
        }
        CpuBuffer::from(out)
    }))
}

/// Row-major coordinates of every element of `shape`, flattened, visited in order by `f`.
fn for_each_coord(shape: &[usize], mut f: impl FnMut(usize, &[usize])) {
    let n: usize = shape.iter().product();
    let mut coord = vec![0; shape.len()];
    for lin in 0..n {
        f(lin, &coord);
        for d in (0..shape.len()).rev() {
            coord[d] += 1;
            if coord[d] < shape[d] {
                break;
            }
            coord[d] = 0;
        }
    }
}

/// `out[i][j][k] = input[i][index[i][j][k]][k]` for `dim = 1` (and likewise for any dim); the
/// output has the index's shape.
pub fn gather(plan: &GatherPlan, buf: &CpuBuffer, idx: &CpuBuffer) -> Result<CpuBuffer> {
    expect_dtype("gather", plan.dtype, &[buf])?;
    let (dim, layout) = (plan.dim, &plan.input);
    let indices = read_indices("gather", idx, &plan.index, dim, plan.size)?;
    if indices.is_empty() {
        return Ok(CpuBuffer::zeros(plan.dtype, 0));
    }
    let strides = layout.strides();
    Ok(dispatch!(buf, v => {
        let mut out = Vec::with_capacity(indices.len());
        for_each_coord(plan.index.dims(), |lin, coord| {
            let mut off = layout.offset();
            for (d, &c) in coord.iter().enumerate() {
                off += if d == dim { indices[lin] } else { c } * strides[d];
            }
            out.push(v[off]);
        });
        CpuBuffer::from(out)
    }))
}

/// A copy of `base` with `src` added at the positions `index` names along the plan's dim:
/// `out[i][index[i][j][k]][k] += src[i][j][k]` for `dim = 1`. Repeated indices accumulate. This
/// is the backward of [`gather`] and of [`index_select`] (with a broadcast index).
pub fn scatter_add(plan: &ScatterAddPlan, base: &CpuBuffer, idx: &CpuBuffer, src: &CpuBuffer) -> Result<CpuBuffer> {
    expect_dtype("scatter_add", plan.dtype, &[base, src])?;
    if let Some(rows) = broadcast_index(plan) {
        return scatter_add_rows(plan, base, idx, &rows, src);
    }
    let indices = read_indices("scatter_add", idx, &plan.index, plan.dim, plan.size)?;
    if plan.base.elem_count() == 0 {
        // The indices are checked; nothing is added, though the empty base's other dims may
        // multiply past a usize.
        return Ok(CpuBuffer::zeros(plan.dtype, 0));
    }
    let out_strides = plan.base.shape().contiguous_strides();
    Ok(dispatch!(base, b => {
        let mut out = strided_values(b, &plan.base).into_owned();
        let s = src.as_slice().expect("dtypes checked equal above");
        scatter_add_typed(&mut out, &out_strides, plan.dim, &indices, &plan.index, s, &plan.src);
        CpuBuffer::from(out)
    }))
}

/// The 1-D index of an `index_select`'s backward (an embedding's): one index per position along
/// `dim`, broadcast over every other dim, which the base and the source share.
fn broadcast_index(plan: &ScatterAddPlan) -> Option<Layout> {
    let (index, d) = (&plan.index, plan.dim);
    let spread =
        (0..index.rank()).all(|i| i == d || (index.strides()[i] == 0 && index.dims()[i] == plan.base.dims()[i]));
    if !spread || plan.src.dims() != index.dims() {
        return None;
    }
    Layout::new(Shape::new(vec![index.dims()[d]]), vec![index.strides()[d]], index.offset()).ok()
}

/// [`scatter_add`] with a [`broadcast_index`]: whole rows of the source added onto the rows the
/// index names, instead of one coordinate walk per element.
fn scatter_add_rows(
    plan: &ScatterAddPlan,
    base: &CpuBuffer,
    idx: &CpuBuffer,
    rows: &Layout,
    src: &CpuBuffer,
) -> Result<CpuBuffer> {
    let indices = read_indices("scatter_add", idx, rows, plan.dim, plan.size)?;
    if plan.base.elem_count() == 0 {
        return Ok(CpuBuffer::zeros(plan.dtype, 0));
    }
    let dims = plan.base.dims();
    let outer: usize = dims[..plan.dim].iter().product();
    let inner: usize = dims[plan.dim + 1..].iter().product();
    let size = plan.size;
    Ok(dispatch!(base, b => {
        let mut out = owned_copy(strided_values(b, &plan.base));
        let s = strided_values(src.as_slice().expect("dtypes checked equal above"), &plan.src);
        add_source_rows(&mut out, &s, &indices, [outer, size, inner]);
        CpuBuffer::from(out)
    }))
}

/// Adds each source row `(o, j)` (`s`: `[outer, indices.len(), inner]`) onto output row
/// `(o, indices[j])` (`out`: `[outer, size, inner]`), on the pool's threads by blocks of output
/// rows when large. Each row gets the source rows that name it in index order, so how the rows
/// are split between threads does not change a sum.
fn add_source_rows<T: CpuElem + AddWrap>(out: &mut [T], s: &[T], indices: &[usize], [outer, size, inner]: [usize; 3]) {
    let n = indices.len();
    let add_rows = |first: usize, block: &mut [T]| {
        let here = first..first + block.len() / inner;
        for o in 0..outer {
            for (j, &i) in indices.iter().enumerate() {
                let row = o * size + i;
                if here.contains(&row) {
                    let dst = &mut block[(row - first) * inner..][..inner];
                    for (a, &v) in dst.iter_mut().zip(&s[(o * n + j) * inner..][..inner]) {
                        *a = a.add_wrap(v);
                    }
                }
            }
        }
    };
    if par::worth_parallel(outer * n * inner) {
        let per = par::chunk_len(out.len(), inner);
        out.par_chunks_mut(per).enumerate().for_each(|(c, block)| add_rows(c * per / inner, block));
    } else {
        add_rows(0, out);
    }
}

/// `values` as an owned vector, copied by the pool's threads when borrowed and large (an
/// embedding's gradient starts as a copy of its zeroed table).
fn owned_copy<T: Copy + Send + Sync>(values: std::borrow::Cow<'_, [T]>) -> Vec<T> {
    match values {
        std::borrow::Cow::Owned(v) => v,
        std::borrow::Cow::Borrowed(v) => par::build_vec(v.len(), 1, |start, chunk| {
            super::buffer::write_copy(chunk, &v[start..start + chunk.len()]);
        }),
    }
}

fn scatter_add_typed<T: CpuElem + AddWrap>(
    out: &mut [T],
    out_strides: &[usize],
    dim: usize,
    indices: &[usize],
    idx_layout: &Layout,
    src: &[T],
    src_layout: &Layout,
) {
    let src_strides = src_layout.strides();
    for_each_coord(idx_layout.dims(), |lin, coord| {
        let (mut o, mut s) = (0, src_layout.offset());
        for (d, &c) in coord.iter().enumerate() {
            o += if d == dim { indices[lin] } else { c } * out_strides[d];
            s += c * src_strides[d];
        }
        out[o] = out[o].add_wrap(src[s]);
    });
}

/// Addition for every element type; integers wrap rather than panic on overflow.
pub(crate) trait AddWrap: Copy {
    fn add_wrap(self, o: Self) -> Self;
}

macro_rules! add_wrap {
    (float: $($f:ty),*; int: $($i:ty),*) => {
        $(impl AddWrap for $f {
            #[inline(always)]
            fn add_wrap(self, o: Self) -> Self { self + o }
        })*
        $(impl AddWrap for $i {
            #[inline(always)]
            fn add_wrap(self, o: Self) -> Self { self.wrapping_add(o) }
        })*
    };
}
add_wrap!(float: f32, f64, tessera_core::f16, tessera_core::bf16; int: u8, u32, i64);
