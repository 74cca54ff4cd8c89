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
/// Each step is one small GEMM and one fused cell kernel ([`Tensor::lstm_cell`]); backward is
/// one fused kernel ([`Tensor::lstm_cell_backward`]) and one GEMM per step, then the weight
/// gradient of all steps as one GEMM.
pub(crate) fn lstm_sequence(proj: &Var, h0: &Var, c0: &Var, w_hh: &Var) -> Result<Var> {
    let steps = proj.dims()[0];
    // Transposed once into its own buffer: gemm repacks a column-major right operand on every
    // call, which at the step's shape (32 x 256 x 1024) halves its rate.
    let w_t = w_hh.tensor().t()?.contiguous()?;
    let (mut h, mut c) = (h0.tensor().clone(), c0.tensor().clone());
    let (mut acts, mut hs_out, mut cs) = (Vec::new(), Vec::new(), Vec::new());
    for t in 0..steps {
        let (h_next, c_next, a) = Tensor::lstm_cell(&proj.tensor().narrow(0, t, 1)?.squeeze(0)?, &h.matmul(&w_t)?, &c)?;
        (h, c) = (h_next, c_next);
        acts.push(a);
        hs_out.push(h.clone());
        cs.push(c.clone());
    }
    let out = Tensor::stack(&[hs_out.as_slice(), &[c]].concat(), 0)?;
    let (h0_t, c0_t, w_hh_t) = (h0.tensor().clone(), c0.tensor().clone(), w_hh.tensor().clone());
    let rule = move |ctx: &BackwardCtx<'_>| -> tessera_autograd::Result<InputGrads> {
        let (h0, c0, w_hh) = (&h0_t, &c0_t, &w_hh_t);
        let d_h_out = ctx.grad.narrow(0, 0, steps)?;
        let mut dc_next = ctx.grad.narrow(0, steps, 1)?.squeeze(0)?;
        let mut dh_next: Option<Tensor> = None;
        let mut d_pre = Vec::with_capacity(steps);
        for t in (0..steps).rev() {
            let c_prev = if t > 0 { &cs[t - 1] } else { c0 };
            let d_h_t = d_h_out.narrow(0, t, 1)?.squeeze(0)?;
            let dh = match &dh_next {
                Some(next) => d_h_t.add(next)?,
                None => d_h_t,
            };
            let (d, dc_prev) = Tensor::lstm_cell_backward(&acts[t], c_prev, &cs[t], &dh, &dc_next)?;
            dh_next = Some(d.matmul(w_hh)?);
            dc_next = dc_prev;
            d_pre.push(d);
        }
        d_pre.reverse();
        let d_gates = Tensor::stack(&d_pre, 0)?;
        let (batch, hs) = (h0.dims()[0], h0.dims()[1]);
        let mut prev = vec![h0.clone()];
        prev.extend_from_slice(&hs_out[..steps - 1]);
        let h_prev = Tensor::stack(&prev, 0)?.reshape([steps * batch, hs])?;
        let flat = d_gates.reshape([steps * batch, 4 * hs])?;
        let d_w_hh = flat.t()?.matmul(&h_prev)?;
        Ok(vec![Some(d_gates), dh_next, Some(dc_next), Some(d_w_hh)])
    };
    Ok(Var::from_op("lstm_sequence", out, &[proj, h0, c0, w_hh], Some(Box::new(rule))))
}
