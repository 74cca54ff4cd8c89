use super::*;
use crate::cpu::recurrence::testing::{assert_close, Real};
use crate::cpu::recurrence::{row_parts, unit_parts};
use crate::cpu::test_values::values;

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// The recurrence written out step by step, unit by unit: `(out, cells, acts)`.
fn forward_reference((steps, batch, hidden): Dims, proj: &[f64], h0: &[f64], c0: &[f64], w: &[f64]) -> [Vec<f64>; 3] {
    let (mut h, mut c) = (h0.to_vec(), c0.to_vec());
    let (mut out, mut cells, mut acts) = (Vec::new(), Vec::new(), Vec::new());
    for t in 0..steps {
        let (mut h_next, mut c_next) = (vec![0.0; batch * hidden], vec![0.0; batch * hidden]);
        for b in 0..batch {
            let z = |j: usize| {
                let dot: f64 = (0..hidden).map(|k| h[b * hidden + k] * w[j * hidden + k]).sum();
                proj[(t * batch + b) * 4 * hidden + j] + dot
            };
            let gates: Vec<[f64; 4]> = (0..hidden)
                .map(|u| {
                    let [i, f, g, o] = [0, 1, 2, 3].map(|q| z(q * hidden + u));
                    [sigmoid(i), sigmoid(f), g.tanh(), sigmoid(o)]
                })
                .collect();
            for q in 0..4 {
                acts.extend(gates.iter().map(|a| a[q]));
            }
            for (u, [i, f, g, o]) in gates.into_iter().enumerate() {
                let cell = f * c[b * hidden + u] + i * g;
                c_next[b * hidden + u] = cell;
                h_next[b * hidden + u] = o * cell.tanh();
            }
        }
        (h, c) = (h_next, c_next);
        out.extend_from_slice(&h);
        cells.extend_from_slice(&c);
    }
    out.extend_from_slice(&c);
    [out, cells, acts]
}

/// Backpropagation through time over [`forward_reference`]'s values:
/// `(d_proj, dh0, dc0, d_w_hh)`.
fn backward_reference((steps, batch, hidden): Dims, saved: [&[f64]; 7]) -> [Vec<f64>; 4] {
    let [out, cells, acts, h0, c0, w, grad] = saved;
    let (n, g4) = (batch * hidden, 4 * hidden);
    let mut d = vec![0.0; steps * batch * g4];
    let mut dh_next = vec![0.0; n];
    let mut dc = grad[steps * n..].to_vec();
    let mut d_w = vec![0.0; g4 * hidden];
    for t in (0..steps).rev() {
        let c_prev = if t > 0 { &cells[(t - 1) * n..t * n] } else { c0 };
        let h_prev = if t > 0 { &out[(t - 1) * n..t * n] } else { h0 };
        for b in 0..batch {
            for u in 0..hidden {
                let a = |q: usize| acts[(t * batch + b) * g4 + q * hidden + u];
                let (i, f, g, o) = (a(0), a(1), a(2), a(3));
                let k = b * hidden + u;
                let dh = grad[t * n + k] + dh_next[k];
                let tc = cells[t * n + k].tanh();
                let dct = dc[k] + dh * o * (1.0 - tc * tc);
                let row = (t * batch + b) * g4;
                d[row + u] = dct * g * i * (1.0 - i);
                d[row + hidden + u] = dct * c_prev[k] * f * (1.0 - f);
                d[row + 2 * hidden + u] = dct * i * (1.0 - g * g);
                d[row + 3 * hidden + u] = dh * tc * o * (1.0 - o);
                dc[k] = dct * f;
            }
        }
        for b in 0..batch {
            for k in 0..hidden {
                dh_next[b * hidden + k] = (0..g4).map(|j| d[(t * batch + b) * g4 + j] * w[j * hidden + k]).sum();
            }
            for j in 0..g4 {
                for k in 0..hidden {
                    d_w[j * hidden + k] += d[(t * batch + b) * g4 + j] * h_prev[b * hidden + k];
                }
            }
        }
    }
    [d, dh_next, dc, d_w]
}

/// The kernels against the reference, in one band, in bands that split the units unevenly (for
/// 40 units: widths 32 + 8 and 16 + 16 + 8) and in bands of 2 and 3 row ranges (uneven for 4
/// rows in 3), on a pool of 1 and of 2 threads, from a zero and a non-zero initial hidden state;
/// in f64 (gemm's products) and f32 (on AVX-512, the packed products, with row tiles and panels
/// cut short at every edge).
#[test]
fn matches_the_step_by_step_recurrence_in_every_banding() {
    // 128 units in one band: the block's rows and the gate gradients' rows (4 KiB of f64) are
    // padded, as are the gate gradients' rows of 256 f32 units; a batch of 32 in row bands of 16,
    // as `split` cuts it on two threads; 11 rows in tiles of 8 and 3.
    let shapes = [(4, 3, 40), (1, 1, 1), (2, 4, 15), (3, 2, 17), (2, 1, 33), (2, 2, 128), (3, 32, 96), (3, 11, 20)];
    for dims in shapes.into_iter().chain([(2, 3, 256)]) {
        check_against_reference::<f64>(dims);
        check_against_reference::<f32>(dims);
    }
}

fn check_against_reference<T: Real>(dims @ (steps, batch, hidden): Dims) {
    let (n, g) = (batch * hidden, batch * 4 * hidden);
    let proj = values(steps * g, 1);
    let w = values(4 * hidden * hidden, 2).iter().map(|v| v * 0.2).collect::<Vec<_>>();
    let c0 = values(n, 3);
    let grad = values((steps + 1) * n, 4);
    for h0 in [vec![0.0; n], values(n, 5)] {
        let want = forward_reference(dims, &proj, &h0, &c0, &w);
        let [out, cells, acts] = &want;
        let want_grads = backward_reference(dims, [out, cells, acts, &h0, &c0, &w, &grad]);
        let narrow = |v: &[f64]| v.iter().map(|&x| T::of(x)).collect::<Vec<T>>();
        let [proj, h0, c0, w, grad] = [&proj, &h0, &c0, &w, &grad].map(|v| narrow(v));
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let splits = [1, 2, 3].map(|count| unit_parts(batch, hidden, count));
            for parts in splits.into_iter().chain([2, 3].map(|count| row_parts(batch, hidden, count))) {
                let (got, mut grads) = pool.install(|| {
                    let got = forward(dims, &parts, &proj, &h0, &c0, &w);
                    let grads = backward(dims, &parts, [&got[0], &got[1], &got[2], &h0, &c0, &w, &grad], true);
                    (got, grads)
                });
                grads[0] = unpadded(&grads[0], hidden);
                let case =
                    format!("{dims:?} in parts {parts:?} on {threads} threads, h0 zero: {}", h0[0].wide() == 0.0);
                for (name, (g, w)) in ["out", "cells", "acts"].iter().zip(got.iter().zip(&want)) {
                    assert_close(&format!("{name}, {case}"), g, w);
                }
                for (name, (g, w)) in ["d_proj", "dh0", "dc0", "d_w_hh"].iter().zip(grads.iter().zip(&want_grads)) {
                    assert_close(&format!("{name}, {case}"), g, w);
                }
            }
        }
        // Without `h0`'s gradient: the others unchanged, `dh0` empty.
        let parts = unit_parts(batch, hidden, 1);
        let [out, cells, acts] = [out, cells, acts].map(|v| narrow(v));
        let mut grads = backward(dims, &parts, [&out, &cells, &acts, &h0, &c0, &w, &grad], false);
        grads[0] = unpadded(&grads[0], hidden);
        assert!(grads[1].is_empty());
        for (name, i) in [("d_proj", 0), ("dc0", 2), ("d_w_hh", 3)] {
            assert_close(&format!("{name} of {dims:?} without dh0"), &grads[i], &want_grads[i]);
        }
    }
}

/// The gate gradients `d` without their rows' padding, after checking that it holds zeros and
/// that the rows are padded exactly where `4 * hidden` values make a multiple of 4 KiB.
fn unpadded<T: Real>(d: &[T], hidden: usize) -> Vec<T> {
    let ld = backward::gate_grad_stride::<T>(hidden);
    let padded = (4 * hidden * std::mem::size_of::<T>()).is_multiple_of(4096) && hidden > 0;
    assert_eq!(ld, if padded { 4 * hidden + 64 / std::mem::size_of::<T>() } else { 4 * hidden });
    if ld == 0 {
        return d.to_vec();
    }
    assert!(d.chunks(ld).all(|row| row[4 * hidden..].iter().all(|v| v.wide() == 0.0)), "the padding is zeros");
    d.chunks(ld).flat_map(|row| row[..4 * hidden].to_vec()).collect()
}

/// One step, one unit, empty batches and zero-width states pass through without a product.
#[test]
fn degenerate_shapes() {
    let [out, cells, acts] = forward((1, 0, 3), &unit_parts(0, 3, 1), &[], &[], &[], &[0.5; 36]);
    assert!(out.is_empty() && cells.is_empty() && acts.is_empty());
    let grads = backward((1, 0, 3), &unit_parts(0, 3, 1), [&[], &[], &[], &[], &[], &[0.5; 36], &[]], true);
    assert_eq!(grads.each_ref().map(|v| v.len()), [0, 0, 0, 36]);
    assert!(grads[3].iter().all(|&v| v == 0.0));
    let dims = (1, 1, 1);
    let got = forward(dims, &unit_parts(1, 1, 1), &[0.1, 0.2, 0.3, 0.4], &[0.5], &[0.6], &[1.0, -1.0, 0.5, 2.0]);
    let want = forward_reference(dims, &[0.1, 0.2, 0.3, 0.4], &[0.5], &[0.6], &[1.0, -1.0, 0.5, 2.0]);
    for (g, w) in got.iter().zip(&want) {
        assert_close("one unit", g, w);
    }
}
