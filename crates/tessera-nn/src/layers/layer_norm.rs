//! `LayerNorm` over the last dim.

use crate::{Error, Module, Result};
use tessera_autograd::Var;
use tessera_tensor::{DType, Device, Tensor};

/// `(x - mean) / sqrt(var + eps) * weight + bias` over the last dim (population variance), with
/// `weight` starting at ones and `bias` at zeros, as PyTorch's `LayerNorm(features)`.
#[derive(Module)]
pub struct LayerNorm {
    weight: Var,
    bias: Var,
    #[module(skip)]
    eps: f64,
}

impl LayerNorm {
    /// Normalises the last dim of size `features`.
    pub fn new(features: usize, eps: f64, dtype: DType, device: &Device) -> Result<LayerNorm> {
        Ok(LayerNorm {
            weight: Var::param(Tensor::ones([features], dtype, device)?)?,
            bias: Var::param(Tensor::zeros([features], dtype, device)?)?,
            eps,
        })
    }
}

impl Module for LayerNorm {
    fn forward(&self, x: &Var) -> Result<Var> {
        let n = self.weight.dims()[0];
        if x.dims().last() != Some(&n) {
            return Err(Error::BadInput {
                layer: self.describe(),
                expected: format!("[..., {n}]"),
                got: x.shape().clone(),
            });
        }
        let mean = x.mean(&[-1], true)?;
        let centred = x.sub(&mean)?;
        let var = centred.square()?.mean(&[-1], true)?;
        let inv_std = var.add_scalar(self.eps)?.sqrt()?.recip()?;
        Ok(centred.mul(&inv_std)?.mul(&self.weight)?.add(&self.bias)?)
    }

    fn describe(&self) -> String {
        format!("LayerNorm({})", self.weight.dims()[0])
    }

    fn flops_per_example(&self, dims: &[usize]) -> u64 {
        8 * dims.iter().product::<usize>() as u64
    }
}
