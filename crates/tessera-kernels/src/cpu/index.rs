//! Indexing: index_select (embedding lookup), gather, and scatter_add (their backward).

use super::buffer::{dispatch, strided_values, CpuBuffer, CpuElem};
use crate::Result;
use tessera_core::{Error, Layout, Shape};

/// Reads an index tensor (u32 or i64) as `usize` values, each checked against `size`.
fn read_indices(op: &'static str, idx: &CpuBuffer, layout: &Layout, dim: usize, size: usize) -> Result<Vec<usize>> {
    let check = |i: i64| {
        if i < 0 || i as u64 >= size as u64 {
            Err(Error::IndexOutOfRange { op, index: i, dim, size })
        } else {
            Ok(i as usize)
        }
    };
    let out: std::result::Result<Vec<usize>, Error> = match idx {
        CpuBuffer::U32(v) => strided_values(v, layout).iter().map(|&i| check(i as i64)).collect(),
        CpuBuffer::I64(v) => strided_values(v, layout).iter().map(|&i| check(i)).collect(),
        other => {
            return Err(
                Error::UnsupportedDType { op, dtype: other.dtype(), hint: " for indices (use u32 or i64)" }.into()
            )
        }
    };
    Ok(out?)
}

/// Checks that `dim` is a dim of `layout` (shared with the CUDA half).
pub(crate) fn check_dim(op: &'static str, layout: &Layout, dim: usize) -> Result<()> {
    if dim >= layout.rank() {
        return Err(Error::DimOutOfRange { op, dim: dim as isize, shape: layout.shape().clone() }.into());
    }
    Ok(())
}

/// Picks the slices `indices[j]` along `dim` (a 1-D index tensor of u32 or i64): with `dim = 0`
/// and a [vocab, dim] table this is an embedding lookup.
pub fn index_select(
    buf: &CpuBuffer,
    layout: &Layout,
    dim: usize,
    idx: &CpuBuffer,
    idx_layout: &Layout,
) -> Result<(CpuBuffer, Shape)> {
    check_dim("index_select", layout, dim)?;
    if idx_layout.rank() != 1 {
        return Err(Error::InvalidArgument {
            op: "index_select",
            msg: format!("indices must be 1-D, got shape {}", idx_layout.shape()),
        }
        .into());
    }
    let size = layout.dims()[dim];
    let indices = read_indices("index_select", idx, idx_layout, dim, size)?;
    let mut dims = layout.dims().to_vec();
    dims[dim] = indices.len();
    let outer: usize = dims[..dim].iter().product();
    let inner: usize = dims[dim + 1..].iter().product();
    let out = dispatch!(buf, v => {
        let src = strided_values(v, layout);
        let mut out = Vec::with_capacity(outer * indices.len() * inner);
        for o in 0..outer {
            for &i in &indices {
                let start = (o * size + i) * inner;
                out.extend_from_slice(&src[start..start + inner]);
            }
        }
        CpuBuffer::from(out)
    });
    Ok((out, Shape::new(dims)))
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

/// Checks gather/scatter index shapes: same rank as `other`, and no larger on any dim but `dim`
/// (on `dim` too when `strict`).
pub(crate) fn check_index_shape(
    op: &'static str,
    idx: &Layout,
    other: &Layout,
    dim: usize,
    strict: bool,
) -> Result<()> {
    let ok = idx.rank() == other.rank()
        && (0..idx.rank()).all(|d| (d == dim && !strict) || idx.dims()[d] <= other.dims()[d]);
    if !ok {
        return Err(Error::ShapeMismatch { op, lhs: idx.shape().clone(), rhs: other.shape().clone() }.into());
    }
    Ok(())
}

/// `out[i][j][k] = input[i][index[i][j][k]][k]` for `dim = 1` (and likewise for any dim). The
/// index has the input's rank and is no larger on the other dims; the output has its shape.
pub fn gather(
    buf: &CpuBuffer,
    layout: &Layout,
    dim: usize,
    idx: &CpuBuffer,
    idx_layout: &Layout,
) -> Result<(CpuBuffer, Shape)> {
    check_dim("gather", layout, dim)?;
    check_index_shape("gather", idx_layout, layout, dim, false)?;
    let indices = read_indices("gather", idx, idx_layout, dim, layout.dims()[dim])?;
    let strides = layout.strides();
    let out = dispatch!(buf, v => {
        let mut out = Vec::with_capacity(indices.len());
        for_each_coord(idx_layout.dims(), |lin, coord| {
            let mut off = layout.offset();
            for (d, &c) in coord.iter().enumerate() {
                off += if d == dim { indices[lin] } else { c } * strides[d];
            }
            out.push(v[off]);
        });
        CpuBuffer::from(out)
    });
    Ok((out, idx_layout.shape().clone()))
}

/// A copy of `base` with `src` added at the positions `index` names along `dim`:
/// `out[i][index[i][j][k]][k] += src[i][j][k]` for `dim = 1`. Repeated indices accumulate. This
/// is the backward of [`gather`] and of [`index_select`] (with a broadcast index).
pub fn scatter_add(
    base: &CpuBuffer,
    base_layout: &Layout,
    dim: usize,
    idx: &CpuBuffer,
    idx_layout: &Layout,
    src: &CpuBuffer,
    src_layout: &Layout,
) -> Result<CpuBuffer> {
    check_dim("scatter_add", base_layout, dim)?;
    if base.dtype() != src.dtype() {
        return Err(Error::DTypeMismatch { op: "scatter_add", lhs: base.dtype(), rhs: src.dtype() }.into());
    }
    check_index_shape("scatter_add", idx_layout, src_layout, dim, true)?;
    check_index_shape("scatter_add", idx_layout, base_layout, dim, false)?;
    let indices = read_indices("scatter_add", idx, idx_layout, dim, base_layout.dims()[dim])?;
    let out_strides = base_layout.shape().contiguous_strides();
    Ok(dispatch!(base, b => {
        let mut out = strided_values(b, base_layout).into_owned();
        let s = src.as_slice().expect("dtypes checked equal above");
        scatter_add_typed(&mut out, &out_strides, dim, &indices, idx_layout, s, src_layout);
        CpuBuffer::from(out)
    }))
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
