//! Indexing: index_select, gather, scatter_add.

use super::Tensor;
use crate::Result;

impl Tensor {
    /// The entries `indices[j]` along `dim` (`indices`: 1-D, u32 or i64). With `dim = 0` on a
    /// `[vocab, dim]` table this is an embedding lookup.
    pub fn index_select(&self, dim: isize, indices: &Tensor) -> Result<Tensor> {
        self.check_same_device("index_select", indices)?;
        let d = self.shape().dim(dim, "index_select")?;
        let (storage, shape) = self.storage().index_select(self.layout(), d, &indices.storage(), indices.layout())?;
        Ok(Tensor::from_storage(storage, shape))
    }

    /// `out[i][j] = self[i][index[i][j]]` for `dim = 1`, and likewise for any dim. The index has
    /// this tensor's rank; the output has the index's shape.
    pub fn gather(&self, dim: isize, index: &Tensor) -> Result<Tensor> {
        self.check_same_device("gather", index)?;
        let d = self.shape().dim(dim, "gather")?;
        let (storage, shape) = self.storage().gather(self.layout(), d, &index.storage(), index.layout())?;
        Ok(Tensor::from_storage(storage, shape))
    }

    /// A copy of `self` with `src` added at the positions `index` names along `dim`
    /// (`out[i][index[i][j]] += src[i][j]` for `dim = 1`); repeated indices accumulate.
    pub fn scatter_add(&self, dim: isize, index: &Tensor, src: &Tensor) -> Result<Tensor> {
        self.check_same_device("scatter_add", index)?;
        self.check_same_device("scatter_add", src)?;
        let d = self.shape().dim(dim, "scatter_add")?;
        let storage = self.storage().scatter_add(
            self.layout(),
            d,
            &index.storage(),
            index.layout(),
            &src.storage(),
            src.layout(),
        )?;
        Ok(Tensor::from_storage(storage, self.shape().clone()))
    }
}
