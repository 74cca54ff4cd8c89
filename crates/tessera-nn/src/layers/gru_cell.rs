//! The GRU recurrence over a whole sequence as one autograd op, with a hand-written backward
//! (backpropagation through time), for the reason `lstm_cell` gives: recorded step by step, every
//! `narrow` of the projected input sends back a gradient the size of the whole sequence, and
//! backward grows with the square of its length.

use crate::Result;
use tessera_autograd::{BackwardCtx, InputGrads, Var};
use tessera_tensor::Tensor;

/// Runs PyTorch's GRU from `h0` (`[batch, hidden]`) over `proj` (`[seq, batch, 3 * hidden]`, each
/// step's input projection `W_i x + b_i` in gate order reset, update, new), with recurrent weight
/// `w_hh` (`[3 * hidden, hidden]`) and bias `b_hh` (`[3 * hidden]`). Returns every step's hidden
/// state, `[seq, batch, hidden]`.
///
/// Forward and backward are [`Tensor::gru_sequence`] and [`Tensor::gru_sequence_backward`]: one
/// kernel each on the CPU, composed on CUDA; f16 and bf16 run in f32.
pub(crate) fn gru_sequence(proj: &Var, h0: &Var, w_hh: &Var, b_hh: &Var) -> Result<Var> {
    let (out, acts) = Tensor::gru_sequence(proj.tensor(), h0.tensor(), w_hh.tensor(), b_hh.tensor())?;
    let saved = [&out, h0.tensor(), w_hh.tensor()].map(Tensor::clone);
    let rule = move |ctx: &BackwardCtx<'_>| -> tessera_autograd::Result<InputGrads> {
        let [out, h0, w_hh] = &saved;
        let (d_proj, dh0, d_w_hh, d_b_hh) =
            Tensor::gru_sequence_backward(out, &acts, h0, w_hh, ctx.grad, ctx.needs(1))?;
        Ok(vec![Some(d_proj), dh0, Some(d_w_hh), Some(d_b_hh)])
    };
    Ok(Var::from_op("gru_sequence", out, &[proj, h0, w_hh, b_hh], Some(Box::new(rule))))
}
