//! The LSTM recurrence over a whole sequence as one autograd op, with a hand-written backward
//! (backpropagation through time). Recording each step's dozen small ops instead makes backward
//! quadratic in the sequence length: every `narrow` of the projected input would send back a
//! gradient the size of the whole sequence.

use crate::Result;
use tessera_autograd::{BackwardCtx, InputGrads, Var};
use tessera_tensor::Tensor;

/// Runs the LSTM from `(h0, c0)` (`[batch, hidden]`) over `proj` (`[seq, batch, 4 * hidden]`,
/// the input projection of every step with `bias_ih`), with recurrent weight `w_hh`
/// (`[4 * hidden, hidden]`) and bias `b_hh`. Returns `[seq, batch, 2 * hidden]`: each step's
/// hidden state, then its cell state.
///
/// Each step is one small GEMM and one fused cell kernel ([`Tensor::lstm_cell`]); backward is
/// one fused kernel ([`Tensor::lstm_cell_backward`]) and one GEMM per step, then the weight
/// gradient of all steps as one GEMM.
pub(crate) fn lstm_sequence(proj: &Var, h0: &Var, c0: &Var, w_hh: &Var, b_hh: &Var) -> Result<Var> {
    let (steps, hs) = (proj.dims()[0], w_hh.dims()[1]);
    // Transposed once into its own buffer: gemm repacks a column-major right operand on every
    // call, which at the step's shape (32 x 256 x 1024) halves its rate.
    let w_t = w_hh.tensor().t()?.contiguous()?;
    // b_hh joins the input projection once, instead of once per step.
    let pre = proj.tensor().add(b_hh.tensor())?;
    let (mut h, mut c) = (h0.tensor().clone(), c0.tensor().clone());
    let (mut acts, mut hs_out, mut cs) = (Vec::new(), Vec::new(), Vec::new());
    for t in 0..steps {
        let (h_next, c_next, a) = Tensor::lstm_cell(&pre.narrow(0, t, 1)?.squeeze(0)?, &h.matmul(&w_t)?, &c)?;
        (h, c) = (h_next, c_next);
        acts.push(a);
        hs_out.push(h.clone());
        cs.push(c.clone());
    }
    let out = Tensor::cat(&[Tensor::stack(&hs_out, 0)?, Tensor::stack(&cs, 0)?], 2)?;
    let (h0_t, c0_t, w_hh_t) = (h0.tensor().clone(), c0.tensor().clone(), w_hh.tensor().clone());
    let rule = move |ctx: &BackwardCtx<'_>| -> tessera_autograd::Result<InputGrads> {
        let (h0, c0, w_hh) = (&h0_t, &c0_t, &w_hh_t);
        let d_h_out = ctx.grad.narrow(2, 0, hs)?;
        let d_c_out = ctx.grad.narrow(2, hs, hs)?;
        let (mut dh_next, mut dc_next) = (h0.zeros_like()?, c0.zeros_like()?);
        let mut d_pre = Vec::with_capacity(steps);
        for t in (0..steps).rev() {
            let c_prev = if t > 0 { &cs[t - 1] } else { c0 };
            let dh = d_h_out.narrow(0, t, 1)?.squeeze(0)?.add(&dh_next)?;
            let dc = d_c_out.narrow(0, t, 1)?.squeeze(0)?.add(&dc_next)?;
            let (d, dc_prev) = Tensor::lstm_cell_backward(&acts[t], c_prev, &cs[t], &dh, &dc)?;
            dh_next = d.matmul(w_hh)?;
            dc_next = dc_prev;
            d_pre.push(d);
        }
        d_pre.reverse();
        let d_gates = Tensor::stack(&d_pre, 0)?;
        let batch = h0.dims()[0];
        let mut prev = vec![h0.clone()];
        prev.extend_from_slice(&hs_out[..steps - 1]);
        let h_prev = Tensor::stack(&prev, 0)?.reshape([steps * batch, hs])?;
        let flat = d_gates.reshape([steps * batch, 4 * hs])?;
        let d_w_hh = flat.t()?.matmul(&h_prev)?;
        let d_b_hh = flat.sum(&[0], false)?;
        Ok(vec![Some(d_gates), Some(dh_next), Some(dc_next), Some(d_w_hh), Some(d_b_hh)])
    };
    Ok(Var::from_op("lstm_sequence", out, &[proj, h0, c0, w_hh, b_hh], Some(Box::new(rule))))
}
