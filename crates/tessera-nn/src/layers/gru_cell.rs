//! The GRU recurrence over a whole sequence as one autograd op, with a hand-written backward
//! (backpropagation through time), for the reason `lstm_cell` gives: recorded step by step, every
//! `narrow` of the projected input sends back a gradient the size of the whole sequence, and
//! backward grows with the square of its length.

use crate::Result;
use tessera_autograd::{BackwardCtx, InputGrads, Var};
use tessera_tensor::Tensor;

/// What backward needs of one step: the reset and update gates side by side (`[batch,
/// 2 * hidden]`), the candidate state `n` and the recurrent part of the candidate's
/// pre-activation, `W_hn h + b_hn`.
struct GruStep {
    rz: Tensor,
    n: Tensor,
    hn: Tensor,
}

/// Runs PyTorch's GRU from `h0` (`[batch, hidden]`) over `proj` (`[seq, batch, 3 * hidden]`, each
/// step's input projection `W_i x + b_i` in gate order reset, update, new), with recurrent weight
/// `w_hh` (`[3 * hidden, hidden]`) and bias `b_hh` (`[3 * hidden]`):
///
/// `r, z = σ(x_r + h_r), σ(x_z + h_z)`, `n = tanh(x_n + r * h_n)`, `h' = n + z * (h - n)`, where
/// `h_• = W_h• h + b_h•`. Returns every step's hidden state, `[seq, batch, hidden]`.
///
/// Each step is one GEMM with its bias and a few elementwise ops; backward is a few elementwise
/// ops and one GEMM per step, then the recurrent weight's and bias's gradients of all steps at
/// once.
pub(crate) fn gru_sequence(proj: &Var, h0: &Var, w_hh: &Var, b_hh: &Var) -> Result<Var> {
    let (steps, hidden) = (proj.dims()[0], h0.dims()[1]);
    // Transposed once into its own buffer, as in `lstm_sequence`: gemm would repack a transposed
    // view at every step.
    let w_t = w_hh.tensor().t()?.contiguous()?;
    let mut h = h0.tensor().clone();
    let (mut saved, mut hs_out) = (Vec::with_capacity(steps), Vec::with_capacity(steps));
    for t in 0..steps {
        let gx = proj.tensor().narrow(0, t, 1)?.squeeze(0)?;
        let gh = h.matmul_bias(&w_t, b_hh.tensor())?;
        let rz = gx.narrow(1, 0, 2 * hidden)?.add(&gh.narrow(1, 0, 2 * hidden)?)?.sigmoid()?;
        let (r, z) = (rz.narrow(1, 0, hidden)?, rz.narrow(1, hidden, hidden)?);
        let hn = gh.narrow(1, 2 * hidden, hidden)?;
        let n = gx.narrow(1, 2 * hidden, hidden)?.add(&r.mul(&hn)?)?.tanh()?;
        h = n.add(&z.mul(&h.sub(&n)?)?)?;
        hs_out.push(h.clone());
        saved.push(GruStep { rz, n, hn });
    }
    let out = Tensor::stack(&hs_out, 0)?;
    let (h0_t, w_hh_t) = (h0.tensor().clone(), w_hh.tensor().clone());
    let rule = move |ctx: &BackwardCtx<'_>| -> tessera_autograd::Result<InputGrads> {
        let batch = h0_t.dims()[0];
        let mut dh_next: Option<Tensor> = None;
        let (mut d_gx, mut d_gh) = (Vec::with_capacity(steps), Vec::with_capacity(steps));
        for t in (0..steps).rev() {
            let GruStep { rz, n, hn } = &saved[t];
            let (r, z) = (rz.narrow(1, 0, hidden)?, rz.narrow(1, hidden, hidden)?);
            let h_prev = if t > 0 { &hs_out[t - 1] } else { &h0_t };
            let d_h_t = ctx.grad.narrow(0, t, 1)?.squeeze(0)?;
            let dh = match &dh_next {
                Some(next) => d_h_t.add(next)?,
                None => d_h_t,
            };
            let dh_z = dh.mul(&z)?;
            let dz = dh.mul(&h_prev.sub(n)?)?;
            // Through tanh (1 - n^2) and, for the gates, σ (s (1 - s)).
            let dn_pre = dh.sub(&dh_z)?.mul(&n.square()?.affine(-1.0, 1.0)?)?;
            let d_rz = Tensor::cat(&[dn_pre.mul(hn)?, dz], 1)?;
            let d_rz_pre = d_rz.mul(&rz.mul(&rz.affine(-1.0, 1.0)?)?)?;
            let gh = Tensor::cat(&[d_rz_pre.clone(), dn_pre.mul(&r)?], 1)?;
            dh_next = Some(gh.matmul(&w_hh_t)?.add(&dh_z)?);
            d_gx.push(Tensor::cat(&[d_rz_pre, dn_pre], 1)?);
            d_gh.push(gh);
        }
        d_gx.reverse();
        d_gh.reverse();
        let mut prev = vec![h0_t.clone()];
        prev.extend_from_slice(&hs_out[..steps - 1]);
        let h_prev = Tensor::stack(&prev, 0)?.reshape([steps * batch, hidden])?;
        let d_gh = Tensor::stack(&d_gh, 0)?.reshape([steps * batch, 3 * hidden])?;
        let d_w_hh = d_gh.t()?.matmul(&h_prev)?;
        let d_b_hh = d_gh.sum(&[0], false)?;
        Ok(vec![Some(Tensor::stack(&d_gx, 0)?), dh_next, Some(d_w_hh), Some(d_b_hh)])
    };
    Ok(Var::from_op("gru_sequence", out, &[proj, h0, w_hh, b_hh], Some(Box::new(rule))))
}
