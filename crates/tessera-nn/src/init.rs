//! Parameter initialisation: PyTorch's defaults and the common schemes.
//!
//! Each function returns a new tensor drawn from a seeded [`Generator`], so a model built with
//! the same seed starts from the same weights, and from the same distributions as in PyTorch.

use crate::Result;
use tessera_tensor::{DType, Device, Generator, Shape, Tensor};

/// Uniform in `[-bound, bound)`.
pub fn uniform(
    g: &mut Generator,
    bound: f64,
    shape: impl Into<Shape>,
    dtype: DType,
    device: &Device,
) -> Result<Tensor> {
    Ok(Tensor::rand_uniform(g, -bound, bound, shape, dtype, device)?)
}

/// Normal with mean 0 and standard deviation `std`.
pub fn normal(g: &mut Generator, std: f64, shape: impl Into<Shape>, dtype: DType, device: &Device) -> Result<Tensor> {
    Ok(Tensor::rand_normal(g, 0.0, std, shape, dtype, device)?)
}

/// Fan-in and fan-out of a weight of `dims` (`[out, in, ...receptive field]`), as PyTorch
/// computes them.
pub fn fans(dims: &[usize]) -> (usize, usize) {
    let field: usize = dims.iter().skip(2).product();
    match dims {
        [] => (1, 1),
        [n] => (*n, *n),
        [out, inp, ..] => (inp * field, out * field),
    }
}

/// The gain for a leaky-ReLU slope `a` (`sqrt(2 / (1 + a^2))`; `a = 0` is ReLU's sqrt(2)).
pub fn leaky_relu_gain(a: f64) -> f64 {
    (2.0 / (1.0 + a * a)).sqrt()
}

/// An initialiser whose scale follows the weight's fans: `$draw` (uniform or normal) with the
/// bound or standard deviation `$scale`, computed from the parameter and `(fan_in, fan_out)`.
macro_rules! fan_scaled {
    ($(#[$doc:meta])* $name:ident($param:ident), $draw:ident, |$fan_in:pat_param, $fan_out:pat_param| $scale:expr) => {
        $(#[$doc])*
        pub fn $name(
            g: &mut Generator,
            $param: f64,
            shape: impl Into<Shape>,
            dtype: DType,
            device: &Device,
        ) -> Result<Tensor> {
            let shape = shape.into();
            let ($fan_in, $fan_out) = fans(shape.dims());
            $draw(g, $scale, shape, dtype, device)
        }
    };
}

fan_scaled!(
    /// Kaiming (He) uniform: `U(-b, b)` with `b = gain(a) * sqrt(3 / fan_in)`. PyTorch's default
    /// for `Linear` weights uses `a = sqrt(5)`, giving `b = 1 / sqrt(fan_in)`.
    kaiming_uniform(a), uniform, |fan_in, _| leaky_relu_gain(a) * (3.0 / fan_in.max(1) as f64).sqrt()
);

fan_scaled!(
    /// Kaiming (He) normal: `N(0, gain(a) / sqrt(fan_in))`.
    kaiming_normal(a), normal, |fan_in, _| leaky_relu_gain(a) / (fan_in.max(1) as f64).sqrt()
);

fan_scaled!(
    /// Xavier (Glorot) uniform: `U(-b, b)` with `b = gain * sqrt(6 / (fan_in + fan_out))`.
    xavier_uniform(gain), uniform, |fi, fo| gain * (6.0 / (fi + fo).max(1) as f64).sqrt()
);

fan_scaled!(
    /// Xavier (Glorot) normal: `N(0, gain * sqrt(2 / (fan_in + fan_out)))`.
    xavier_normal(gain), normal, |fi, fo| gain * (2.0 / (fi + fo).max(1) as f64).sqrt()
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds_follow_pytorch() {
        let mut g = Generator::new(0);
        let w = kaiming_uniform(&mut g, 5f64.sqrt(), [64, 100], DType::F64, &Device::Cpu).unwrap();
        let v = w.to_vec::<f64>().unwrap();
        let max = v.iter().fold(0f64, |m, x| m.max(x.abs()));
        assert!(max <= 0.1 && max > 0.095, "bound 1/sqrt(100), max {max}");
        assert_eq!(fans(&[8, 3, 5, 5]), (75, 200));
        let x = xavier_normal(&mut g, 1.0, [200, 300], DType::F64, &Device::Cpu).unwrap().to_vec::<f64>().unwrap();
        let var = x.iter().map(|v| v * v).sum::<f64>() / x.len() as f64;
        assert!((var - 2.0 / 500.0).abs() < 2e-4, "{var}");
    }
}
