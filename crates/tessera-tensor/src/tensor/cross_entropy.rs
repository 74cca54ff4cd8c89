//! Log-sum-exp and the fused gradient of softmax cross-entropy.

use super::Tensor;
use crate::{Result, Storage};
use tessera_kernels::plan::{CrossEntropyBackwardPlan, LogSumExpPlan};

impl Tensor {
    /// `log(sum(exp(x)))` along `dim`, computed stably (shifted by the maximum): PyTorch's
    /// `torch.logsumexp`. An all `-inf` slice gives `-inf`.
    ///
    /// ```
    /// use tessera_tensor::{Device, Tensor};
    /// let x = Tensor::from_vec(vec![0f64, 0.0, 1000.0, 1000.0], [2, 2], &Device::Cpu)?;
    /// let lse = x.logsumexp(1, false)?.to_vec::<f64>()?;
    /// assert!((lse[0] - 2f64.ln()).abs() < 1e-12 && (lse[1] - 1000.0 - 2f64.ln()).abs() < 1e-9);
    /// # Ok::<(), tessera_tensor::Error>(())
    /// ```
    pub fn logsumexp(&self, dim: isize, keepdim: bool) -> Result<Tensor> {
        let plan = LogSumExpPlan::new(self.arg(), dim, keepdim)?;
        Ok(Tensor::from_storage(self.storage().logsumexp(&plan)?, plan.out_shape))
    }

    /// The gradient of softmax cross-entropy with respect to these logits `[n, classes]`, in one
    /// pass: `scale[i] * (softmax(logits)[i, j] - q[i, j])` where the target distribution `q` puts
    /// `1 - smoothing` on class `target[i]` and spreads `smoothing` evenly over all classes.
    ///
    /// `lse` is `self.logsumexp(1, false)` (`[n]`), `target` holds class indices (`[n]`, u32 or
    /// i64, each in `0..classes`: an out-of-range one is an error naming it), and `scale` (`[n]`,
    /// the logits' dtype) is each row's upstream gradient: `1 / n` for a mean, 0 for an ignored
    /// row.
    ///
    /// ```
    /// use tessera_tensor::{Device, Tensor};
    /// let dev = Device::Cpu;
    /// let logits = Tensor::from_vec(vec![0f64, 0.0], [1, 2], &dev)?;
    /// let target = Tensor::from_vec(vec![1u32], [1], &dev)?;
    /// let scale = Tensor::from_vec(vec![1f64], [1], &dev)?;
    /// let g = logits.cross_entropy_backward(&logits.logsumexp(1, false)?, &target, &scale, 0.0)?;
    /// assert_eq!(g.to_vec::<f64>()?, [0.5, -0.5]);
    /// # Ok::<(), tessera_tensor::Error>(())
    /// ```
    pub fn cross_entropy_backward(
        &self,
        lse: &Tensor,
        target: &Tensor,
        scale: &Tensor,
        smoothing: f64,
    ) -> Result<Tensor> {
        let plan = CrossEntropyBackwardPlan::new(self.arg(), lse.arg(), target.arg(), scale.arg(), smoothing)?;
        let parts = [&*self.storage(), &*lse.storage(), &*target.storage(), &*scale.storage()];
        let storage = Storage::cross_entropy_backward(&plan, parts)?;
        Ok(Tensor::from_storage(storage, self.shape().clone()))
    }

    /// Both halves of softmax cross-entropy at once, for a step that computes the loss and then
    /// differentiates it: each row's log-sum-exp (`[n]`, as `self.logsumexp(1, false)`) and the
    /// gradient that [`cross_entropy_backward`](Tensor::cross_entropy_backward) gives from it
    /// (`[n, classes]`), with the same arguments and errors. On the CPU one pass computes both,
    /// reading the logits once and taking each exponential once; on CUDA it runs the two halves.
    ///
    /// ```
    /// use tessera_tensor::{Device, Tensor};
    /// let dev = Device::Cpu;
    /// let logits = Tensor::from_vec(vec![0f64, 0.0], [1, 2], &dev)?;
    /// let target = Tensor::from_vec(vec![1u32], [1], &dev)?;
    /// let scale = Tensor::from_vec(vec![1f64], [1], &dev)?;
    /// let (lse, g) = logits.cross_entropy_with_grad(&target, &scale, 0.0)?;
    /// assert!((lse.to_vec::<f64>()?[0] - 2f64.ln()).abs() < 1e-15);
    /// assert_eq!(g.to_vec::<f64>()?, [0.5, -0.5]);
    /// # Ok::<(), tessera_tensor::Error>(())
    /// ```
    pub fn cross_entropy_with_grad(&self, target: &Tensor, scale: &Tensor, smoothing: f64) -> Result<(Tensor, Tensor)> {
        let plan = CrossEntropyBackwardPlan::with_own_lse(self.arg(), target.arg(), scale.arg(), smoothing)?;
        // The storages' read locks end with this statement: the composition takes them again.
        let fused = Storage::cross_entropy_with_grad(&plan, [&*self.storage(), &*target.storage(), &*scale.storage()])?;
        match fused {
            Some((lse, grad)) => {
                Ok((Tensor::from_storage(lse, [plan.n]), Tensor::from_storage(grad, self.shape().clone())))
            }
            None => {
                let lse = self.logsumexp(1, false)?;
                let grad = self.cross_entropy_backward(&lse, target, scale, smoothing)?;
                Ok((lse, grad))
            }
        }
    }
}
