//! Reductions and softmax, with their backward rules.

use super::{reduced_count, reduced_dims, scalar_like, unreduce};
use crate::{Result, Var};
use tessera_tensor::{ReduceOp, Tensor};

impl Var {
    /// Sum over `dims` (empty: all). The gradient broadcasts back over the summed dims.
    pub fn sum(&self, dims: &[isize], keepdim: bool) -> Result<Var> {
        let y = self.tensor().sum(dims, keepdim)?;
        let dims = reduced_dims(self.tensor(), dims, "sum")?;
        Ok(Var::record("sum", y, &[self], move |c| Ok(vec![Some(unreduce(c.grad, c.input_shape(0), &dims, keepdim)?)])))
    }

    /// Sum of every element, as a 0-dim Var.
    pub fn sum_all(&self) -> Result<Var> {
        let y = self.tensor().sum_all()?;
        Ok(Var::record("sum_all", y, &[self], |c| Ok(vec![Some(c.grad.expand(c.input_shape(0).clone())?)])))
    }

    /// Mean over `dims` (empty: all).
    pub fn mean(&self, dims: &[isize], keepdim: bool) -> Result<Var> {
        let y = self.tensor().mean(dims, keepdim)?;
        let dims = reduced_dims(self.tensor(), dims, "mean")?;
        let count = reduced_count(self.shape(), &dims);
        Ok(Var::record("mean", y, &[self], move |c| {
            let g = c.grad.scale(1.0 / count as f64)?;
            Ok(vec![Some(unreduce(&g, c.input_shape(0), &dims, keepdim)?)])
        }))
    }

    /// Maximum over `dims` (empty: all). The gradient goes to the maximal entries, split evenly
    /// among ties.
    pub fn max(&self, dims: &[isize], keepdim: bool) -> Result<Var> {
        let y = self.tensor().max(dims, keepdim)?;
        self.extremum("max", y, dims, keepdim)
    }

    /// Minimum over `dims` (empty: all). The gradient goes to the minimal entries, split evenly
    /// among ties.
    pub fn min(&self, dims: &[isize], keepdim: bool) -> Result<Var> {
        let y = self.tensor().min(dims, keepdim)?;
        self.extremum("min", y, dims, keepdim)
    }

    fn extremum(&self, op: &'static str, y: Tensor, dims: &[isize], keepdim: bool) -> Result<Var> {
        let dims = reduced_dims(self.tensor(), dims, op)?;
        let (x, out) = (self.tensor().clone(), y.clone());
        Ok(Var::record(op, y, &[self], move |c| {
            let y = unreduce(&out, x.shape(), &dims, keepdim)?;
            let hit = x.eq(&y)?.where_cond(&scalar_like(1.0, &x)?, &scalar_like(0.0, &x)?)?;
            let sdims: Vec<isize> = dims.iter().map(|&d| d as isize).collect();
            let share = hit.div(&hit.sum(&sdims, true)?)?;
            Ok(vec![Some(unreduce(c.grad, x.shape(), &dims, keepdim)?.mul(&share)?)])
        }))
    }

    /// Variance over `dims` (empty: all) with Bessel's `correction` (see `Tensor::var`).
    pub fn var(&self, dims: &[isize], keepdim: bool, correction: usize) -> Result<Var> {
        let y = self.tensor().var(dims, keepdim, correction)?;
        let rdims = reduced_dims(self.tensor(), dims, "var")?;
        let x = self.tensor().clone();
        Ok(Var::record("var", y, &[self], move |c| {
            let sdims: Vec<isize> = rdims.iter().map(|&d| d as isize).collect();
            let centred = x.sub(&x.mean(&sdims, true)?)?;
            let denom = reduced_count(x.shape(), &rdims) as f64 - correction as f64;
            let g = unreduce(c.grad, x.shape(), &rdims, keepdim)?;
            Ok(vec![Some(g.mul(&centred)?.scale(2.0 / denom)?)])
        }))
    }

    /// Applies a reduction given as a value (dispatches to the method of the same name).
    pub fn reduce(&self, op: ReduceOp, dims: &[isize], keepdim: bool) -> Result<Var> {
        match op {
            ReduceOp::Sum => self.sum(dims, keepdim),
            ReduceOp::Mean => self.mean(dims, keepdim),
            ReduceOp::Max => self.max(dims, keepdim),
            ReduceOp::Min => self.min(dims, keepdim),
        }
    }

    /// Index (`i64`) of the maximum along `dim`. Not differentiable: the result is a constant.
    pub fn argmax(&self, dim: isize, keepdim: bool) -> Result<Var> {
        Ok(Var::constant(self.tensor().argmax(dim, keepdim)?))
    }

    /// Index (`i64`) of the minimum along `dim`. Not differentiable: the result is a constant.
    pub fn argmin(&self, dim: isize, keepdim: bool) -> Result<Var> {
        Ok(Var::constant(self.tensor().argmin(dim, keepdim)?))
    }

    /// Softmax along `dim`: the gradient is `y (g - Σ g y)`.
    pub fn softmax(&self, dim: isize) -> Result<Var> {
        let y = self.tensor().softmax(dim)?;
        let out = y.clone();
        Ok(Var::record("softmax", y, &[self], move |c| {
            let y = &out;
            let dot = c.grad.mul(y)?.sum(&[dim], true)?;
            Ok(vec![Some(y.mul(&c.grad.sub(&dot)?)?)])
        }))
    }

    /// Log-softmax along `dim`: the gradient is `g - softmax(x) Σ g`.
    pub fn log_softmax(&self, dim: isize) -> Result<Var> {
        let y = self.tensor().log_softmax(dim)?;
        let out = y.clone();
        Ok(Var::record("log_softmax", y, &[self], move |c| {
            let total = c.grad.sum(&[dim], true)?;
            Ok(vec![Some(c.grad.sub(&out.exp()?.mul(&total)?)?)])
        }))
    }

    /// `log(sum(exp(x)))` along `dim`: the gradient is `g * softmax(x)` along `dim`.
    pub fn logsumexp(&self, dim: isize, keepdim: bool) -> Result<Var> {
        let y = self.tensor().logsumexp(dim, keepdim)?;
        let (x, out) = (self.tensor().clone(), y.clone());
        Ok(Var::record("logsumexp", y, &[self], move |c| {
            let (lse, g) =
                if keepdim { (out.clone(), c.grad.clone()) } else { (out.unsqueeze(dim)?, c.grad.unsqueeze(dim)?) };
            Ok(vec![Some(x.sub(&lse)?.exp()?.mul(&g)?)])
        }))
    }
}
