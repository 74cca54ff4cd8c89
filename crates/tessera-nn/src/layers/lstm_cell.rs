//! The LSTM recurrence over a whole sequence as one autograd op, with a hand-written backward
//! (backpropagation through time). Recording each step's dozen small ops instead makes backward
//! quadratic in the sequence length: every `narrow` of the projected input would send back a
//! gradient the size of the whole sequence.

use crate::Result;
use tessera_autograd::{BackwardCtx, InputGrads, Var};
use tessera_tensor::Tensor;

/// Runs the LSTM from `(h0, c0)` (`[batch, hidden]`) over `proj` (`[seq, batch, 4 * hidden]`,
/// the input projection of every step with both biases), with recurrent weight `w_hh`
/// (`[4 * hidden, hidden]`). Returns `[seq + 1, batch, hidden]`: each step's hidden state, then
/// the last step's cell state (the only cell state a caller sees, so the only one stored twice).
///
/// Forward and backward are [`Tensor::lstm_sequence`] and [`Tensor::lstm_sequence_backward`]:
/// one kernel each on the CPU, the step kernels composed on CUDA; f16 and bf16 run in f32.
pub(crate) fn lstm_sequence(proj: &Var, h0: &Var, c0: &Var, w_hh: &Var) -> Result<Var> {
    let (out, cells, acts) = Tensor::lstm_sequence(proj.tensor(), h0.tensor(), c0.tensor(), w_hh.tensor())?;
    let saved = [&out, h0.tensor(), c0.tensor(), w_hh.tensor()].map(Tensor::clone);
    let rule = move |ctx: &BackwardCtx<'_>| -> tessera_autograd::Result<InputGrads> {
        let [out, h0, c0, w_hh] = &saved;
        let grads = Tensor::lstm_sequence_backward(out, &cells, &acts, h0, c0, w_hh, ctx.grad, ctx.needs(1))?;
        let (d_proj, dh0, dc0, d_w_hh) = grads;
        Ok(vec![Some(d_proj), dh0, Some(dc0), Some(d_w_hh)])
    };
    Ok(Var::from_op("lstm_sequence", out, &[proj, h0, c0, w_hh], Some(Box::new(rule))))
}
