//! Reductions, softmax and matmul.

use super::Tensor;
use crate::Result;
use tessera_core::Error;
use tessera_kernels::ops::ReduceOp;

impl Tensor {
    /// Resolves reduction dims; an empty list means every dim (as `x.sum()` in PyTorch).
    fn reduce_dims(&self, dims: &[isize], op: &'static str) -> Result<Vec<usize>> {
        if dims.is_empty() {
            return Ok((0..self.rank()).collect());
        }
        Ok(self.shape().dims_sorted(dims, op)?)
    }

    /// Applies a reduction over `dims` (empty: all dims).
    pub fn reduce(&self, op: ReduceOp, dims: &[isize], keepdim: bool) -> Result<Tensor> {
        let dims = self.reduce_dims(dims, op.name())?;
        let (storage, shape) = self.storage().reduce(op, self.layout(), &dims, keepdim)?;
        Ok(Tensor::from_storage(storage, shape))
    }

    /// Sum over `dims` (empty: all). Integer sums are `i64`.
    pub fn sum(&self, dims: &[isize], keepdim: bool) -> Result<Tensor> {
        self.reduce(ReduceOp::Sum, dims, keepdim)
    }

    /// Sum of every element, as a 0-dim tensor.
    pub fn sum_all(&self) -> Result<Tensor> {
        self.sum(&[], false)
    }

    /// Mean over `dims` (empty: all). Float dtypes.
    pub fn mean(&self, dims: &[isize], keepdim: bool) -> Result<Tensor> {
        self.reduce(ReduceOp::Mean, dims, keepdim)
    }

    /// Maximum over `dims` (empty: all); NaN propagates.
    pub fn max(&self, dims: &[isize], keepdim: bool) -> Result<Tensor> {
        self.reduce(ReduceOp::Max, dims, keepdim)
    }

    /// Minimum over `dims` (empty: all); NaN propagates.
    pub fn min(&self, dims: &[isize], keepdim: bool) -> Result<Tensor> {
        self.reduce(ReduceOp::Min, dims, keepdim)
    }

    /// Variance over `dims` (empty: all) with Bessel's `correction` (1: unbiased, PyTorch's
    /// default; 0: the population variance).
    pub fn var(&self, dims: &[isize], keepdim: bool, correction: usize) -> Result<Tensor> {
        let dims = self.reduce_dims(dims, "var")?;
        let (storage, shape) = self.storage().var(self.layout(), &dims, keepdim, correction)?;
        Ok(Tensor::from_storage(storage, shape))
    }

    /// Index (`i64`) of the maximum along `dim`; first wins on ties.
    pub fn argmax(&self, dim: isize, keepdim: bool) -> Result<Tensor> {
        self.arg_reduce(dim, keepdim, true, "argmax")
    }

    /// Index (`i64`) of the minimum along `dim`; first wins on ties.
    pub fn argmin(&self, dim: isize, keepdim: bool) -> Result<Tensor> {
        self.arg_reduce(dim, keepdim, false, "argmin")
    }

    fn arg_reduce(&self, dim: isize, keepdim: bool, greater: bool, op: &'static str) -> Result<Tensor> {
        let d = self.shape().dim(dim, op)?;
        let (storage, shape) = self.storage().arg_reduce(self.layout(), d, keepdim, greater)?;
        Ok(Tensor::from_storage(storage, shape))
    }

    /// Softmax along `dim`, numerically stable.
    pub fn softmax(&self, dim: isize) -> Result<Tensor> {
        let d = self.shape().dim(dim, "softmax")?;
        Ok(Tensor::from_storage(self.storage().softmax(self.layout(), d, false)?, self.shape().clone()))
    }

    /// Log-softmax along `dim`, numerically stable.
    pub fn log_softmax(&self, dim: isize) -> Result<Tensor> {
        let d = self.shape().dim(dim, "log_softmax")?;
        Ok(Tensor::from_storage(self.storage().softmax(self.layout(), d, true)?, self.shape().clone()))
    }

    /// Matrix product `[..., m, k] @ [..., k, n]` with broadcast batch dims. Transposed views are
    /// read in place, without a copy. Both operands need rank >= 2 (use `unsqueeze` for vectors).
    pub fn matmul(&self, rhs: &Tensor) -> Result<Tensor> {
        self.check_same_device("matmul", rhs)?;
        if self.rank() < 2 || rhs.rank() < 2 {
            return Err(
                Error::ShapeMismatch { op: "matmul", lhs: self.shape().clone(), rhs: rhs.shape().clone() }.into()
            );
        }
        let (storage, shape) = self.storage().matmul(self.layout(), &rhs.storage(), rhs.layout())?;
        Ok(Tensor::from_storage(storage, shape))
    }

    /// `self @ rhs + bias` with `bias` of shape `[n]` added to every row of the product: what a
    /// linear layer computes, in one pass (the product accumulates onto the bias rows).
    ///
    /// ```
    /// use tessera_tensor::{Device, Tensor};
    /// let x = Tensor::from_vec(vec![1f32, 2.0], [1, 2], &Device::Cpu)?;
    /// let w = Tensor::from_vec(vec![1f32, 0.0, 0.0, 1.0], [2, 2], &Device::Cpu)?;
    /// let b = Tensor::from_vec(vec![10f32, 20.0], [2], &Device::Cpu)?;
    /// assert_eq!(x.matmul_bias(&w, &b)?.to_vec::<f32>()?, [11.0, 22.0]);
    /// # Ok::<(), tessera_tensor::Error>(())
    /// ```
    pub fn matmul_bias(&self, rhs: &Tensor, bias: &Tensor) -> Result<Tensor> {
        self.check_same_device("matmul_bias", rhs)?;
        self.check_same_device("matmul_bias", bias)?;
        if self.rank() < 2 || rhs.rank() < 2 {
            return Err(Error::ShapeMismatch {
                op: "matmul_bias",
                lhs: self.shape().clone(),
                rhs: rhs.shape().clone(),
            }
            .into());
        }
        let (storage, shape) = self.storage().matmul_bias(
            self.layout(),
            (&rhs.storage(), rhs.layout()),
            (&bias.storage(), bias.layout()),
        )?;
        Ok(Tensor::from_storage(storage, shape))
    }
}
