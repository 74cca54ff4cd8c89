//! Reductions, softmax and matmul. The reduction methods (`sum`, `mean`, `max`, `min`) are
//! generated from the reduction table (`tessera_kernels::ops`).

use super::Tensor;
use crate::{Result, Storage};
use tessera_kernels::ops::{ArgReduceOp, ReduceOp, SoftmaxKind};
use tessera_kernels::plan::{MatmulPlan, ReducePlan, SoftmaxPlan, SumSquaresPlan};

impl Tensor {
    fn reduced(&self, plan: ReducePlan) -> Result<Tensor> {
        Ok(Tensor::from_storage(self.storage().reduce(&plan)?, plan.out_shape))
    }

    /// Reduces over `dims` (every dim when empty; negative dims count from the end), dropping
    /// them or keeping them as size 1.
    pub fn reduce(&self, op: ReduceOp, dims: &[isize], keepdim: bool) -> Result<Tensor> {
        self.reduced(ReducePlan::reduce(op, self.arg(), dims, keepdim)?)
    }

    tessera_kernels::reduce_methods!();

    /// Sum of every element, as a 0-dim tensor.
    pub fn sum_all(&self) -> Result<Tensor> {
        self.sum(&[], false)
    }

    /// The sum of the squares of every element (a gradient's squared L2 norm) as a 0-dim tensor,
    /// accumulated and returned in f32 (f64 for f64 input), so that f16 values past 256 do not
    /// overflow; float dtypes. On the CPU one pass without a squared copy, with the same bits on
    /// any number of threads; on CUDA a cast, `square` and `sum`.
    ///
    /// ```
    /// use tessera_tensor::{DType, Device, Tensor};
    /// let g = Tensor::from_vec(vec![300f32, 400.0], [2], &Device::Cpu)?.to_dtype(DType::F16)?;
    /// let s = g.sum_squares()?;
    /// assert_eq!((s.dtype(), s.to_scalar_f64()?), (DType::F32, 250_000.0));
    /// # Ok::<(), tessera_tensor::Error>(())
    /// ```
    pub fn sum_squares(&self) -> Result<Tensor> {
        let plan = SumSquaresPlan::new(self.arg())?;
        // The storage's read lock ends with this statement: the composition takes it again.
        let fused = self.storage().sum_squares(&plan)?;
        match fused {
            Some(s) => Ok(Tensor::from_storage(s, [])),
            None => self.to_dtype(plan.out_dtype)?.square()?.sum_all(),
        }
    }

    /// Variance over `dims` with Bessel's `correction` (1: unbiased, PyTorch's default); floats.
    pub fn variance(&self, dims: &[isize], keepdim: bool, correction: usize) -> Result<Tensor> {
        self.reduced(ReducePlan::variance(self.arg(), dims, keepdim, correction)?)
    }

    /// Index (i64) of the maximum along `dim`; the first on ties, NaN counts as the maximum.
    pub fn argmax(&self, dim: isize, keepdim: bool) -> Result<Tensor> {
        self.reduced(ReducePlan::arg(ArgReduceOp::ArgMax, self.arg(), dim, keepdim)?)
    }

    /// Index (i64) of the minimum along `dim`; the first on ties, NaN counts as the minimum.
    pub fn argmin(&self, dim: isize, keepdim: bool) -> Result<Tensor> {
        self.reduced(ReducePlan::arg(ArgReduceOp::ArgMin, self.arg(), dim, keepdim)?)
    }

    fn softmax_kind(&self, kind: SoftmaxKind, dim: isize) -> Result<Tensor> {
        let plan = SoftmaxPlan::new(kind, self.arg(), dim)?;
        Ok(Tensor::from_storage(self.storage().softmax(&plan)?, plan.out_shape))
    }

    /// Softmax along `dim`, numerically stable (the row maximum is subtracted); float dtypes.
    pub fn softmax(&self, dim: isize) -> Result<Tensor> {
        self.softmax_kind(SoftmaxKind::Softmax, dim)
    }

    /// Log-softmax along `dim`, numerically stable; float dtypes.
    pub fn log_softmax(&self, dim: isize) -> Result<Tensor> {
        self.softmax_kind(SoftmaxKind::LogSoftmax, dim)
    }

    /// Matrix product `[..., m, k] @ [..., k, n]` with broadcast batch dims. Transposed views are
    /// read in place, without a copy. Both operands need rank >= 2 (use `unsqueeze` for vectors).
    pub fn matmul(&self, rhs: &Tensor) -> Result<Tensor> {
        let plan = MatmulPlan::new(self.arg(), rhs.arg(), None)?;
        let storage = Storage::matmul(&plan, &self.storage(), &rhs.storage(), None)?;
        Ok(Tensor::from_storage(storage, plan.out_shape()))
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
        let plan = MatmulPlan::new(self.arg(), rhs.arg(), Some(bias.arg()))?;
        let storage = Storage::matmul(&plan, &self.storage(), &rhs.storage(), Some(&bias.storage()))?;
        Ok(Tensor::from_storage(storage, plan.out_shape()))
    }
}
