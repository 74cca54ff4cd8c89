//! `BatchNorm1d` and `BatchNorm2d`: per-channel normalisation with batch statistics in training
//! and running statistics in evaluation, on the fused batch-norm op.

use crate::{Buffer, Error, Module, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use tessera_autograd::Var;
use tessera_tensor::{DType, Device, Tensor};

/// How a batch-norm layer is set up: PyTorch's constructor arguments.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchNormConfig {
    /// Added to the variance before its square root.
    pub eps: f64,
    /// Weight of a new batch in the running statistics; `None` averages every batch seen
    /// equally (PyTorch's `momentum=None`).
    pub momentum: Option<f64>,
    /// Whether the layer has a learned per-channel weight and bias.
    pub affine: bool,
}

impl Default for BatchNormConfig {
    /// PyTorch's defaults: `eps = 1e-5`, `momentum = 0.1`, affine.
    fn default() -> Self {
        BatchNormConfig { eps: 1e-5, momentum: Some(0.1), affine: true }
    }
}

/// Batch normalisation over the channel dim (dim 1) of its input: `BatchNorm1d` (`[N, C]` or
/// `[N, C, L]`) and `BatchNorm2d` (`[N, C, H, W]`) differ only in the ranks they accept. State
/// names are PyTorch's: `weight`, `bias`, and the buffers `running_mean`, `running_var`,
/// `num_batches_tracked`.
#[derive(Module)]
pub struct BatchNorm {
    weight: Option<Var>,
    bias: Option<Var>,
    running_mean: Buffer,
    running_var: Buffer,
    num_batches_tracked: Buffer,
    #[module(skip)]
    config: BatchNormConfig,
    #[module(skip)]
    ranks: &'static [usize],
    #[module(skip)]
    training: AtomicBool,
}

/// `BatchNorm1d`: over `[N, C]` or `[N, C, L]`.
pub type BatchNorm1d = BatchNorm;
/// `BatchNorm2d`: over `[N, C, H, W]`.
pub type BatchNorm2d = BatchNorm;

impl BatchNorm {
    /// PyTorch's `BatchNorm1d(channels)` with `config`.
    pub fn new_1d(channels: usize, config: BatchNormConfig, dtype: DType, device: &Device) -> Result<BatchNorm> {
        BatchNorm::build(channels, config, &[2, 3], dtype, device)
    }

    /// PyTorch's `BatchNorm2d(channels)` with `config`.
    ///
    /// ```
    /// use tessera_autograd::Var;
    /// use tessera_nn::{BatchNorm2d, BatchNormConfig, Module};
    /// use tessera_tensor::{DType, Device, Tensor};
    /// let bn = BatchNorm2d::new_2d(3, BatchNormConfig::default(), DType::F32, &Device::Cpu)?;
    /// let names: Vec<String> = tessera_nn::state_dict::state_dict(&bn).into_iter().map(|(n, _)| n).collect();
    /// assert_eq!(names, ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]);
    /// # Ok::<(), tessera_nn::Error>(())
    /// ```
    pub fn new_2d(channels: usize, config: BatchNormConfig, dtype: DType, device: &Device) -> Result<BatchNorm> {
        BatchNorm::build(channels, config, &[4], dtype, device)
    }

    fn build(
        channels: usize,
        config: BatchNormConfig,
        ranks: &'static [usize],
        dtype: DType,
        device: &Device,
    ) -> Result<BatchNorm> {
        let bad_momentum = config.momentum.is_some_and(|m| !(0.0..=1.0).contains(&m));
        if channels == 0 || config.eps.is_nan() || config.eps <= 0.0 || bad_momentum {
            return Err(Error::Config(format!(
                "BatchNorm: channels {channels} must be at least 1, eps {} positive and momentum {:?} in [0, 1]",
                config.eps, config.momentum
            )));
        }
        let param = |t: Tensor| Var::param(t).map(Some);
        let (weight, bias) = if config.affine {
            (param(Tensor::ones([channels], dtype, device)?)?, param(Tensor::zeros([channels], dtype, device)?)?)
        } else {
            (None, None)
        };
        Ok(BatchNorm {
            weight,
            bias,
            running_mean: Buffer::new(Tensor::zeros([channels], dtype, device)?),
            running_var: Buffer::new(Tensor::ones([channels], dtype, device)?),
            num_batches_tracked: Buffer::new(Tensor::zeros(Vec::<usize>::new(), DType::I64, device)?),
            config,
            ranks,
            training: AtomicBool::new(true),
        })
    }

    /// The channels it normalises.
    pub fn channels(&self) -> usize {
        self.running_mean.get().dims()[0]
    }

    /// The running mean `[C]`.
    pub fn running_mean(&self) -> Tensor {
        self.running_mean.get()
    }

    /// The running (unbiased) variance `[C]`.
    pub fn running_var(&self) -> Tensor {
        self.running_var.get()
    }

    /// Folds a batch's statistics into the running ones, as PyTorch does after each training
    /// forward.
    fn track(&self, mean: &Tensor, var: &Tensor) -> Result<()> {
        let seen = self.num_batches_tracked.get().to_vec::<i64>()?.first().copied().unwrap_or(0) + 1;
        let device = *self.running_mean.get().device();
        self.num_batches_tracked.set(Tensor::from_vec(vec![seen], Vec::<usize>::new(), &device)?);
        let m = self.config.momentum.unwrap_or(1.0 / seen as f64);
        for (buffer, batch) in [(&self.running_mean, mean), (&self.running_var, var)] {
            let old = buffer.get();
            let batch = batch.to_dtype(old.dtype())?;
            buffer.set(old.scale(1.0 - m)?.add(&batch.scale(m)?)?);
        }
        Ok(())
    }
}

impl Module for BatchNorm {
    fn forward(&self, x: &Var) -> Result<Var> {
        let c = self.channels();
        if !self.ranks.contains(&x.rank()) || x.dims()[1] != c {
            let expected =
                if self.ranks == [4] { format!("[N, {c}, H, W]") } else { format!("[N, {c}] or [N, {c}, L]") };
            return Err(Error::BadInput { layer: self.describe(), expected, got: x.shape().clone() });
        }
        let (w, b, eps) = (self.weight.as_ref(), self.bias.as_ref(), self.config.eps);
        if self.training.load(Ordering::Relaxed) {
            let (y, stats) = x.batch_norm(w, b, None, true, eps)?;
            if let Some(s) = stats {
                self.track(&s.mean, &s.var)?;
            }
            Ok(y)
        } else {
            let (mean, var) = (self.running_mean.get(), self.running_var.get());
            Ok(x.batch_norm(w, b, Some((&mean, &var)), false, eps)?.0)
        }
    }

    fn set_training(&self, training: bool) {
        self.training.store(training, Ordering::Relaxed);
    }

    fn describe(&self) -> String {
        let kind = if self.ranks == [4] { "BatchNorm2d" } else { "BatchNorm1d" };
        format!("{kind}({})", self.channels())
    }

    fn flops_per_example(&self, dims: &[usize]) -> u64 {
        4 * dims.iter().product::<usize>() as u64
    }
}
