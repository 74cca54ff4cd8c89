//! Reductions and softmax, with their backward rules.

use super::{reduced_count, reduced_dims, scalar_like, unreduce};
use crate::{Result, Var};
use tessera_tensor::{ReduceOp, Shape, Tensor};

/// Whether `op`'s gradient reads the input and output (kept alive until backward).
fn keeps_values(op: ReduceOp) -> bool {
    match op {
        ReduceOp::Sum | ReduceOp::Mean => false,
        ReduceOp::Max | ReduceOp::Min => true,
    }
}

/// The gradient of reduction `op` of an input of `shape` over the sorted `dims`, given the
/// output's gradient `g` (and, where [`keeps_values`], the input `x` and output `y`): the op's
/// backward rule.
fn gradient(
    op: ReduceOp,
    g: &Tensor,
    shape: &Shape,
    kept: Option<&(Tensor, Tensor)>,
    dims: &[usize],
    keepdim: bool,
) -> Result<Tensor> {
    let spread = unreduce(g, shape, dims, keepdim)?;
    Ok(match op {
        // The gradient broadcasts back over the summed dims.
        ReduceOp::Sum => spread,
        ReduceOp::Mean => spread.scale(1.0 / reduced_count(shape, dims) as f64)?,
        // The gradient goes to the extreme entries, split evenly among ties.
        ReduceOp::Max | ReduceOp::Min => {
            let (x, y) = kept.expect("keeps_values() lists the extremes");
            let y = unreduce(y, shape, dims, keepdim)?;
            let hit = x.eq(&y)?.where_cond(&scalar_like(1.0, x)?, &scalar_like(0.0, x)?)?;
            let sdims: Vec<isize> = dims.iter().map(|&d| d as isize).collect();
            spread.mul(&hit.div(&hit.sum(&sdims, true)?)?)?
        }
    })
}

impl Var {
    /// Reduces over `dims` (empty: all), recording the op's backward rule.
    pub fn reduce(&self, op: ReduceOp, dims: &[isize], keepdim: bool) -> Result<Var> {
        let y = self.tensor().reduce(op, dims, keepdim)?;
        let dims = reduced_dims(self.tensor(), dims, op.name())?;
        let kept = keeps_values(op).then(|| (self.tensor().clone(), y.clone()));
        Ok(Var::record(op.name(), y, &[self], move |c| {
            Ok(vec![Some(gradient(op, c.grad, c.input_shape(0), kept.as_ref(), &dims, keepdim)?)])
        }))
    }

    tessera_tensor::reduce_methods!();

    /// Sum of every element, as a 0-dim Var.
    pub fn sum_all(&self) -> Result<Var> {
        let y = self.tensor().sum_all()?;
        Ok(Var::record("sum_all", y, &[self], |c| Ok(vec![Some(c.grad.expand(c.input_shape(0).clone())?)])))
    }

    /// Variance over `dims` (empty: all) with Bessel's `correction` (see `Tensor::variance`).
    pub fn variance(&self, dims: &[isize], keepdim: bool, correction: usize) -> Result<Var> {
        let y = self.tensor().variance(dims, keepdim, correction)?;
        let rdims = reduced_dims(self.tensor(), dims, "variance")?;
        let x = self.tensor().clone();
        Ok(Var::record("variance", y, &[self], move |c| {
            let sdims: Vec<isize> = rdims.iter().map(|&d| d as isize).collect();
            let centred = x.sub(&x.mean(&sdims, true)?)?;
            let denom = reduced_count(x.shape(), &rdims) as f64 - correction as f64;
            let g = unreduce(c.grad, x.shape(), &rdims, keepdim)?;
            Ok(vec![Some(g.mul(&centred)?.scale(2.0 / denom)?)])
        }))
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
