//! Plans of indexing: index_select, gather and scatter_add. Whether each index is in range is
//! the one check left to the device halves (it needs the data).

use super::{require_index_dtype, require_same_dtype, resolve_dim, Arg};
use crate::Result;
use tessera_core::{saturating_product, DType, Error, Layout, Shape};

const INDEX_HINT: &str = " for indices (use u32 or i64)";

/// Checks gather/scatter index shapes: same rank as `other`, and no larger on any dim but `dim`
/// (on `dim` too when `strict`).
fn check_index_shape(op: &'static str, idx: &Layout, other: &Layout, dim: usize, strict: bool) -> Result<()> {
    let ok = idx.rank() == other.rank()
        && (0..idx.rank()).all(|d| (d == dim && !strict) || idx.dims()[d] <= other.dims()[d]);
    if !ok {
        return Err(Error::ShapeMismatch { op, lhs: idx.shape().clone(), rhs: other.shape().clone() }.into());
    }
    Ok(())
}

/// A checked `index_select`: the slices `indices[j]` along `dim` (1-D indices).
#[derive(Debug, Clone, PartialEq)]
pub struct IndexSelectPlan {
    /// The dim selected along.
    pub dim: usize,
    /// Its size (indices must be below it).
    pub size: usize,
    /// The source's dtype (and the output's).
    pub dtype: DType,
    /// The source's view.
    pub input: Layout,
    /// The indices' view (1-D).
    pub indices: Layout,
    /// The indices' dtype (u32 or i64).
    pub index_dtype: DType,
    /// The output's shape: the input's with `dim` resized to the index count.
    pub out_shape: Shape,
}

impl IndexSelectPlan {
    /// Checks `x.index_select(dim, indices)`.
    pub fn new(x: Arg<'_>, dim: isize, indices: Arg<'_>) -> Result<Self> {
        const OP: &str = "index_select";
        let dim = resolve_dim(OP, x.layout, dim)?;
        if indices.layout.rank() != 1 {
            let msg = format!("indices must be 1-D, got shape {}", indices.layout.shape());
            return Err(Error::InvalidArgument { op: OP, msg }.into());
        }
        require_index_dtype(OP, indices.dtype, INDEX_HINT)?;
        let mut dims = x.layout.dims().to_vec();
        dims[dim] = indices.layout.elem_count();
        Ok(IndexSelectPlan {
            dim,
            size: x.layout.dims()[dim],
            dtype: x.dtype,
            input: x.layout.clone(),
            indices: indices.layout.clone(),
            index_dtype: indices.dtype,
            out_shape: Shape::new(dims),
        })
    }

    /// Elements per selected slice below `dim`.
    pub fn inner(&self) -> usize {
        saturating_product(self.out_shape.dims()[self.dim + 1..].iter().copied())
    }
}

/// A checked `gather`: `out[c] = input[c with c[dim] = index[c]]`, output in the index's shape.
#[derive(Debug, Clone, PartialEq)]
pub struct GatherPlan {
    /// The dim gathered along.
    pub dim: usize,
    /// Its size.
    pub size: usize,
    /// The source's dtype.
    pub dtype: DType,
    /// The source's view.
    pub input: Layout,
    /// The index's view (the output's shape).
    pub index: Layout,
    /// The index's dtype.
    pub index_dtype: DType,
}

impl GatherPlan {
    /// Checks `x.gather(dim, index)`.
    pub fn new(x: Arg<'_>, dim: isize, index: Arg<'_>) -> Result<Self> {
        const OP: &str = "gather";
        let dim = resolve_dim(OP, x.layout, dim)?;
        check_index_shape(OP, index.layout, x.layout, dim, false)?;
        require_index_dtype(OP, index.dtype, INDEX_HINT)?;
        Ok(GatherPlan {
            dim,
            size: x.layout.dims()[dim],
            dtype: x.dtype,
            input: x.layout.clone(),
            index: index.layout.clone(),
            index_dtype: index.dtype,
        })
    }
}

/// A checked `scatter_add`: a copy of `base` with `src` added at the positions `index` names
/// along `dim`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScatterAddPlan {
    /// The dim scattered along.
    pub dim: usize,
    /// Its size in `base`.
    pub size: usize,
    /// The dtype of base, source and output.
    pub dtype: DType,
    /// The base's view (the output's shape).
    pub base: Layout,
    /// The index's view.
    pub index: Layout,
    /// The index's dtype.
    pub index_dtype: DType,
    /// The source's view.
    pub src: Layout,
}

impl ScatterAddPlan {
    /// Checks `base.scatter_add(dim, index, src)`.
    pub fn new(base: Arg<'_>, dim: isize, index: Arg<'_>, src: Arg<'_>) -> Result<Self> {
        const OP: &str = "scatter_add";
        let dim = resolve_dim(OP, base.layout, dim)?;
        require_same_dtype(OP, &[base.dtype, src.dtype])?;
        check_index_shape(OP, index.layout, src.layout, dim, true)?;
        check_index_shape(OP, index.layout, base.layout, dim, false)?;
        require_index_dtype(OP, index.dtype, INDEX_HINT)?;
        Ok(ScatterAddPlan {
            dim,
            size: base.layout.dims()[dim],
            dtype: base.dtype,
            base: base.layout.clone(),
            index: index.layout.clone(),
            index_dtype: index.dtype,
            src: src.layout.clone(),
        })
    }
}
