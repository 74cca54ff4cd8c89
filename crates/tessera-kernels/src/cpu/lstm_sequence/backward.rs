//! The backward recurrence: each step's gate gradients written into the sequence's buffer,
//! the hidden state's gradient carried back through `w_hh` part by part, then the initial
//! state's and the weight's gradients as whole products.

use super::super::buffer::strided_values;
use super::super::lstm::backward_units;
use super::super::matmul::{as_uninit, batched, product, GemmElem, OutPtr};
use super::super::matmul_reused::ReusedRhs;
use super::super::simd::{multiversion, prefetch};
use super::super::unary::FloatMath;
use super::{each_step, uninit, Dims, Part};
use crate::plan::MatmulShape;
use gemm::Parallelism;
use std::mem::MaybeUninit;
use std::sync::OnceLock;
use tessera_core::{Layout, Shape};

pub(super) fn backward<T: GemmElem + FloatMath>(
    (steps, batch, hidden): Dims,
    parts: &[Part],
    saved: [&[T]; 7],
    initial_hidden_grad: bool,
) -> [Vec<T>; 4] {
    let [out, cells, acts, h0, c0, w_hh, grad] = saved;
    let (n, g) = (batch * hidden, batch * 4 * hidden);
    let (mut d, d_p) = uninit::<T>(steps * g);
    // The cell state's gradient, read and written by turns: step `t` reads `dcs[(steps - 1 - t) % 2]`
    // and writes the other, so the last step processed (step 0) leaves it in `dcs[steps % 2]`.
    let mut dcs = [grad[steps * n..].to_vec(), grad[steps * n..].to_vec()];
    if n > 0 {
        let (_scratch, scratch_p) = uninit::<T>(n);
        let dc_ptrs = [OutPtr(dcs[0].as_mut_ptr()), OutPtr(dcs[1].as_mut_ptr())];
        // Each part's columns of `w_hh`, laid out at its first product by the thread that runs it.
        let weights: Vec<OnceLock<ReusedRhs<T>>> = parts.iter().map(|_| OnceLock::new()).collect();
        each_step(steps, parts, |s, i| {
            let Part { row0, rows, u0, w } = parts[i];
            let weight = || weights[i].get_or_init(|| ReusedRhs::new(w_hh, (4 * hidden, w), |j| (u0 + j, hidden)));
            let t = steps - 1 - s;
            let (states, gates) = (t * n + row0 * hidden..t * n + (row0 + rows) * hidden, row0 * 4 * hidden);
            let c_before = if t > 0 { &cells[states.start - n..states.end - n] } else { &c0[states.start..states.end] };
            let step = [&acts[t * g + gates..][..rows * 4 * hidden], c_before, &cells[states.clone()], &grad[states]];
            // SAFETY: the part owns its scratch block (`rows * w` from `row0 * hidden + rows *
            // u0`), its units of its rows in both `dc` buffers, and its gate columns of its rows
            // of step `t` in `d`; its rows of step `t + 1` in `d` were written completely before
            // this step began (`each_step`).
            unsafe {
                let [dc_in, dc_out] =
                    [dc_ptrs[s % 2], dc_ptrs[(s + 1) % 2]].map(|p| OutPtr(p.get().add(row0 * hidden)));
                let dh = scratch_p.get().add(row0 * hidden + rows * u0);
                let carried = t + 1 < steps;
                if carried {
                    let d_next = std::slice::from_raw_parts(d_p.get().add((t + 1) * g + gates), rows * 4 * hidden);
                    let dst = std::slice::from_raw_parts_mut(dh.cast::<MaybeUninit<T>>(), rows * w);
                    weight().product(rows, (d_next, 4 * hidden), (dst, w));
                }
                let dh = OutPtr(dh);
                let outs = [OutPtr(d_p.get().add(t * g + gates)), dc_out];
                backward_band(hidden, u0, w, carried, step, dh, dc_in, outs);
            }
        });
    }
    // SAFETY: every step wrote all of its gate gradients (the parts cover every row's units).
    unsafe { d.set_len(steps * g) };
    let dh0 = if initial_hidden_grad { initial_hidden_grad_of(batch, hidden, &d, w_hh) } else { Vec::new() };
    let d_w_hh = weight_grad((steps, batch, hidden), &d, out, h0);
    let [even, odd] = dcs;
    let dc0 = if steps % 2 == 0 { even } else { odd };
    [d, dh0, dc0, d_w_hh]
}

multiversion! {
    /// One step's backward for the units `u0..u0 + w` of every row. `step` is
    /// `[acts, c_prev, c, d_out]` of the step; `dh` (the band's `[batch, w]`) holds the gradient
    /// carried from the next step when `carried`, and gets the step's own `d_out` added. Reads
    /// the units' `dc` through `dc_in` and writes their gate gradients and `dc_prev` through
    /// `outs` (`[d_gates, dc_prev]`).
    #[allow(clippy::too_many_arguments)]
    fn backward_band<T>(
        hidden: usize,
        u0: usize,
        w: usize,
        carried: bool,
        step: [&[T]; 4],
        dh: OutPtr<T>,
        dc_in: OutPtr<T>,
        outs: [OutPtr<T>; 2]
    ) where T: FloatMath
    {
        let [acts, c_prev, c, d_out] = step;
        let batch = c.len() / hidden;
        let [d_gates, dc_prev] = outs.map(|p| p.get().cast::<MaybeUninit<T>>());
        for b in 0..batch {
            let units = b * hidden + u0..b * hidden + u0 + w;
            // SAFETY: row `b`'s units of every buffer lie inside it and belong to this band
            // alone (the caller's contract).
            let (dh, dc, dg, dcp) = unsafe {
                (
                    std::slice::from_raw_parts_mut(dh.get().add(b * w), w),
                    std::slice::from_raw_parts(dc_in.get().add(units.start), w),
                    [0, 1, 2, 3].map(|q| std::slice::from_raw_parts_mut(d_gates.add(b * 4 * hidden + q * hidden + u0), w)),
                    std::slice::from_raw_parts_mut(dc_prev.add(units.start), w),
                )
            };
            // As the composition: the step's own gradient, plus the one carried back.
            if carried {
                for (s, &o) in dh.iter_mut().zip(&d_out[units.clone()]) {
                    *s = o + *s;
                }
            } else {
                dh.copy_from_slice(&d_out[units.clone()]);
            }
            if b + 1 < batch {
                let next = units.start + hidden..units.end + hidden;
                let gates = &acts[(b + 1) * 4 * hidden..(b + 2) * 4 * hidden];
                (0..4).for_each(|q| prefetch(&gates[q * hidden + u0..q * hidden + u0 + w]));
                [c_prev, c, d_out].iter().for_each(|s| prefetch(&s[next.clone()]));
            }
            let a = &acts[b * 4 * hidden..(b + 1) * 4 * hidden];
            let gates = [0, 1, 2, 3].map(|q| &a[q * hidden + u0..q * hidden + u0 + w]);
            backward_units(gates, [&c_prev[units.clone()], &c[units.clone()], dh, dc], dg, dcp);
        }
    }
}

fn matrix(rows: usize, cols: usize) -> Layout {
    Layout::contiguous(Shape::new(vec![rows, cols]))
}

fn product_of<T: GemmElem>(a: &[T], al: &Layout, b: &[T], bl: &Layout) -> Vec<T> {
    let shape = MatmulShape::new("lstm_sequence_backward", al, bl).expect("matrix shapes agree");
    batched(a, al, b, bl, &shape, None)
}

/// `dh0 = d_0 @ w_hh`, from step 0's gate gradients, the first `batch` rows of `d`.
fn initial_hidden_grad_of<T: GemmElem>(batch: usize, hidden: usize, d: &[T], w_hh: &[T]) -> Vec<T> {
    product_of(&d[..batch * 4 * hidden], &matrix(batch, 4 * hidden), w_hh, &matrix(4 * hidden, hidden))
}

/// `d_w_hh = Σ_t d_tᵀ @ h_{t-1}`, from the gate gradients `d` (`[steps, batch, 4 * hidden]`), the
/// hidden states in `out` and `h0`. Steps 1 onwards are one product over `(steps - 1) * batch`
/// rows of `out`; step 0's term is added onto it unless `h0` is all zeros (the default initial
/// state), when it adds nothing.
fn weight_grad<T: GemmElem + FloatMath>((steps, batch, hidden): Dims, d: &[T], out: &[T], h0: &[T]) -> Vec<T> {
    let (n, g) = (batch * hidden, batch * 4 * hidden);
    // The weight's gradient is made transposed, `outᵀ @ d` (`[hidden, 4 * hidden]`), then
    // transposed back: as `dᵀ @ out`, gemm packs `d` from rows `4 * hidden` apart (4 KiB for 256
    // units), which cost more than the transpose of the smaller result.
    let rows = (steps - 1) * batch;
    let out_later = matrix(rows, hidden).transpose(0, 1).expect("rank 2");
    let mut d_w_t = product_of(&out[..rows * hidden], &out_later, &d[g..], &matrix(rows, 4 * hidden));
    if n > 0 && h0.iter().any(|&v| v != T::ZERO) {
        let par = if rayon::current_num_threads() > 1 { Parallelism::Rayon(0) } else { Parallelism::None };
        // Step 0's term, `h0ᵀ @ d_0`: `h0` (`[batch, hidden]`) read transposed.
        let (lhs, rhs) = ((h0, (1, hidden)), (&d[..g], (4 * hidden, 1)));
        product([hidden, 4 * hidden, batch], (as_uninit(&mut d_w_t), (4 * hidden, 1)), true, lhs, rhs, par);
    }
    strided_values(&d_w_t, &matrix(hidden, 4 * hidden).transpose(0, 1).expect("rank 2")).into_owned()
}
