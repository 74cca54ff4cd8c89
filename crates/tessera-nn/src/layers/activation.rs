//! Activation layers (no parameters).

use crate::{Module, Result};
use tessera_autograd::Var;

macro_rules! activation {
    ($name:ident, $doc:literal, $method:ident, $flops:expr) => {
        #[doc = $doc]
        #[derive(Debug, Clone, Copy, Default, Module)]
        pub struct $name;

        impl Module for $name {
            fn forward(&self, x: &Var) -> Result<Var> {
                Ok(x.$method()?)
            }
            fn describe(&self) -> String {
                stringify!($name).to_string()
            }
            fn flops_per_example(&self, dims: &[usize]) -> u64 {
                dims.iter().product::<usize>() as u64 * $flops
            }
        }
    };
}

activation!(Relu, "`max(x, 0)`.", relu, 1);
activation!(Tanh, "Hyperbolic tangent.", tanh, 1);
activation!(Sigmoid, "Logistic sigmoid.", sigmoid, 1);

/// GELU, exact (erf) or with PyTorch's `approximate="tanh"`.
#[derive(Debug, Clone, Copy, Default, Module)]
pub struct Gelu {
    /// Use the tanh approximation.
    #[module(skip)]
    pub tanh_approximation: bool,
}

impl Module for Gelu {
    fn forward(&self, x: &Var) -> Result<Var> {
        Ok(if self.tanh_approximation { x.gelu_tanh()? } else { x.gelu()? })
    }
    fn describe(&self) -> String {
        if self.tanh_approximation {
            "GELU(tanh)".into()
        } else {
            "GELU".into()
        }
    }
    fn flops_per_example(&self, dims: &[usize]) -> u64 {
        dims.iter().product::<usize>() as u64
    }
}

macro_rules! along_dim {
    ($name:ident, $doc:literal, $method:ident) => {
        #[doc = $doc]
        #[derive(Debug, Clone, Copy, Module)]
        pub struct $name {
            /// The dim, negative counting from the end.
            #[module(skip)]
            pub dim: isize,
        }

        impl Module for $name {
            fn forward(&self, x: &Var) -> Result<Var> {
                Ok(x.$method(self.dim)?)
            }
            fn describe(&self) -> String {
                format!("{}(dim={})", stringify!($name), self.dim)
            }
            fn flops_per_example(&self, dims: &[usize]) -> u64 {
                3 * dims.iter().product::<usize>() as u64
            }
        }
    };
}

along_dim!(Softmax, "Softmax along `dim` (Keras' `Dense(..., activation=\"softmax\")` ends with this).", softmax);
along_dim!(LogSoftmax, "Log-softmax along `dim`.", log_softmax);
