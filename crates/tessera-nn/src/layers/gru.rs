//! `GRU`: PyTorch's gated recurrent unit layer.

use super::recurrent::{recurrent_parts, LayerWeights, RecurrentShape};
use crate::{Error, Module, Result};
use tessera_autograd::Var;
use tessera_tensor::{DType, Device, Generator};

/// A multi-layer GRU with PyTorch's gate order (reset, update, new), parameter names and
/// initialisation: `n = tanh(W_in x + b_in + r * (W_hn h + b_hn))`, `h' = (1 - z) * n + z * h`.
pub struct Gru {
    shape: RecurrentShape,
    layers: Vec<LayerWeights>,
}

impl Gru {
    /// `layers` stacked GRUs from `input` to `hidden` features.
    pub fn new(
        g: &mut Generator,
        input: usize,
        hidden: usize,
        layers: usize,
        batch_first: bool,
        dtype: DType,
        device: &Device,
    ) -> Result<Gru> {
        let shape = RecurrentShape { input, hidden, layers, gates: 3, batch_first };
        Ok(Gru { layers: shape.init_layers(g, dtype, device)?, shape })
    }

    /// Runs the sequence from `h0` (`[layers, batch, hidden]`, zeros when `None`): returns the
    /// last layer's output at every step and the final hidden state.
    pub fn forward_with_state(&self, x: &Var, h0: Option<&Var>) -> Result<(Var, Var)> {
        let name = self.describe();
        let (mut seq, steps, batch) = self.shape.time_major(&name, x)?;
        let h0 = self.shape.state_or_zeros(&name, h0, batch, x.tensor())?;
        if steps == 0 {
            return Err(Error::BadInput {
                layer: name,
                expected: "a sequence of at least one step".into(),
                got: x.shape().clone(),
            });
        }
        let hs = self.shape.hidden;
        let mut h_last = Vec::new();
        for (l, w) in self.layers.iter().enumerate() {
            let proj = self.shape.input_projection(&seq, w, steps, batch)?;
            let w_hh_t = w.w_hh.t()?;
            let mut h = h0.narrow(0, l, 1)?.squeeze(0)?;
            let mut outputs = Vec::with_capacity(steps);
            for t in 0..steps {
                let gx = proj.narrow(0, t, 1)?.squeeze(0)?;
                let gh = h.matmul(&w_hh_t)?.add(&w.b_hh)?;
                let r = gx.narrow(1, 0, hs)?.add(&gh.narrow(1, 0, hs)?)?.sigmoid()?;
                let z = gx.narrow(1, hs, hs)?.add(&gh.narrow(1, hs, hs)?)?.sigmoid()?;
                let n = gx.narrow(1, 2 * hs, hs)?.add(&r.mul(&gh.narrow(1, 2 * hs, hs)?)?)?.tanh()?;
                h = n.add(&z.mul(&h.sub(&n)?)?)?;
                outputs.push(h.clone());
            }
            h_last.push(h);
            seq = Var::stack(&outputs, 0)?;
        }
        Ok((self.shape.caller_layout(seq)?, Var::stack(&h_last, 0)?))
    }
}

recurrent_parts!(Gru);

impl Module for Gru {
    fn forward(&self, x: &Var) -> Result<Var> {
        Ok(self.forward_with_state(x, None)?.0)
    }

    fn describe(&self) -> String {
        format!("GRU({} -> {}, layers={})", self.shape.input, self.shape.hidden, self.shape.layers)
    }

    fn flops_per_example(&self, input_dims: &[usize]) -> u64 {
        self.shape.flops(input_dims.first().copied().unwrap_or(1), 8)
    }
}
