//! Shaping ops (views, copies, casts) and their backward rules.

use super::sum_to_shape;
use crate::{Error, Result, Var};
use tessera_tensor::{DType, Device, Shape};

impl Var {
    /// Swaps two dims (a view); the gradient is swapped back.
    pub fn transpose(&self, d0: isize, d1: isize) -> Result<Var> {
        let y = self.tensor().transpose(d0, d1)?;
        Ok(Var::record("transpose", y, &[self], move |c| Ok(vec![Some(c.grad.transpose(d0, d1)?)])))
    }

    /// Swaps the last two dims (a view; rank >= 2).
    pub fn t(&self) -> Result<Var> {
        let y = self.tensor().t()?;
        Ok(Var::record("t", y, &[self], |c| Ok(vec![Some(c.grad.t()?)])))
    }

    /// Reorders dims (a view); the gradient goes through the inverse permutation.
    pub fn permute(&self, perm: &[isize]) -> Result<Var> {
        let y = self.tensor().permute(perm)?;
        let rank = self.rank() as isize;
        let mut inverse = vec![0isize; perm.len()];
        for (i, &p) in perm.iter().enumerate() {
            let p = if p < 0 { p + rank } else { p };
            inverse[p as usize] = i as isize;
        }
        Ok(Var::record("permute", y, &[self], move |c| Ok(vec![Some(c.grad.permute(&inverse)?)])))
    }

    /// The same elements with another shape (one dim may be `usize::MAX`, inferred).
    pub fn reshape(&self, shape: impl Into<Shape>) -> Result<Var> {
        let y = self.tensor().reshape(shape)?;
        Ok(self.reshaped("reshape", y))
    }

    /// All dims merged into one.
    pub fn flatten_all(&self) -> Result<Var> {
        let y = self.tensor().flatten_all()?;
        Ok(self.reshaped("flatten_all", y))
    }

    /// Removes `dim` if its size is 1.
    pub fn squeeze(&self, dim: isize) -> Result<Var> {
        let y = self.tensor().squeeze(dim)?;
        Ok(self.reshaped("squeeze", y))
    }

    /// Inserts a dim of size 1 at `dim`.
    pub fn unsqueeze(&self, dim: isize) -> Result<Var> {
        let y = self.tensor().unsqueeze(dim)?;
        Ok(self.reshaped("unsqueeze", y))
    }

    /// Records an op that only changes the shape: the gradient is reshaped back.
    fn reshaped(&self, op: &'static str, y: tessera_tensor::Tensor) -> Var {
        Var::record(op, y, &[self], |c| Ok(vec![Some(c.grad.reshape(c.input_shape(0).clone())?)]))
    }

    /// Broadcasts to `shape` (a view); the gradient is summed over the broadcast dims.
    pub fn expand(&self, shape: impl Into<Shape>) -> Result<Var> {
        let y = self.tensor().expand(shape)?;
        Ok(Var::record("expand", y, &[self], |c| Ok(vec![Some(sum_to_shape(c.grad, c.input_shape(0))?)])))
    }

    /// A contiguous Var with the same values.
    pub fn contiguous(&self) -> Result<Var> {
        let y = self.tensor().contiguous()?;
        Ok(Var::record("contiguous", y, &[self], |c| Ok(vec![Some(c.grad.clone())])))
    }

    /// A fresh contiguous copy.
    pub fn copy(&self) -> Result<Var> {
        let y = self.tensor().copy()?;
        Ok(Var::record("copy", y, &[self], |c| Ok(vec![Some(c.grad.clone())])))
    }

    /// The values converted to `dtype`. Between float dtypes the gradient is cast back; a cast to
    /// an integer dtype is not differentiable and gives a constant.
    pub fn to_dtype(&self, dtype: DType) -> Result<Var> {
        let y = self.tensor().to_dtype(dtype)?;
        Ok(Var::record("to_dtype", y, &[self], |c| Ok(vec![Some(c.grad.to_dtype(c.input_dtype(0))?)])))
    }

    /// The values on `device`; the gradient is moved back.
    pub fn to_device(&self, device: &Device) -> Result<Var> {
        let y = self.tensor().to_device(device)?;
        Ok(Var::record("to_device", y, &[self], |c| Ok(vec![Some(c.grad.to_device(c.input_device(0))?)])))
    }

    /// Checks that a list of Vars is not empty.
    pub(crate) fn non_empty(vars: &[Var], op: &'static str) -> Result<()> {
        if vars.is_empty() {
            return Err(Error::InvalidArgument { op, msg: "no Vars given".into() });
        }
        Ok(())
    }
}
