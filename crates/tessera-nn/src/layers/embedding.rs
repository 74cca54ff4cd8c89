//! `Embedding`: a lookup table of vectors.

use crate::{init, Error, Module, Result};
use tessera_autograd::Var;
use tessera_tensor::{DType, Device, Generator, Tensor};

/// Maps ids `[...]` (u32 or i64) to vectors `[..., dim]`. The weight is `[num, dim]`, drawn from
/// N(0, 1) as in PyTorch. With `padding_idx`, that row starts at zero, its lookups give zero
/// vectors and it receives no gradient.
#[derive(Module)]
pub struct Embedding {
    weight: Var,
    #[module(skip)]
    padding_idx: Option<usize>,
}

impl Embedding {
    /// A table of `num` vectors of size `dim`.
    pub fn new(
        g: &mut Generator,
        num: usize,
        dim: usize,
        padding_idx: Option<usize>,
        dtype: DType,
        device: &Device,
    ) -> Result<Embedding> {
        let mut w = init::normal(g, 1.0, [num, dim], dtype, device)?;
        if let Some(p) = padding_idx {
            if p >= num {
                return Err(Error::Config(format!("Embedding: padding_idx {p} is out of range for {num} entries")));
            }
            let zero_row =
                Tensor::from_vec((0..num).map(|i| (i != p) as u8 as f32).collect::<Vec<_>>(), [num, 1], &Device::Cpu)?
                    .to_device(device)?
                    .to_dtype(dtype)?;
            w = w.mul(&zero_row)?;
        }
        Embedding::from_weight(w, padding_idx)
    }

    /// A table with the given weight `[num, dim]`.
    pub fn from_weight(weight: Tensor, padding_idx: Option<usize>) -> Result<Embedding> {
        if weight.rank() != 2 {
            return Err(Error::Config(format!("Embedding: weight must be [num, dim], got {}", weight.shape())));
        }
        Ok(Embedding { weight: Var::param(weight)?, padding_idx })
    }

    /// A table whose weight is `weight` as given: a parameter, or a constant that never trains
    /// (a frozen table, see [`Embedding::from_pretrained`]).
    pub(crate) fn from_var(weight: Var, padding_idx: Option<usize>) -> Embedding {
        Embedding { weight, padding_idx }
    }

    /// The weight `[num, dim]`.
    pub fn weight(&self) -> &Var {
        &self.weight
    }
}

impl Module for Embedding {
    fn forward(&self, ids: &Var) -> Result<Var> {
        let dim = self.weight.dims()[1];
        let flat = ids.tensor().flatten_all()?;
        let rows = self.weight.index_select(0, &flat)?;
        let rows = match self.padding_idx {
            None => rows,
            Some(p) => {
                let pad = Tensor::scalar(p as f64, flat.dtype(), flat.device())?;
                let keep = flat.ne(&pad)?.to_dtype(self.weight.tensor().dtype())?.unsqueeze(-1)?;
                rows.mul(&Var::constant(keep))?
            }
        };
        let mut dims = ids.dims().to_vec();
        dims.push(dim);
        Ok(rows.reshape(dims)?)
    }

    fn describe(&self) -> String {
        format!("Embedding({}, {})", self.weight.dims()[0], self.weight.dims()[1])
    }
}
