//! The `Module` trait: what every layer and model implements.

use crate::Result;
use tessera_autograd::Var;

/// Named parameters, in a fixed order (the order of registration).
pub type Parameters = Vec<(String, Var)>;

/// A layer or a model: a forward computation with named, trainable parameters.
pub trait Module: Send + Sync {
    /// Computes the output for `input`.
    fn forward(&self, input: &Var) -> Result<Var>;

    /// The parameters, named relative to this module (`weight`, `0.bias`,
    /// `encoder.lstm.weight_ih_l0`), as PyTorch's `named_parameters()` names them.
    fn parameters(&self) -> Parameters {
        Vec::new()
    }

    /// Switches between training (dropout active) and evaluation mode; containers forward it to
    /// their children.
    fn set_training(&self, _training: bool) {}

    /// A short description for summaries, e.g. `Linear(784 -> 128)`.
    fn describe(&self) -> String;

    /// Floating-point operations per example for an input of `input_dims` (one example, without
    /// the batch dim), counting a multiply-add as 2.
    fn flops_per_example(&self, _input_dims: &[usize]) -> u64 {
        0
    }

    /// The direct sub-modules with their names, for summaries (empty for leaf layers).
    fn children(&self) -> Vec<(String, &dyn Module)> {
        Vec::new()
    }

    /// Number of trainable scalars.
    fn parameter_count(&self) -> usize {
        self.parameters().iter().map(|(_, p)| p.tensor().elem_count()).sum()
    }

    /// Forgets every parameter's accumulated gradient.
    fn zero_grad(&self) {
        for (_, p) in self.parameters() {
            p.zero_grad();
        }
    }
}

/// Prefixes every parameter name with `prefix.` (for models that hold layers as fields).
pub fn prefixed(prefix: &str, params: Parameters) -> Parameters {
    params.into_iter().map(|(n, p)| (format!("{prefix}.{n}"), p)).collect()
}
