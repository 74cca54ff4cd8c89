//! `GRU`: PyTorch's gated recurrent unit layer.

use super::gru_cell::gru_sequence;
use super::recurrent::recurrent_layer;
use crate::{Module, Result};
use tessera_autograd::Var;

recurrent_layer! {
    /// A multi-layer GRU with PyTorch's gate order (reset, update, new), parameter names and
    /// initialisation: `n = tanh(W_in x + b_in + r * (W_hn h + b_hn))`, `h' = (1 - z) * n + z * h`;
    /// optional batch-first layout and dropout between layers.
    Gru, 3, "GRU"
}

impl Gru {
    /// Runs the sequence from `h0` (`[layers, batch, hidden]`, zeros when `None`): returns the
    /// last layer's output at every step and the final hidden state.
    pub fn forward_with_state(&self, x: &Var, h0: Option<&Var>) -> Result<(Var, Var)> {
        let name = self.describe();
        let (mut seq, steps, batch) = self.shape.time_major(&name, x)?;
        let h0 = self.shape.state_or_zeros(&name, h0, batch, x.tensor())?;
        let mut h_last = Vec::new();
        for (l, w) in self.layers.iter().enumerate() {
            let proj = self.shape.input_projection(&seq, w, &w.b_ih, steps, batch)?;
            let h = h0.narrow(0, l, 1)?.squeeze(0)?;
            let outputs = gru_sequence(&proj, &h, &w.w_hh, &w.b_hh)?;
            h_last.push(outputs.narrow(0, steps - 1, 1)?.squeeze(0)?);
            seq = self.between_layers(l, outputs)?;
        }
        Ok((self.shape.caller_layout(seq)?, Var::stack(&h_last, 0)?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_tensor::{DType, Device, Generator, Tensor};

    fn gru(layers: usize, dropout: f64) -> Gru {
        let g = &mut Generator::new(0);
        Gru::new(g, 3, 4, layers, true, DType::F32, &Device::Cpu).unwrap().with_dropout(dropout, 1).unwrap()
    }

    #[test]
    fn dropout_acts_between_layers_and_only_in_training() {
        let x = Var::constant(Tensor::randn(&mut Generator::new(2), [2, 5, 3], DType::F32, &Device::Cpu).unwrap());
        let out = |m: &Gru| m.forward(&x).unwrap().tensor().to_vec::<f32>().unwrap();
        let (plain, dropped) = (gru(2, 0.0), gru(2, 0.5));
        assert_ne!(out(&plain), out(&dropped), "training mode drops between the two layers");
        dropped.set_training(false);
        assert_eq!(out(&plain), out(&dropped), "evaluation mode does not");
        assert_eq!(out(&gru(1, 0.0)), out(&gru(1, 0.5)), "a single layer has nothing between layers");
        let e = plain.forward(&Var::constant(Tensor::zeros([2, 0, 3], DType::F32, &Device::Cpu).unwrap()));
        assert!(e.unwrap_err().to_string().contains("at least one step"));
    }
}
