//! `LSTM`: PyTorch's long short-term memory layer.

use super::lstm_cell::lstm_sequence;
use super::recurrent::{recurrent_parts, LayerWeights, RecurrentShape};
use crate::{Dropout, Error, Module, Result};
use tessera_autograd::Var;
use tessera_tensor::{DType, Device, Generator};

/// The hidden and cell states, each `[layers, batch, hidden]`.
#[derive(Clone)]
pub struct LstmState {
    /// Hidden state.
    pub h: Var,
    /// Cell state.
    pub c: Var,
}

impl LstmState {
    /// The same values cut from the graph: carry the state across batches in truncated
    /// backpropagation through time.
    pub fn detach(&self) -> LstmState {
        LstmState { h: self.h.detach(), c: self.c.detach() }
    }
}

/// A multi-layer LSTM with PyTorch's gate order (input, forget, cell, output), parameter names
/// (`weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0`, ...) and initialisation, optional
/// batch-first layout and dropout between layers.
pub struct Lstm {
    shape: RecurrentShape,
    layers: Vec<LayerWeights>,
    dropout: Option<Dropout>,
}

impl Lstm {
    /// `layers` stacked LSTMs from `input` to `hidden` features.
    pub fn new(
        g: &mut Generator,
        input: usize,
        hidden: usize,
        layers: usize,
        batch_first: bool,
        dtype: DType,
        device: &Device,
    ) -> Result<Lstm> {
        let shape = RecurrentShape { input, hidden, layers, gates: 4, batch_first };
        Ok(Lstm { layers: shape.init_layers(g, dtype, device)?, shape, dropout: None })
    }

    /// Dropout with probability `p` on the outputs of every layer but the last (PyTorch's
    /// `dropout` argument).
    pub fn with_dropout(mut self, p: f64, seed: u64) -> Result<Lstm> {
        self.dropout = if p > 0.0 { Some(Dropout::new(p, seed)?) } else { None };
        Ok(self)
    }

    /// Reseeds the dropout between layers (see [`Dropout::reseed`]).
    pub fn reseed_dropout(&self, seed: u64) {
        if let Some(d) = &self.dropout {
            d.reseed(seed);
        }
    }

    /// The hidden size.
    pub fn hidden_size(&self) -> usize {
        self.shape.hidden
    }

    /// Runs the sequence from `state` (zeros when `None`): returns the last layer's output at
    /// every step (`[batch, seq, hidden]` batch-first, else `[seq, batch, hidden]`) and the final
    /// state.
    pub fn forward_with_state(&self, x: &Var, state: Option<&LstmState>) -> Result<(Var, LstmState)> {
        let name = self.describe();
        let (mut seq, steps, batch) = self.shape.time_major(&name, x)?;
        let h0 = self.shape.state_or_zeros(&name, state.map(|s| &s.h), batch, x.tensor())?;
        let c0 = self.shape.state_or_zeros(&name, state.map(|s| &s.c), batch, x.tensor())?;
        if steps == 0 {
            return Err(Error::BadInput {
                layer: name,
                expected: "a sequence of at least one step".into(),
                got: x.shape().clone(),
            });
        }
        let hs = self.shape.hidden;
        let (mut h_last, mut c_last) = (Vec::new(), Vec::new());
        for (l, w) in self.layers.iter().enumerate() {
            let proj = self.shape.input_projection(&seq, w, steps, batch)?;
            let (h, c) = (h0.narrow(0, l, 1)?.squeeze(0)?, c0.narrow(0, l, 1)?.squeeze(0)?);
            let packed = lstm_sequence(&proj, &h, &c, &w.w_hh, &w.b_hh)?;
            let last = packed.narrow(0, steps - 1, 1)?.squeeze(0)?;
            let (h, c) = (last.narrow(1, 0, hs)?, last.narrow(1, hs, hs)?);
            h_last.push(h);
            c_last.push(c);
            seq = packed.narrow(2, 0, hs)?;
            if let (Some(d), true) = (&self.dropout, l + 1 < self.layers.len()) {
                seq = d.forward(&seq)?;
            }
        }
        let state = LstmState { h: Var::stack(&h_last, 0)?, c: Var::stack(&c_last, 0)? };
        Ok((self.shape.caller_layout(seq)?, state))
    }
}

recurrent_parts!(Lstm);

impl Module for Lstm {
    fn forward(&self, x: &Var) -> Result<Var> {
        Ok(self.forward_with_state(x, None)?.0)
    }

    fn set_training(&self, training: bool) {
        if let Some(d) = &self.dropout {
            d.set_training(training);
        }
    }

    fn describe(&self) -> String {
        format!("LSTM({} -> {}, layers={})", self.shape.input, self.shape.hidden, self.shape.layers)
    }

    fn flops_per_example(&self, input_dims: &[usize]) -> u64 {
        // One example is `[seq, input]` in either layout.
        self.shape.flops(input_dims.first().copied().unwrap_or(1), 8)
    }
}
