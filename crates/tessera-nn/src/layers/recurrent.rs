//! What LSTM and GRU share: PyTorch's per-layer parameters, their initialisation, and the
//! conversions between batch-first and time-major sequences.

use crate::{init, Error, MapFn, Part, Result};
use tessera_autograd::Var;
use tessera_tensor::{DType, Device, Generator, Tensor};

/// One layer's weights in PyTorch's layout: `weight_ih` `[gates * hidden, input]`, `weight_hh`
/// `[gates * hidden, hidden]`, `bias_ih` and `bias_hh` `[gates * hidden]`.
pub(crate) struct LayerWeights {
    pub(crate) w_ih: Var,
    pub(crate) w_hh: Var,
    pub(crate) b_ih: Var,
    pub(crate) b_hh: Var,
}

/// The shape of a stack of recurrent layers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecurrentShape {
    pub(crate) input: usize,
    pub(crate) hidden: usize,
    pub(crate) layers: usize,
    pub(crate) gates: usize,
    pub(crate) batch_first: bool,
}

impl RecurrentShape {
    /// Layers initialised as PyTorch does: every weight and bias uniform in
    /// `[-1/sqrt(hidden), 1/sqrt(hidden))`.
    pub(crate) fn init_layers(&self, g: &mut Generator, dtype: DType, device: &Device) -> Result<Vec<LayerWeights>> {
        if self.layers == 0 || self.hidden == 0 {
            return Err(Error::Config("recurrent layers need at least one layer and a hidden size".into()));
        }
        let bound = 1.0 / (self.hidden as f64).sqrt();
        let gh = self.gates * self.hidden;
        (0..self.layers)
            .map(|l| {
                let inp = if l == 0 { self.input } else { self.hidden };
                Ok(LayerWeights {
                    w_ih: Var::param(init::uniform(g, bound, [gh, inp], dtype, device)?)?,
                    w_hh: Var::param(init::uniform(g, bound, [gh, self.hidden], dtype, device)?)?,
                    b_ih: Var::param(init::uniform(g, bound, [gh], dtype, device)?)?,
                    b_hh: Var::param(init::uniform(g, bound, [gh], dtype, device)?)?,
                })
            })
            .collect()
    }

    /// Checks an input `[batch, seq, input]` (batch-first) or `[seq, batch, input]` of at least
    /// one step and returns it time-major with `(seq, batch)`.
    pub(crate) fn time_major(&self, layer: &str, x: &Var) -> Result<(Var, usize, usize)> {
        if x.rank() != 3 || x.dims()[2] != self.input {
            let expected = if self.batch_first { "[batch, seq, input]" } else { "[seq, batch, input]" };
            return Err(Error::BadInput {
                layer: layer.into(),
                expected: format!("{expected} with input = {}", self.input),
                got: x.shape().clone(),
            });
        }
        let seq = if self.batch_first { x.transpose(0, 1)? } else { x.clone() };
        let (t, b) = (seq.dims()[0], seq.dims()[1]);
        if t == 0 {
            let expected = "a sequence of at least one step".into();
            return Err(Error::BadInput { layer: layer.into(), expected, got: x.shape().clone() });
        }
        Ok((seq, t, b))
    }

    /// Converts a time-major output back to the caller's layout.
    pub(crate) fn caller_layout(&self, out: Var) -> Result<Var> {
        Ok(if self.batch_first { out.transpose(0, 1)? } else { out })
    }

    /// A zero state `[layers, batch, hidden]`, or a check of a given one.
    pub(crate) fn state_or_zeros(&self, layer: &str, given: Option<&Var>, batch: usize, like: &Tensor) -> Result<Var> {
        let dims = [self.layers, batch, self.hidden];
        match given {
            Some(s) if s.dims() == dims => Ok(s.clone()),
            Some(s) => Err(Error::BadInput {
                layer: layer.into(),
                expected: format!("a state of shape {dims:?}"),
                got: s.shape().clone(),
            }),
            None => Ok(Var::constant(Tensor::zeros(dims, like.dtype(), like.device())?)),
        }
    }

    /// The projection of every time step's input at once, `bias` added in the same GEMM:
    /// `[seq, batch, gates * hidden]`.
    pub(crate) fn input_projection(
        &self,
        x: &Var,
        w: &LayerWeights,
        bias: &Var,
        steps: usize,
        batch: usize,
    ) -> Result<Var> {
        let inp = x.dims()[2];
        let flat = x.reshape([steps * batch, inp])?;
        let proj = flat.matmul_bias(&w.w_ih.t()?, bias)?;
        Ok(proj.reshape([steps, batch, self.gates * self.hidden])?)
    }

    /// FLOPs per example for a sequence of `steps`: the two GEMMs of every gate, per layer.
    pub(crate) fn flops(&self, steps: usize, elementwise_per_unit: usize) -> u64 {
        (0..self.layers)
            .map(|l| {
                let inp = if l == 0 { self.input } else { self.hidden };
                let gh = self.gates * self.hidden;
                steps * (2 * gh * (inp + self.hidden) + elementwise_per_unit * self.hidden)
            })
            .sum::<usize>() as u64
    }
}

/// PyTorch's name of each of layer `l`'s tensors, for a stack of layers.
const NAMES: [&str; 4] = ["weight_ih", "weight_hh", "bias_ih", "bias_hh"];

/// A stack of layers' tensors as parts, with PyTorch's names (`weight_ih_l0`, ...).
pub(crate) fn parts(layers: &[LayerWeights]) -> Vec<(String, Part<'_>)> {
    let mut parts = Vec::new();
    for (l, w) in layers.iter().enumerate() {
        for (kind, v) in NAMES.iter().zip([&w.w_ih, &w.w_hh, &w.b_ih, &w.b_hh]) {
            parts.push((format!("{kind}_l{l}"), Part::Parameter(v)));
        }
    }
    parts
}

/// Replaces every tensor of a stack of layers by `f(name, tensor)`.
pub(crate) fn map_layers(layers: &mut [LayerWeights], f: &mut MapFn<'_>) -> Result<()> {
    for (l, w) in layers.iter_mut().enumerate() {
        for (kind, v) in NAMES.iter().zip([&mut w.w_ih, &mut w.w_hh, &mut w.b_ih, &mut w.b_hh]) {
            *v = f(&format!("{kind}_l{l}"), v)?;
        }
    }
    Ok(())
}

/// A recurrent layer type and what LSTM and GRU share beyond their recurrence (the type's own
/// `forward_with_state`): construction with PyTorch's initialisation, dropout between layers,
/// the parts with PyTorch's names, and the `Module` impl.
macro_rules! recurrent_layer {
    ($(#[$doc:meta])* $layer:ident, $gates:expr, $name:literal) => {
        $(#[$doc])*
        pub struct $layer {
            shape: super::recurrent::RecurrentShape,
            layers: Vec<super::recurrent::LayerWeights>,
            dropout: Option<$crate::Dropout>,
        }

        impl $layer {
            #[doc = concat!("`layers` stacked ", $name, "s from `input` to `hidden` features.")]
            pub fn new(
                g: &mut tessera_tensor::Generator,
                input: usize,
                hidden: usize,
                layers: usize,
                batch_first: bool,
                dtype: tessera_tensor::DType,
                device: &tessera_tensor::Device,
            ) -> $crate::Result<$layer> {
                let shape = super::recurrent::RecurrentShape { input, hidden, layers, gates: $gates, batch_first };
                Ok($layer { layers: shape.init_layers(g, dtype, device)?, shape, dropout: None })
            }

            /// Dropout with probability `p` on the outputs of every layer but the last (PyTorch's
            /// `dropout` argument).
            pub fn with_dropout(mut self, p: f64, seed: u64) -> $crate::Result<$layer> {
                self.dropout = if p > 0.0 { Some($crate::Dropout::new(p, seed)?) } else { None };
                Ok(self)
            }

            /// Reseeds the dropout between layers (see [`Dropout::reseed`](crate::Dropout::reseed)).
            pub fn reseed_dropout(&self, seed: u64) {
                if let Some(d) = &self.dropout {
                    d.reseed(seed);
                }
            }

            /// The hidden size.
            pub fn hidden_size(&self) -> usize {
                self.shape.hidden
            }

            /// The output of layer `l` as the next layer reads it (after dropout, but for the last).
            fn between_layers(&self, l: usize, seq: tessera_autograd::Var) -> $crate::Result<tessera_autograd::Var> {
                match &self.dropout {
                    Some(d) if l + 1 < self.layers.len() => $crate::Module::forward(d, &seq),
                    _ => Ok(seq),
                }
            }
        }

        impl $crate::ModuleParts for $layer {
            fn parts(&self) -> Vec<(String, $crate::Part<'_>)> {
                super::recurrent::parts(&self.layers)
            }

            fn map_parameters(&mut self, f: &mut $crate::MapFn<'_>) -> $crate::Result<()> {
                super::recurrent::map_layers(&mut self.layers, f)
            }
        }

        impl $crate::Module for $layer {
            fn forward(&self, x: &tessera_autograd::Var) -> $crate::Result<tessera_autograd::Var> {
                Ok(self.forward_with_state(x, None)?.0)
            }

            fn set_training(&self, training: bool) {
                if let Some(d) = &self.dropout {
                    d.set_training(training);
                }
            }

            fn share_dropout(&self, part: usize, parts: usize) -> $crate::Result<()> {
                self.dropout.as_ref().map_or(Ok(()), |d| $crate::Module::share_dropout(d, part, parts))
            }

            fn describe(&self) -> String {
                format!("{}({} -> {}, layers={})", $name, self.shape.input, self.shape.hidden, self.shape.layers)
            }

            fn flops_per_example(&self, input_dims: &[usize]) -> u64 {
                // One example is `[seq, input]` in either layout.
                self.shape.flops(input_dims.first().copied().unwrap_or(1), 8)
            }
        }
    };
}
pub(crate) use recurrent_layer;
