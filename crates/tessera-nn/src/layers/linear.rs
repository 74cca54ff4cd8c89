//! `Linear` (Keras' `Dense`): `y = x W^T + b`.

use crate::{init, Error, Module, Result};
use tessera_autograd::Var;
use tessera_tensor::{DType, Device, Generator, Tensor};

/// A fully connected layer with PyTorch's layout: `weight` is `[out, in]`, `bias` `[out]`.
/// Accepts inputs `[..., in]`.
#[derive(Module)]
pub struct Linear {
    weight: Var,
    bias: Option<Var>,
}

impl Linear {
    /// A layer with PyTorch's default initialisation: weight and bias uniform in
    /// `[-1/sqrt(in), 1/sqrt(in))`.
    pub fn new(g: &mut Generator, inputs: usize, outputs: usize, dtype: DType, device: &Device) -> Result<Linear> {
        let weight = init::kaiming_uniform(g, 5f64.sqrt(), [outputs, inputs], dtype, device)?;
        let bias = init::uniform(g, 1.0 / (inputs.max(1) as f64).sqrt(), [outputs], dtype, device)?;
        Linear::from_tensors(weight, Some(bias))
    }

    /// A layer initialised as [`Linear::new`], with a bias only when `bias` holds (PyTorch's
    /// `Linear(in, out, bias=...)`).
    pub fn with_bias(
        g: &mut Generator,
        inputs: usize,
        outputs: usize,
        bias: bool,
        dtype: DType,
        device: &Device,
    ) -> Result<Linear> {
        let mut layer = Linear::new(g, inputs, outputs, dtype, device)?;
        if !bias {
            layer.bias = None;
        }
        Ok(layer)
    }

    /// A layer with the given weight `[out, in]` and optional bias `[out]`.
    pub fn from_tensors(weight: Tensor, bias: Option<Tensor>) -> Result<Linear> {
        if weight.rank() != 2 || bias.as_ref().is_some_and(|b| b.dims() != [weight.dims()[0]]) {
            return Err(Error::Config(format!(
                "Linear: weight must be [out, in] and bias [out], got {} and {:?}",
                weight.shape(),
                bias.as_ref().map(|b| b.shape().clone())
            )));
        }
        Ok(Linear { weight: Var::param(weight)?, bias: bias.map(Var::param).transpose()? })
    }

    /// The weight `[out, in]`.
    pub fn weight(&self) -> &Var {
        &self.weight
    }

    /// The bias `[out]`, if any.
    pub fn bias(&self) -> Option<&Var> {
        self.bias.as_ref()
    }

    fn in_out(&self) -> (usize, usize) {
        (self.weight.dims()[1], self.weight.dims()[0])
    }
}

impl Module for Linear {
    fn forward(&self, x: &Var) -> Result<Var> {
        let (inputs, _) = self.in_out();
        if x.dims().last() != Some(&inputs) || x.rank() < 2 {
            return Err(Error::BadInput {
                layer: self.describe(),
                expected: format!("[..., {inputs}]"),
                got: x.shape().clone(),
            });
        }
        // The transposed weight is a view: the matmul reads it in place.
        let w_t = self.weight.t()?;
        Ok(match &self.bias {
            Some(b) => x.matmul_bias(&w_t, b)?,
            None => x.matmul(&w_t)?,
        })
    }

    fn describe(&self) -> String {
        let (i, o) = self.in_out();
        format!("Linear({i} -> {o})")
    }

    fn flops_per_example(&self, input_dims: &[usize]) -> u64 {
        let (i, o) = self.in_out();
        let rows: usize = input_dims[..input_dims.len().saturating_sub(1)].iter().product();
        (rows * o * (2 * i + self.bias.is_some() as usize)) as u64
    }
}
