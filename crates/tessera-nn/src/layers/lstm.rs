//! `LSTM`: PyTorch's long short-term memory layer.

use super::lstm_cell::lstm_sequence;
use super::recurrent::recurrent_layer;
use crate::{Module, Result};
use tessera_autograd::Var;

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

recurrent_layer! {
    /// A multi-layer LSTM with PyTorch's gate order (input, forget, cell, output), parameter names
    /// (`weight_ih_l0`, `weight_hh_l0`, `bias_ih_l0`, `bias_hh_l0`, ...) and initialisation,
    /// optional batch-first layout and dropout between layers.
    Lstm, 4, "LSTM"
}

impl Lstm {
    /// Runs the sequence from `state` (zeros when `None`): returns the last layer's output at
    /// every step (`[batch, seq, hidden]` batch-first, else `[seq, batch, hidden]`) and the final
    /// state.
    pub fn forward_with_state(&self, x: &Var, state: Option<&LstmState>) -> Result<(Var, LstmState)> {
        let name = self.describe();
        let (mut seq, steps, batch) = self.shape.time_major(&name, x)?;
        let h0 = self.shape.state_or_zeros(&name, state.map(|s| &s.h), batch, x.tensor())?;
        let c0 = self.shape.state_or_zeros(&name, state.map(|s| &s.c), batch, x.tensor())?;
        let (mut h_last, mut c_last) = (Vec::new(), Vec::new());
        for (l, w) in self.layers.iter().enumerate() {
            // Both biases join every step's gates, so they enter once, in the input projection.
            let proj = self.shape.input_projection(&seq, w, &w.b_ih.add(&w.b_hh)?, steps, batch)?;
            let (h, c) = (h0.narrow(0, l, 1)?.squeeze(0)?, c0.narrow(0, l, 1)?.squeeze(0)?);
            let packed = lstm_sequence(&proj, &h, &c, &w.w_hh)?;
            h_last.push(packed.narrow(0, steps - 1, 1)?.squeeze(0)?);
            c_last.push(packed.narrow(0, steps, 1)?.squeeze(0)?);
            seq = self.between_layers(l, packed.narrow(0, 0, steps)?)?;
        }
        let state = LstmState { h: Var::stack(&h_last, 0)?, c: Var::stack(&c_last, 0)? };
        Ok((self.shape.caller_layout(seq)?, state))
    }
}
