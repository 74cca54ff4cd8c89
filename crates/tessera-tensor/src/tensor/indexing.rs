//! Indexing: index_select, gather, scatter_add.

use super::Tensor;
use crate::Result;
use tessera_kernels::plan::{GatherPlan, IndexSelectPlan, ScatterAddPlan};

impl Tensor {
    /// The entries `indices[j]` along `dim` (`indices`: 1-D, u32 or i64). With `dim = 0` on a
    /// `[vocab, dim]` table this is an embedding lookup.
    pub fn index_select(&self, dim: isize, indices: &Tensor) -> Result<Tensor> {
        let plan = IndexSelectPlan::new(self.arg(), dim, indices.arg())?;
        let storage = self.storage().index_select(&plan, &indices.storage())?;
        Ok(Tensor::from_storage(storage, plan.out_shape))
    }

    /// `out[i][j] = self[i][index[i][j]]` for `dim = 1`, and likewise for any dim. The index has
    /// this tensor's rank; the output has the index's shape.
    pub fn gather(&self, dim: isize, index: &Tensor) -> Result<Tensor> {
        let plan = GatherPlan::new(self.arg(), dim, index.arg())?;
        let storage = self.storage().gather(&plan, &index.storage())?;
        Ok(Tensor::from_storage(storage, plan.index.shape().clone()))
    }

    /// A copy of `self` with `src` added at the positions `index` names along `dim`
    /// (`out[i][index[i][j]] += src[i][j]` for `dim = 1`); repeated indices accumulate.
    pub fn scatter_add(&self, dim: isize, index: &Tensor, src: &Tensor) -> Result<Tensor> {
        let plan = ScatterAddPlan::new(self.arg(), dim, index.arg(), src.arg())?;
        let storage = self.storage().scatter_add(&plan, &index.storage(), &src.storage())?;
        Ok(Tensor::from_storage(storage, self.shape().clone()))
    }
}
