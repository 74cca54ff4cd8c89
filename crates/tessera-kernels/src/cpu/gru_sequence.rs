//! The GRU recurrence over a whole sequence, forward and backward, in one kernel each, as
//! [`super::lstm_sequence`] runs the LSTM's: every step's product and fused cell write straight
//! into the sequence's buffers, and on several threads each thread owns a part of the sequence
//! (a band of the batch's rows where there are enough, else a band of hidden units; see
//! [`super::recurrence::split`]).
//!
//! PyTorch's GRU, gate order reset, update, new: `r, z = σ(x_r + h_r), σ(x_z + h_z)`,
//! `n = tanh(x_n + r h_n)`, `h' = n + z (h - n)`, with `x_•` the input projection and
//! `h_• = W_h• h + b_h•`. A band of units `u0..u0 + w` needs its units' three gate columns of the
//! recurrent product: its block of `W_hhᵀ` holds them side by side (`[r, z, n]`, `w` each), laid
//! out once for the whole sequence ([`ReusedRhs`]). f32 and f64 only: the tensor layer runs f16
//! and bf16 sequences through the f32 kernel.

use super::buffer::{expect_dtype, CpuBuffer};
use super::lstm::assume_init;
use super::matmul::{GemmElem, OutPtr};
use super::matmul_reused::ReusedRhs;
use super::recurrence::{by_dtype, each_step, gate_grads_layout, split, uninit, values_of, Dims, Part, SequenceElem};
use super::simd::{multiversion, prefetch};
use super::unary::FloatMath;
use crate::plan::{GruSequenceBackwardPlan, GruSequencePlan};
use crate::Result;
use backward::backward;
use std::mem::MaybeUninit;
use std::sync::OnceLock;
use tessera_core::Layout;

/// The whole forward recurrence: `inputs` are `[proj, h0, w_hh, b_hh]` (see
/// [`GruSequencePlan`]). Returns contiguous `[out, acts]`: `out` is `[steps, batch, hidden]`,
/// every step's hidden state; `acts` is `[steps, batch, 4 * hidden]`, every step's `[r, z, n,
/// h_n]`, what the backward needs.
pub fn gru_sequence(plan: &GruSequencePlan, inputs: [&CpuBuffer; 4]) -> Result<[CpuBuffer; 2]> {
    expect_dtype("gru_sequence", plan.dtype, &inputs)?;
    fn run<T: SequenceElem>(plan: &GruSequencePlan, inputs: [&CpuBuffer; 4]) -> [CpuBuffer; 2] {
        let [p, h, w, b] = values_of::<T, 4>(inputs, &plan.inputs);
        let parts = split(plan.batch, plan.hidden, 3);
        forward(plan.dims(), &parts, &p, &h, &w, &b).map(T::wrap)
    }
    by_dtype("gru_sequence", plan.dtype, || run::<f32>(plan, inputs), || run::<f64>(plan, inputs))
}

/// The whole backward recurrence: `inputs` are `[out, acts, h0, w_hh, grad]`, the forward's
/// outputs and inputs and the gradient of `out` (see [`GruSequenceBackwardPlan`]). Returns
/// `[d_proj, dh0, d_w_hh, d_b_hh]`, the gradients of the projection, of the initial state (empty
/// unless the plan's `initial_hidden_grad`), of the recurrent weight and of its bias, and
/// `d_proj`'s layout: `[steps, batch, 3 * hidden]`, its rows padded off multiples of 4 KiB (as
/// the LSTM's, see [`super::lstm_sequence_backward`]); the others are contiguous.
pub fn gru_sequence_backward(
    plan: &GruSequenceBackwardPlan,
    inputs: [&CpuBuffer; 5],
) -> Result<([CpuBuffer; 4], Layout)> {
    expect_dtype("gru_sequence_backward", plan.dtype, &inputs)?;
    fn run<T: SequenceElem>(plan: &GruSequenceBackwardPlan, inputs: [&CpuBuffer; 5]) -> ([CpuBuffer; 4], Layout) {
        let values = values_of::<T, 5>(inputs, &plan.inputs);
        let parts = split(plan.batch, plan.hidden, 3);
        let grads = backward(plan.dims(), &parts, values.each_ref().map(|v| &**v), plan.initial_hidden_grad);
        let ld = backward::gate_grad_stride::<T>(plan.hidden);
        (grads.map(T::wrap), gate_grads_layout(plan.dims(), 3 * plan.hidden, ld))
    }
    by_dtype("gru_sequence_backward", plan.dtype, || run::<f32>(plan, inputs), || run::<f64>(plan, inputs))
}

fn forward<T: GemmElem + FloatMath>(
    (steps, batch, hidden): Dims,
    parts: &[Part],
    proj: &[T],
    h0: &[T],
    w_hh: &[T],
    b_hh: &[T],
) -> [Vec<T>; 2] {
    let (n, g, a) = (batch * hidden, batch * 3 * hidden, batch * 4 * hidden);
    let (mut out, out_p) = uninit::<T>(steps * n);
    let (mut acts, acts_p) = uninit::<T>(steps * a);
    if n > 0 {
        // `W_hhᵀ`, part by part, laid out by the thread that runs the part (see `lstm_sequence`).
        let weights: Vec<OnceLock<ReusedRhs<T>>> = parts.iter().map(|_| OnceLock::new()).collect();
        let (_scratch, scratch_p) = uninit::<T>(g);
        // With the default initial state, all zeros, step 0's product is zeros.
        let h0_zero = h0.iter().all(|&v| v == T::ZERO);
        each_step(steps, parts, |t, i| {
            let Part { row0, rows, u0, w } = parts[i];
            // Column `q * w + j` of the band's block: row `q * hidden + u0 + j` of `w_hh`.
            let weight = || {
                weights[i].get_or_init(|| {
                    ReusedRhs::new(w_hh, (hidden, 3 * w), |col| (((col / w) * hidden + u0 + col % w) * hidden, 1))
                })
            };
            // SAFETY: the steps before `t` wrote this part's rows of `out` up to step `t`
            // (`each_step` runs a part's step after every part of its rows finished the one
            // before); the part owns its scratch block (`rows * 3 * w` from `row0 * 3 * hidden +
            // rows * 3 * u0`) and its units of its rows in step `t`'s outputs.
            unsafe {
                let h_prev = match t {
                    0 => &h0[row0 * hidden..][..rows * hidden],
                    _ => std::slice::from_raw_parts(out_p.get().add((t - 1) * n + row0 * hidden), rows * hidden),
                };
                let x = &proj[t * g + row0 * 3 * hidden..][..rows * 3 * hidden];
                let scratch = scratch_p.get().add(row0 * 3 * hidden + rows * 3 * u0);
                let dst = std::slice::from_raw_parts_mut(scratch.cast::<MaybeUninit<T>>(), rows * 3 * w);
                if t == 0 && h0_zero {
                    dst.fill(MaybeUninit::new(T::ZERO));
                } else {
                    weight().product(rows, (h_prev, hidden), (dst, 3 * w));
                }
                let h_gates = std::slice::from_raw_parts(scratch, rows * 3 * w);
                let outs = [out_p.get().add(t * n + row0 * hidden), acts_p.get().add(t * a + row0 * 4 * hidden)];
                forward_band([hidden, u0, w], [x, h_gates, b_hh, h_prev], outs.map(OutPtr));
            }
        });
    }
    // SAFETY: every step wrote all of its units (the parts cover every row's units); with
    // `n == 0` the lengths are 0.
    unsafe {
        out.set_len(steps * n);
        acts.set_len(steps * a);
    }
    [out, acts]
}

multiversion! {
    /// One step's cell for the units `u0..u0 + w` of every row. `step` is `[x, h_gates, b_hh,
    /// h_prev]`: the input projection's `[batch, 3 * hidden]`, the band's recurrent product
    /// `[batch, 3 * w]`, the recurrent bias and the previous state `[batch, hidden]`. Writes the
    /// units' new state and `[r, z, n, h_n]` through `outs` (`[h, acts]` of the step,
    /// `[batch, hidden]` and `[batch, 4 * hidden]`).
    fn forward_band<T>(dims: [usize; 3], step: [&[T]; 4], outs: [OutPtr<T>; 2])
    where T: FloatMath
    {
        let [hidden, u0, w] = dims;
        let [x, h_gates, b_hh, h_prev] = step;
        let [h_out, acts] = outs.map(|p| p.get().cast::<MaybeUninit<T>>());
        let units = |q: usize| q * hidden + u0..q * hidden + u0 + w;
        let bias = [0, 1, 2].map(|q| &b_hh[units(q)]);
        for (b, (xb, hg)) in x.chunks_exact(3 * hidden).zip(h_gates.chunks_exact(3 * w)).enumerate() {
            // SAFETY: row `b`'s units `u0..u0 + w` of each output lie inside it and belong to
            // this band alone (the caller's contract).
            let (a, ho) = unsafe {
                let row = |p: *mut MaybeUninit<T>, at: usize| std::slice::from_raw_parts_mut(p.add(at), w);
                ([0, 1, 2, 3].map(|q| row(acts, b * 4 * hidden + q * hidden + u0)), row(h_out, b * hidden + u0))
            };
            if let Some(next) = x.get((b + 1) * 3 * hidden..(b + 2) * 3 * hidden) {
                (0..3).for_each(|q| prefetch(&next[units(q)]));
                prefetch(&h_prev[(b + 1) * hidden + u0..(b + 1) * hidden + u0 + w]);
            }
            let hp = &h_prev[b * hidden + u0..b * hidden + u0 + w];
            let xs = [0, 1, 2].map(|q| &xb[units(q)]);
            let hs = [0, 1, 2].map(|q| &hg[q * w..(q + 1) * w]);
            forward_units(xs, hs, bias, hp, a, ho);
        }
    }
}

/// One row's cell for `w` units: gate pre-activations `x + (h + b)`, as the composition
/// `x + (h @ W_hhᵀ + b_hh)` sums them.
///
/// Written so that each loop vectorises: each writes one row and reads the others, and the
/// candidate's pre-activation passes through `h_out` before its `tanh`. Formed straight into its
/// `acts` row from the `r` and `h_n` rows beside it, or with `r` computed in the same loop, it ran
/// one unit at a time.
#[inline(always)]
fn forward_units<T: FloatMath>(
    [xr, xz, xn]: [&[T]; 3],
    [hr, hz, hn]: [&[T]; 3],
    [br, bz, bn]: [&[T]; 3],
    hp: &[T],
    [ar, az, an, ahn]: [&mut [MaybeUninit<T>]; 4],
    h_out: &mut [MaybeUninit<T>],
) {
    let w = hp.len();
    let (ar, az, an, ahn, h_out) = (&mut ar[..w], &mut az[..w], &mut an[..w], &mut ahn[..w], &mut h_out[..w]);
    combine([xr, hr, br], ar, |x, h, b| (x + (h + b)).sigmoid());
    combine([xz, hz, bz], az, |x, h, b| (x + (h + b)).sigmoid());
    combine([hn, bn, bn], ahn, |h, b, _| h + b);
    // SAFETY: the loops above initialised all `w` elements of each.
    let [r, z, h_n] = [&*ar, &*az, &*ahn].map(|a| unsafe { assume_init(a) });
    combine([xn, r, h_n], h_out, |x, r, h_n| x + r * h_n);
    // SAFETY: as above.
    combine([unsafe { assume_init(h_out) }, xn, xn], an, |pre, _, _| pre.tanh());
    // SAFETY: as above.
    let n = unsafe { assume_init(an) };
    combine([n, z, hp], h_out, |n, z, h| n + z * (h - n));
}

/// `out[j] = f(a[j], b[j], c[j])` for the `out.len()` first elements.
#[inline(always)]
fn combine<T: Copy>([a, b, c]: [&[T]; 3], out: &mut [MaybeUninit<T>], f: impl Fn(T, T, T) -> T) {
    let w = out.len();
    for (((o, &a), &b), &c) in out.iter_mut().zip(&a[..w]).zip(&b[..w]).zip(&c[..w]) {
        o.write(f(a, b, c));
    }
}

mod backward;

#[cfg(test)]
mod tests;
