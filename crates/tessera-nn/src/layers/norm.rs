//! `LayerNorm` and `RmsNorm` over the last dim, each one fused op forward and backward.

use crate::{Error, Module, Result};
use tessera_autograd::Var;
use tessera_tensor::{DType, Device, Tensor};

/// The error for an input whose last dim is not the layer's width.
fn check_width(layer: &dyn Module, width: usize, x: &Var) -> Result<()> {
    if x.dims().last() != Some(&width) {
        return Err(Error::BadInput {
            layer: layer.describe(),
            expected: format!("[..., {width}]"),
            got: x.shape().clone(),
        });
    }
    Ok(())
}

/// `(x - mean) / sqrt(var + eps) * weight + bias` over the last dim (population variance), with
/// `weight` starting at ones and `bias` at zeros, as PyTorch's `LayerNorm(features)`; without a
/// bias, as PyTorch's `LayerNorm(features, bias=False)` and nanoGPT's.
#[derive(Module)]
pub struct LayerNorm {
    weight: Var,
    bias: Option<Var>,
    #[module(skip)]
    eps: f64,
}

impl LayerNorm {
    /// Normalises the last dim of size `features`, with a weight and a bias.
    pub fn new(features: usize, eps: f64, dtype: DType, device: &Device) -> Result<LayerNorm> {
        let mut norm = LayerNorm::no_bias(features, eps, dtype, device)?;
        norm.bias = Some(Var::param(Tensor::zeros([features], dtype, device)?)?);
        Ok(norm)
    }

    /// Normalises the last dim of size `features`, with a weight only.
    pub fn no_bias(features: usize, eps: f64, dtype: DType, device: &Device) -> Result<LayerNorm> {
        Ok(LayerNorm { weight: Var::param(Tensor::ones([features], dtype, device)?)?, bias: None, eps })
    }
}

impl Module for LayerNorm {
    fn forward(&self, x: &Var) -> Result<Var> {
        check_width(self, self.weight.dims()[0], x)?;
        Ok(x.layer_norm(Some(&self.weight), self.bias.as_ref(), self.eps)?)
    }

    fn describe(&self) -> String {
        format!("LayerNorm({})", self.weight.dims()[0])
    }

    fn flops_per_example(&self, dims: &[usize]) -> u64 {
        8 * dims.iter().product::<usize>() as u64
    }
}

/// `x / sqrt(mean(x²) + eps) * weight` over the last dim, `weight` starting at ones, as
/// PyTorch's `RMSNorm(features, eps)`.
#[derive(Module)]
pub struct RmsNorm {
    weight: Var,
    #[module(skip)]
    eps: f64,
}

impl RmsNorm {
    /// Normalises the last dim of size `features`.
    pub fn new(features: usize, eps: f64, dtype: DType, device: &Device) -> Result<RmsNorm> {
        Ok(RmsNorm { weight: Var::param(Tensor::ones([features], dtype, device)?)?, eps })
    }
}

impl Module for RmsNorm {
    fn forward(&self, x: &Var) -> Result<Var> {
        check_width(self, self.weight.dims()[0], x)?;
        Ok(x.rms_norm(Some(&self.weight), self.eps)?)
    }

    fn describe(&self) -> String {
        format!("RmsNorm({})", self.weight.dims()[0])
    }

    fn flops_per_example(&self, dims: &[usize]) -> u64 {
        5 * dims.iter().product::<usize>() as u64
    }
}
