//! The LSTM recurrence over a whole sequence, forward and backward, in one kernel each: every
//! step's product and fused cell write straight into the sequence's buffers (no per-step
//! tensors to stack afterwards). On several threads each thread owns a part of the sequence (see
//! [`super::recurrence::split`]): with enough rows, a band of the batch's rows, each a sequence
//! of its own that never waits for another thread; otherwise a band of hidden units of every row,
//! the sequence one fork and join, and a step a wait for the other bands of the step before (see
//! `each_step`).
//!
//! A band of units `u0..u0 + w` needs the columns of its four gates from the recurrent product:
//! the transposed weight is laid out band by band, each band's block holding its units' `[i, f,
//! g, o]` columns side by side, so that a band's product reads one block of its own and its
//! result has the layout the cell reads. With one band that layout is the plain transpose. Each
//! part lays its block out once for the whole sequence ([`ReusedRhs`]: packed for its own kernel
//! f32 on AVX-512 or AVX2, rows for gemm otherwise), and the backward does the same with `w_hh`.
//!
//! The cell arithmetic is [`super::lstm`]'s, unit for unit. f32 and f64 only: the tensor layer
//! runs f16 and bf16 sequences through the f32 kernel.

use super::buffer::{expect_dtype, CpuBuffer};
use super::lstm::forward_units;
use super::matmul::{GemmElem, OutPtr};
use super::matmul_reused::ReusedRhs;
use super::recurrence::{by_dtype, each_step, gate_grads_layout, split, uninit, values_of, Dims, Part, SequenceElem};
use super::simd::{multiversion, prefetch};
use super::unary::FloatMath;
use crate::plan::{LstmSequenceBackwardPlan, LstmSequencePlan};
use crate::Result;
use backward::{backward, gate_grad_stride};
use std::mem::MaybeUninit;
use std::sync::OnceLock;
use tessera_core::Layout;

/// The whole forward recurrence: `inputs` are `[proj, h0, c0, w_hh]` (see
/// [`LstmSequencePlan`]). Returns contiguous `[out, cells, acts]`: `out` is
/// `[steps + 1, batch, hidden]`, each step's hidden state then the last cell state; `cells` is
/// `[steps, batch, hidden]`, every step's cell state; `acts` is `[steps, batch, 4 * hidden]`,
/// every step's activated gates, as [`super::lstm_cell`] gives them.
pub fn lstm_sequence(plan: &LstmSequencePlan, inputs: [&CpuBuffer; 4]) -> Result<[CpuBuffer; 3]> {
    expect_dtype("lstm_sequence", plan.dtype, &inputs)?;
    fn run<T: SequenceElem>(plan: &LstmSequencePlan, inputs: [&CpuBuffer; 4]) -> [CpuBuffer; 3] {
        let [p, h, c, w] = values_of::<T, 4>(inputs, &plan.inputs);
        let parts = split(plan.batch, plan.hidden, 4);
        forward(plan.dims(), &parts, &p, &h, &c, &w).map(T::wrap)
    }
    by_dtype("lstm_sequence", plan.dtype, || run::<f32>(plan, inputs), || run::<f64>(plan, inputs))
}

/// The whole backward recurrence: `inputs` are `[out, cells, acts, h0, c0, w_hh, grad]`, the
/// forward's outputs and inputs and the gradient of `out` (see [`LstmSequenceBackwardPlan`]).
/// Returns `[d_proj, dh0, dc0, d_w_hh]`, the gradients of the projection (which is also every
/// step's gate gradient), of the initial states and of the recurrent weight (`dh0` empty unless
/// the plan's `initial_hidden_grad`), and `d_proj`'s layout: `[steps, batch, 4 * hidden]` with
/// its rows padded off multiples of 4 KiB (see `backward`'s module); the others are contiguous.
pub fn lstm_sequence_backward(
    plan: &LstmSequenceBackwardPlan,
    inputs: [&CpuBuffer; 7],
) -> Result<([CpuBuffer; 4], Layout)> {
    expect_dtype("lstm_sequence_backward", plan.dtype, &inputs)?;
    fn run<T: SequenceElem>(plan: &LstmSequenceBackwardPlan, inputs: [&CpuBuffer; 7]) -> ([CpuBuffer; 4], Layout) {
        let values = values_of::<T, 7>(inputs, &plan.inputs);
        let parts = split(plan.batch, plan.hidden, 4);
        let grads = backward(plan.dims(), &parts, values.each_ref().map(|v| &**v), plan.initial_hidden_grad);
        let ld = gate_grad_stride::<T>(plan.hidden);
        (grads.map(T::wrap), gate_grads_layout(plan.dims(), 4 * plan.hidden, ld))
    }
    by_dtype("lstm_sequence_backward", plan.dtype, || run::<f32>(plan, inputs), || run::<f64>(plan, inputs))
}

fn forward<T: GemmElem + FloatMath>(
    (steps, batch, hidden): Dims,
    parts: &[Part],
    proj: &[T],
    h0: &[T],
    c0: &[T],
    w_hh: &[T],
) -> [Vec<T>; 3] {
    let (n, g) = (batch * hidden, batch * 4 * hidden);
    let (mut out, out_p) = uninit::<T>((steps + 1) * n);
    let (mut cells, cells_p) = uninit::<T>(steps * n);
    let (mut acts, acts_p) = uninit::<T>(steps * g);
    if n > 0 {
        // `W_hhᵀ`, part by part (a band of rows has all units: its own copy), laid out at the
        // part's first product by the thread that runs it, so that it lands in the cache of the
        // core that reads it at every step.
        let weights: Vec<OnceLock<ReusedRhs<T>>> = parts.iter().map(|_| OnceLock::new()).collect();
        let (_scratch, scratch_p) = uninit::<T>(g);
        // With the default initial state, all zeros, step 0's product is zeros: one of the
        // sequence's products skipped (as the weight's gradient skips its step-0 term).
        let h0_zero = h0.iter().all(|&v| v == T::ZERO);
        each_step(steps, parts, |t, i| {
            let Part { row0, rows, u0, w } = parts[i];
            // Column `q * w + j` of the band's block: row `q * hidden + u0 + j` of `w_hh`.
            let weight = || {
                weights[i].get_or_init(|| {
                    ReusedRhs::new(w_hh, (hidden, 4 * w), |col| (((col / w) * hidden + u0 + col % w) * hidden, 1))
                })
            };
            // SAFETY: the steps before `t` wrote this part's rows of `out` and `cells` up to step
            // `t` (`each_step` runs a part's step after every part of its rows finished the one
            // before); the part owns its scratch block (`rows * 4 * w` from `row0 * 4 * hidden +
            // rows * 4 * u0`) and its units of its rows in step `t`'s outputs, and nothing else
            // touches them while it runs.
            unsafe {
                let (h_prev, c_prev) = match t {
                    0 => (&h0[row0 * hidden..][..rows * hidden], &c0[row0 * hidden..][..rows * hidden]),
                    _ => (
                        std::slice::from_raw_parts(out_p.get().add((t - 1) * n + row0 * hidden), rows * hidden),
                        std::slice::from_raw_parts(cells_p.get().add((t - 1) * n + row0 * hidden), rows * hidden),
                    ),
                };
                let x = &proj[t * g + row0 * 4 * hidden..][..rows * 4 * hidden];
                let scratch = scratch_p.get().add(row0 * 4 * hidden + rows * 4 * u0);
                let dst = std::slice::from_raw_parts_mut(scratch.cast::<MaybeUninit<T>>(), rows * 4 * w);
                if t == 0 && h0_zero {
                    dst.fill(MaybeUninit::new(T::ZERO));
                } else {
                    weight().product(rows, (h_prev, hidden), (dst, 4 * w));
                }
                let h_gates = std::slice::from_raw_parts(scratch, rows * 4 * w);
                let at = [t * n + row0 * hidden, t * n + row0 * hidden, t * g + row0 * 4 * hidden];
                let outs = [out_p.get().add(at[0]), cells_p.get().add(at[1]), acts_p.get().add(at[2])];
                forward_band(hidden, u0, w, x, h_gates, c_prev, outs.map(OutPtr));
            }
        });
        // SAFETY: the last step wrote its cell state: copy it after the hidden states.
        unsafe { std::ptr::copy_nonoverlapping(cells_p.get().add((steps - 1) * n), out_p.get().add(steps * n), n) };
    }
    // SAFETY: every step wrote all of its units (the parts cover every row's units), and the last
    // cell state was copied; with `n == 0` the lengths are 0.
    unsafe {
        out.set_len((steps + 1) * n);
        cells.set_len(steps * n);
        acts.set_len(steps * g);
    }
    [out, cells, acts]
}

multiversion! {
    /// One step's cell for the units `u0..u0 + w` of every row: gate pre-activations from `x`
    /// (`[batch, 4 * hidden]`) and `h_gates` (the band's `[batch, 4 * w]`), the previous cell
    /// state from `c_prev` (`[batch, hidden]`); writes the units' hidden and cell states and
    /// activated gates through `outs` (`[h, c, acts]` of the step, `[batch, hidden]` and
    /// `[batch, 4 * hidden]`).
    fn forward_band<T>(
        hidden: usize,
        u0: usize,
        w: usize,
        x: &[T],
        h_gates: &[T],
        c_prev: &[T],
        outs: [OutPtr<T>; 3]
    ) where T: FloatMath
    {
        let [h_out, c_out, acts] = outs.map(|p| p.get().cast::<MaybeUninit<T>>());
        for (b, (xb, hg)) in x.chunks_exact(4 * hidden).zip(h_gates.chunks_exact(4 * w)).enumerate() {
            let gate = |q: usize| &xb[q * hidden + u0..q * hidden + u0 + w];
            let band = |q: usize| &hg[q * w..(q + 1) * w];
            // SAFETY: row `b`'s units `u0..u0 + w` of each output lie inside it and belong to
            // this band alone (the caller's contract).
            let (a, co, ho) = unsafe {
                let row = |p: *mut MaybeUninit<T>, width: usize, at: usize| {
                    std::slice::from_raw_parts_mut(p.add(b * width + at), w)
                };
                (
                    [0, 1, 2, 3].map(|q| row(acts, 4 * hidden, q * hidden + u0)),
                    row(c_out, hidden, u0),
                    row(h_out, hidden, u0),
                )
            };
            if let Some(next) = x.get((b + 1) * 4 * hidden..(b + 2) * 4 * hidden) {
                (0..4).for_each(|q| prefetch(&next[q * hidden + u0..q * hidden + u0 + w]));
                prefetch(&c_prev[(b + 1) * hidden + u0..(b + 1) * hidden + u0 + w]);
            }
            let cp = &c_prev[b * hidden + u0..b * hidden + u0 + w];
            forward_units([0, 1, 2, 3].map(gate), [0, 1, 2, 3].map(band), cp, a, co, ho);
        }
    }
}

mod backward;

#[cfg(test)]
mod tests;
