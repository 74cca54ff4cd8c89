//! Copies: strided to contiguous, and concatenation.

use super::buffer::{dispatch, strided_values, CpuBuffer, CpuElem};
use crate::Result;
use tessera_core::{DType, Error, Layout, Shape};

/// The elements selected by `layout`, copied into a new contiguous buffer.
pub fn copy_strided(buf: &CpuBuffer, layout: &Layout) -> CpuBuffer {
    dispatch!(buf, v => CpuBuffer::from(strided_values(v, layout).into_owned()))
}

/// The shape of concatenating layouts along `dim`, after checking that the inputs share dtype and
/// rank and agree on every other dim (shared with the CUDA half so both report the same errors).
pub(crate) fn cat_shape(inputs: &[(DType, &Layout)], dim: usize) -> Result<Shape> {
    let Some(&(first_dtype, first_layout)) = inputs.first() else {
        return Err(Error::InvalidArgument { op: "cat", msg: "no tensors given".into() }.into());
    };
    let rank = first_layout.rank();
    if dim >= rank {
        return Err(Error::DimOutOfRange { op: "cat", dim: dim as isize, shape: first_layout.shape().clone() }.into());
    }
    let mut dims = first_layout.dims().to_vec();
    dims[dim] = 0;
    for &(dtype, layout) in inputs {
        if dtype != first_dtype {
            return Err(Error::DTypeMismatch { op: "cat", lhs: first_dtype, rhs: dtype }.into());
        }
        let same_other_dims =
            layout.rank() == rank && (0..rank).all(|d| d == dim || layout.dims()[d] == first_layout.dims()[d]);
        if !same_other_dims {
            return Err(Error::ShapeMismatch {
                op: "cat",
                lhs: first_layout.shape().clone(),
                rhs: layout.shape().clone(),
            }
            .into());
        }
        dims[dim] += layout.dims()[dim];
    }
    Ok(Shape::new(dims))
}

/// Concatenates the inputs along `dim`. All must share dtype and rank, and agree on every other
/// dim. Returns the contiguous result and its shape.
pub fn cat(inputs: &[(&CpuBuffer, &Layout)], dim: usize) -> Result<(CpuBuffer, Shape)> {
    let shape = cat_shape(&inputs.iter().map(|&(b, l)| (b.dtype(), l)).collect::<Vec<_>>(), dim)?;
    let first = inputs[0].0;
    let outer: usize = shape.dims()[..dim].iter().product();
    let inner: usize = shape.dims()[dim + 1..].iter().product();
    let out = dispatch!(first, v => cat_typed(v, inputs, outer, inner, dim, shape.elem_count()));
    Ok((out, shape))
}

fn cat_typed<T: CpuElem>(
    _type_of: &[T],
    inputs: &[(&CpuBuffer, &Layout)],
    outer: usize,
    inner: usize,
    dim: usize,
    total: usize,
) -> CpuBuffer {
    let parts: Vec<(std::borrow::Cow<'_, [T]>, usize)> = inputs
        .iter()
        .map(|&(buf, layout)| {
            let data = T::slice(buf).expect("dtypes checked equal");
            (strided_values(data, layout), layout.dims()[dim] * inner)
        })
        .collect();
    let mut out = Vec::with_capacity(total);
    for o in 0..outer {
        for (data, block) in &parts {
            out.extend_from_slice(&data[o * block..(o + 1) * block]);
        }
    }
    T::wrap(out)
}
