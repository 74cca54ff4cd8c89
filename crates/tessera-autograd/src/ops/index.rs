//! Indexing: index_select, gather, scatter_add, with backward rules built on `scatter_add` and
//! `gather`. Index tensors are data, never differentiated.

use super::zeros_of_input;
use crate::{Result, Var};
use tessera_tensor::Tensor;

impl Var {
    /// The entries `indices[j]` along `dim` (`indices`: 1-D, u32 or i64). The gradient is
    /// scatter-added back, so repeated indices accumulate (an embedding's backward).
    pub fn index_select(&self, dim: isize, indices: &Tensor) -> Result<Var> {
        let y = self.tensor().index_select(dim, indices)?;
        let indices = indices.clone();
        Ok(Var::record("index_select", y, &[self], move |c| {
            let d = c.input_shape(0).dim(dim, "index_select").map_err(tessera_tensor::Error::from)?;
            // Spread the 1-D indices along `dim` of the gradient's shape (a broadcast view).
            let mut along = vec![1; c.grad.rank()];
            along[d] = indices.elem_count();
            let index = indices.reshape(along)?.expand(c.grad.shape().clone())?;
            Ok(vec![Some(zeros_of_input(c, 0)?.scatter_add(dim, &index, c.grad)?)])
        }))
    }

    /// `out[i][j] = self[i][index[i][j]]` for `dim = 1`, and likewise for any dim. The gradient
    /// is scatter-added back to the gathered positions.
    pub fn gather(&self, dim: isize, index: &Tensor) -> Result<Var> {
        let y = self.tensor().gather(dim, index)?;
        let index = index.clone();
        Ok(Var::record("gather", y, &[self], move |c| {
            Ok(vec![Some(zeros_of_input(c, 0)?.scatter_add(dim, &index, c.grad)?)])
        }))
    }

    /// `self` with `src` added at the positions `index` names along `dim`. The gradient of
    /// `self` passes through; that of `src` is gathered from the same positions.
    pub fn scatter_add(&self, dim: isize, index: &Tensor, src: &Var) -> Result<Var> {
        let y = self.tensor().scatter_add(dim, index, src.tensor())?;
        let index = index.clone();
        Ok(Var::record("scatter_add", y, &[self, src], move |c| {
            let gs = if c.needs(1) { Some(c.grad.gather(dim, &index)?) } else { None };
            Ok(vec![c.needs(0).then(|| c.grad.clone()), gs])
        }))
    }
}
