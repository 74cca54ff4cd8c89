//! The backward recurrence: each step's gate gradients written into the sequence's buffer,
//! the hidden state's gradient carried back through `w_hh` part by part, then the initial
//! state's and the weight's gradients as whole products.
//!
//! The gate gradients' rows are [`gate_grad_stride`] apart: padded where `4 * hidden` values
//! would put them a multiple of 4 KiB apart. The input projection's weight gradient, `dᵀ @ x`,
//! reads them unpacked down their columns, and rows 4 KiB apart all fall in the same few cache
//! sets: `[1120, 1024]ᵀ @ [1120, 128]` f32 (the LSTM layer's) on one Zen 5 thread ran at 224–226
//! GFLOP/s with rows 1024 values apart and 260–261 with rows 1040 apart, while the recurrence's
//! own products moved by under 2%.

use super::super::lstm::backward_units;
use super::super::matmul::{GemmElem, OutPtr};
use super::super::matmul_reused::{row_stride, ReusedRhs};
use super::super::recurrence::{each_step, initial_hidden_grad_of, uninit, weight_grad, Dims, Part};
use super::super::simd::{multiversion, prefetch};
use super::super::unary::FloatMath;
use std::mem::MaybeUninit;
use std::sync::OnceLock;

/// The distance between consecutive rows of the gate gradients, `[steps * batch, 4 * hidden]`:
/// `4 * hidden`, or 64 bytes more where that is a multiple of 4 KiB (see the module's doc).
pub(crate) fn gate_grad_stride<T>(hidden: usize) -> usize {
    row_stride::<T>(4 * hidden)
}

/// Returns `[d, dh0, dc0, d_w_hh]`, `d`'s rows [`gate_grad_stride`] apart (the values past
/// `4 * hidden` in each are zeros).
pub(super) fn backward<T: GemmElem + FloatMath>(
    (steps, batch, hidden): Dims,
    parts: &[Part],
    saved: [&[T]; 7],
    initial_hidden_grad: bool,
) -> [Vec<T>; 4] {
    let [out, cells, acts, h0, c0, w_hh, grad] = saved;
    let (n, ld) = (batch * hidden, gate_grad_stride::<T>(hidden));
    let (mut d, d_p) = uninit::<T>(steps * batch * ld);
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
            let (states, gates) = (t * n + row0 * hidden..t * n + (row0 + rows) * hidden, (t * batch + row0) * ld);
            let c_before = if t > 0 { &cells[states.start - n..states.end - n] } else { &c0[states.start..states.end] };
            let step = [
                &acts[(t * batch + row0) * 4 * hidden..][..rows * 4 * hidden],
                c_before,
                &cells[states.clone()],
                &grad[states],
            ];
            // SAFETY: the part owns its scratch block (`rows * w` from `row0 * hidden + rows *
            // u0`), its units of its rows in both `dc` buffers, and its gate columns (and, with
            // the first band, the padding) of its rows of step `t` in `d`; its rows of step
            // `t + 1` in `d` were written completely before this step began (`each_step`).
            unsafe {
                let [dc_in, dc_out] =
                    [dc_ptrs[s % 2], dc_ptrs[(s + 1) % 2]].map(|p| OutPtr(p.get().add(row0 * hidden)));
                let dh = scratch_p.get().add(row0 * hidden + rows * u0);
                let carried = t + 1 < steps;
                if carried {
                    let d_next = std::slice::from_raw_parts(d_p.get().add(gates + batch * ld), rows * ld);
                    let dst = std::slice::from_raw_parts_mut(dh.cast::<MaybeUninit<T>>(), rows * w);
                    weight().product(rows, (d_next, ld), (dst, w));
                }
                let dh = OutPtr(dh);
                let outs = [OutPtr(d_p.get().add(gates)), dc_out];
                backward_band((hidden, ld), u0, w, carried, step, dh, dc_in, outs);
                if u0 == 0 && ld > 4 * hidden {
                    for b in 0..rows {
                        let pad = d_p.get().add(gates + b * ld + 4 * hidden).cast::<MaybeUninit<T>>();
                        std::slice::from_raw_parts_mut(pad, ld - 4 * hidden).fill(MaybeUninit::new(T::ZERO));
                    }
                }
            }
        });
    }
    // SAFETY: every step wrote all of its gate gradients (the parts cover every row's units) and
    // the first band of each step its rows' padding.
    unsafe { d.set_len(steps * batch * ld) };
    let dh0 = if initial_hidden_grad {
        initial_hidden_grad_of((batch, 4 * hidden, hidden), (&d, ld), w_hh)
    } else {
        Vec::new()
    };
    let d_w_hh = weight_grad((steps, batch, hidden), (&d, 4 * hidden, ld), out, h0);
    let [even, odd] = dcs;
    let dc0 = if steps % 2 == 0 { even } else { odd };
    [d, dh0, dc0, d_w_hh]
}

multiversion! {
    /// One step's backward for the units `u0..u0 + w` of every row. `step` is
    /// `[acts, c_prev, c, d_out]` of the step; `dh` (the band's `[batch, w]`) holds the gradient
    /// carried from the next step when `carried`, and gets the step's own `d_out` added. Reads
    /// the units' `dc` through `dc_in` and writes their gate gradients (rows `ld` apart) and
    /// `dc_prev` through `outs` (`[d_gates, dc_prev]`).
    #[allow(clippy::too_many_arguments)]
    fn backward_band<T>(
        dims: (usize, usize),
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
        let (hidden, ld) = dims;
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
                    [0, 1, 2, 3].map(|q| std::slice::from_raw_parts_mut(d_gates.add(b * ld + q * hidden + u0), w)),
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
