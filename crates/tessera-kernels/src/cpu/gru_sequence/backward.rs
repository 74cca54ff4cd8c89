//! The backward recurrence: each step's gate gradients written into the sequence's buffers, the
//! hidden state's gradient carried back through `w_hh` part by part, then the initial state's,
//! the weight's and the bias's gradients over the whole sequence.
//!
//! A step has two sets of gate gradients: those of the input projection, `[r, z, n]` before
//! their nonlinearities, and those of the recurrent product `W_h• h + b_h•`, which differ in the
//! candidate's, multiplied by `r`. Both are kept, rows [`gate_grad_stride`] apart (see
//! `lstm_sequence`'s backward for why).

use super::super::matmul::{GemmElem, OutPtr};
use super::super::matmul_reused::{row_stride, ReusedRhs};
use super::super::recurrence::{each_step, initial_hidden_grad_of, uninit, weight_grad, Dims, Part};
use super::super::simd::{multiversion, prefetch};
use super::super::unary::FloatMath;
use std::mem::MaybeUninit;
use std::sync::OnceLock;

/// The distance between consecutive rows of the gate gradients, `[steps * batch, 3 * hidden]`:
/// `3 * hidden`, or 64 bytes more where that is a multiple of 4 KiB.
pub(crate) fn gate_grad_stride<T>(hidden: usize) -> usize {
    row_stride::<T>(3 * hidden)
}

/// Returns `[d_proj, dh0, d_w_hh, d_b_hh]`, `d_proj`'s rows [`gate_grad_stride`] apart (the
/// values past `3 * hidden` in each are zeros).
pub(super) fn backward<T: GemmElem + FloatMath>(
    (steps, batch, hidden): Dims,
    parts: &[Part],
    saved: [&[T]; 5],
    initial_hidden_grad: bool,
) -> [Vec<T>; 4] {
    let [out, acts, h0, w_hh, grad] = saved;
    let (n, ld) = (batch * hidden, gate_grad_stride::<T>(hidden));
    let (mut d_proj, d_proj_p) = uninit::<T>(steps * batch * ld);
    let (mut d_rec, d_rec_p) = uninit::<T>(steps * batch * ld);
    // `dh z` of the step after, the part of the hidden state's gradient that skips the product.
    let mut skip = vec![T::ZERO; n];
    let skip_p = OutPtr(skip.as_mut_ptr());
    if n > 0 {
        let (_scratch, scratch_p) = uninit::<T>(n);
        let weights: Vec<OnceLock<ReusedRhs<T>>> = parts.iter().map(|_| OnceLock::new()).collect();
        each_step(steps, parts, |s, i| {
            let Part { row0, rows, u0, w } = parts[i];
            let weight = || weights[i].get_or_init(|| ReusedRhs::new(w_hh, (3 * hidden, w), |j| (u0 + j, hidden)));
            let t = steps - 1 - s;
            let states = t * n + row0 * hidden..t * n + (row0 + rows) * hidden;
            let h_prev = if t > 0 { &out[states.start - n..states.end - n] } else { &h0[states.start..states.end] };
            let step = [&acts[(t * batch + row0) * 4 * hidden..][..rows * 4 * hidden], h_prev, &grad[states]];
            let gates = (t * batch + row0) * ld;
            // SAFETY: the part owns its scratch block (`rows * w` from `row0 * hidden + rows *
            // u0`), its units of its rows in `skip`, and its gate columns (and, with the first
            // band, the padding) of its rows of step `t` in both gradient buffers; its rows of
            // step `t + 1` in `d_rec` were written completely before this step began
            // (`each_step`).
            unsafe {
                let carried = t + 1 < steps;
                let dh = scratch_p.get().add(row0 * hidden + rows * u0);
                if carried {
                    let d_next = std::slice::from_raw_parts(d_rec_p.get().add(gates + batch * ld), rows * ld);
                    let dst = std::slice::from_raw_parts_mut(dh.cast::<MaybeUninit<T>>(), rows * w);
                    weight().product(rows, (d_next, ld), (dst, w));
                }
                let outs = [d_proj_p, d_rec_p].map(|p| OutPtr(p.get().add(gates)));
                let skip = OutPtr(skip_p.get().add(row0 * hidden));
                backward_band([hidden, ld, u0, w], carried, step, OutPtr(dh), skip, outs);
                if u0 == 0 && ld > 3 * hidden {
                    for p in [d_proj_p, d_rec_p] {
                        for b in 0..rows {
                            let pad = p.get().add(gates + b * ld + 3 * hidden).cast::<MaybeUninit<T>>();
                            std::slice::from_raw_parts_mut(pad, ld - 3 * hidden).fill(MaybeUninit::new(T::ZERO));
                        }
                    }
                }
            }
        });
    }
    // SAFETY: every step wrote all of its gate gradients (the parts cover every row's units) and
    // the first band of each step its rows' padding.
    unsafe {
        d_proj.set_len(steps * batch * ld);
        d_rec.set_len(steps * batch * ld);
    }
    let dh0 = if initial_hidden_grad {
        let mut dh0 = initial_hidden_grad_of((batch, 3 * hidden, hidden), (&d_rec, ld), w_hh);
        dh0.iter_mut().zip(&skip).for_each(|(d, &s)| *d = *d + s);
        dh0
    } else {
        Vec::new()
    };
    let d_w_hh = weight_grad((steps, batch, hidden), (&d_rec, 3 * hidden, ld), out, h0);
    [d_proj, dh0, d_w_hh, column_sums(&d_rec, 3 * hidden, ld)]
}

/// The sums of the first `cols` columns of rows `ld` apart, row after row.
fn column_sums<T: FloatMath>(rows: &[T], cols: usize, ld: usize) -> Vec<T> {
    let mut sums = vec![T::ZERO; cols];
    for row in rows.chunks(ld.max(1)) {
        sums.iter_mut().zip(row).for_each(|(s, &v)| *s = *s + v);
    }
    sums
}

multiversion! {
    /// One step's backward for the units `u0..u0 + w` of every row (`dims` is `[hidden, ld, u0,
    /// w]`). `step` is `[acts, h_prev, d_out]` of the step; `dh` (the band's `[batch, w]`) holds
    /// the product carried from the next step when `carried`, and `skip` (`[batch, hidden]`)
    /// that step's `dh z`, replaced by this step's. Writes the units' gate gradients through
    /// `outs` (`[d_proj, d_rec]`, rows `ld` apart).
    fn backward_band<T>(
        dims: [usize; 4],
        carried: bool,
        step: [&[T]; 3],
        dh: OutPtr<T>,
        skip: OutPtr<T>,
        outs: [OutPtr<T>; 2]
    ) where T: FloatMath
    {
        let [hidden, ld, u0, w] = dims;
        let [acts, h_prev, d_out] = step;
        let batch = h_prev.len() / hidden.max(1);
        let [d_proj, d_rec] = outs.map(|p| p.get().cast::<MaybeUninit<T>>());
        for b in 0..batch {
            let units = b * hidden + u0..b * hidden + u0 + w;
            // SAFETY: row `b`'s units of every buffer lie inside it and belong to this band
            // alone (the caller's contract).
            let (dh, skip, dp, dr) = unsafe {
                let gates = |p: *mut MaybeUninit<T>| {
                    [0, 1, 2].map(|q| std::slice::from_raw_parts_mut(p.add(b * ld + q * hidden + u0), w))
                };
                (
                    std::slice::from_raw_parts_mut(dh.get().add(b * w), w),
                    std::slice::from_raw_parts_mut(skip.get().add(units.start), w),
                    gates(d_proj),
                    gates(d_rec),
                )
            };
            // As the composition: the step's own gradient, plus the one carried back.
            if carried {
                for ((s, &o), &k) in dh.iter_mut().zip(&d_out[units.clone()]).zip(&*skip) {
                    *s = o + (*s + k);
                }
            } else {
                dh.copy_from_slice(&d_out[units.clone()]);
            }
            let a = &acts[b * 4 * hidden..(b + 1) * 4 * hidden];
            if b + 1 < batch {
                let next = &acts[(b + 1) * 4 * hidden..(b + 2) * 4 * hidden];
                (0..4).for_each(|q| prefetch(&next[q * hidden + u0..q * hidden + u0 + w]));
                [h_prev, d_out].iter().for_each(|s| prefetch(&s[units.start + hidden..units.end + hidden]));
            }
            let saved = [0, 1, 2, 3].map(|q| &a[q * hidden + u0..q * hidden + u0 + w]);
            backward_units(saved, &h_prev[units.clone()], dh, skip, dp, dr);
        }
    }
}

/// One row's backward for `w` units, the operations of the composition in its order: from the
/// forward's `[r, z, n, h_n]`, the previous state and the state's gradient `dh`, writes `dh z`
/// into `skip` and the gate gradients `[r, z, n]` of the projection and of the recurrent product.
#[inline(always)]
fn backward_units<T: FloatMath>(
    [r, z, n, h_n]: [&[T]; 4],
    hp: &[T],
    dh: &[T],
    skip: &mut [T],
    [pr, pz, pn]: [&mut [MaybeUninit<T>]; 3],
    [qr, qz, qn]: [&mut [MaybeUninit<T>]; 3],
) {
    let w = hp.len();
    let (r, z, n, h_n, dh, skip) = (&r[..w], &z[..w], &n[..w], &h_n[..w], &dh[..w], &mut skip[..w]);
    let (pr, pz, pn, qr, qz, qn) = (&mut pr[..w], &mut pz[..w], &mut pn[..w], &mut qr[..w], &mut qz[..w], &mut qn[..w]);
    let one = T::ONE;
    for j in 0..w {
        let dh_z = dh[j] * z[j];
        let dn = (dh[j] - dh_z) * (one - n[j] * n[j]);
        let dz = dh[j] * (hp[j] - n[j]) * (z[j] * (one - z[j]));
        let dr = dn * h_n[j] * (r[j] * (one - r[j]));
        skip[j] = dh_z;
        pr[j].write(dr);
        qr[j].write(dr);
        pz[j].write(dz);
        qz[j].write(dz);
        pn[j].write(dn);
        qn[j].write(dn * r[j]);
    }
}
