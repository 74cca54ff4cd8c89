use super::*;
use crate::cpu::recurrence::testing::{assert_close, Real};
use crate::cpu::recurrence::{row_parts, unit_parts};
use crate::cpu::test_values::values;

fn sigmoid(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

/// The recurrence written out step by step, unit by unit: `(out, acts)`.
fn forward_reference((steps, batch, hidden): Dims, proj: &[f64], h0: &[f64], w: &[f64], bias: &[f64]) -> [Vec<f64>; 2] {
    let mut h = h0.to_vec();
    let (mut out, mut acts) = (Vec::new(), Vec::new());
    for t in 0..steps {
        let mut h_next = vec![0.0; batch * hidden];
        for b in 0..batch {
            let x = |j: usize| proj[(t * batch + b) * 3 * hidden + j];
            let rec = |j: usize| bias[j] + (0..hidden).map(|k| h[b * hidden + k] * w[j * hidden + k]).sum::<f64>();
            let gates: Vec<[f64; 4]> = (0..hidden)
                .map(|u| {
                    let (r, z) = (sigmoid(x(u) + rec(u)), sigmoid(x(hidden + u) + rec(hidden + u)));
                    let h_n = rec(2 * hidden + u);
                    [r, z, (x(2 * hidden + u) + r * h_n).tanh(), h_n]
                })
                .collect();
            for q in 0..4 {
                acts.extend(gates.iter().map(|a| a[q]));
            }
            for (u, [_, z, n, _]) in gates.into_iter().enumerate() {
                h_next[b * hidden + u] = (1.0 - z) * n + z * h[b * hidden + u];
            }
        }
        h = h_next;
        out.extend_from_slice(&h);
    }
    [out, acts]
}

/// Backpropagation through time over [`forward_reference`]'s values:
/// `(d_proj, dh0, d_w_hh, d_b_hh)`.
fn backward_reference((steps, batch, hidden): Dims, saved: [&[f64]; 5]) -> [Vec<f64>; 4] {
    let [out, acts, h0, w, grad] = saved;
    let (n, g3) = (batch * hidden, 3 * hidden);
    let mut d_proj = vec![0.0; steps * batch * g3];
    let mut dh_next = vec![0.0; n];
    let (mut d_w, mut d_b) = (vec![0.0; g3 * hidden], vec![0.0; g3]);
    for t in (0..steps).rev() {
        let h_prev = if t > 0 { &out[(t - 1) * n..t * n] } else { h0 };
        let mut d_rec = vec![0.0; batch * g3];
        let mut dh_prev = vec![0.0; n];
        for b in 0..batch {
            for u in 0..hidden {
                let a = |q: usize| acts[(t * batch + b) * 4 * hidden + q * hidden + u];
                let (r, z, nn, h_n) = (a(0), a(1), a(2), a(3));
                let k = b * hidden + u;
                let dh = grad[t * n + k] + dh_next[k];
                let dn = dh * (1.0 - z) * (1.0 - nn * nn);
                let dz = dh * (h_prev[k] - nn) * z * (1.0 - z);
                let dr = dn * h_n * r * (1.0 - r);
                let row = (t * batch + b) * g3;
                [d_proj[row + u], d_proj[row + hidden + u], d_proj[row + 2 * hidden + u]] = [dr, dz, dn];
                [d_rec[b * g3 + u], d_rec[b * g3 + hidden + u], d_rec[b * g3 + 2 * hidden + u]] = [dr, dz, dn * r];
                dh_prev[k] = dh * z;
            }
        }
        for b in 0..batch {
            for k in 0..hidden {
                dh_prev[b * hidden + k] += (0..g3).map(|j| d_rec[b * g3 + j] * w[j * hidden + k]).sum::<f64>();
            }
            for j in 0..g3 {
                d_b[j] += d_rec[b * g3 + j];
                for k in 0..hidden {
                    d_w[j * hidden + k] += d_rec[b * g3 + j] * h_prev[b * hidden + k];
                }
            }
        }
        dh_next = dh_prev;
    }
    [d_proj, dh_next, d_w, d_b]
}

/// The kernels against the reference, in one band, in bands that split the units unevenly and
/// in bands of rows, on a pool of 1 and of 2 threads, from a zero and a non-zero initial state,
/// in f64 and f32; with and without `h0`'s gradient.
#[test]
fn matches_the_step_by_step_recurrence_in_every_banding() {
    // 512 f64 units put the gate gradients' rows 12 KiB apart (padded); a batch of 32 in row
    // bands of 16, as `split` cuts it on two threads.
    let shapes = [(4, 3, 40), (1, 1, 1), (2, 4, 15), (3, 2, 17), (2, 1, 33), (3, 32, 96), (3, 11, 20), (2, 2, 512)];
    for dims in shapes {
        check_against_reference::<f64>(dims);
        check_against_reference::<f32>(dims);
    }
}

fn check_against_reference<T: Real>(dims @ (steps, batch, hidden): Dims) {
    let n = batch * hidden;
    let proj = values(steps * batch * 3 * hidden, 1);
    let w = values(3 * hidden * hidden, 2).iter().map(|v| v * 0.2).collect::<Vec<_>>();
    let bias = values(3 * hidden, 3);
    let grad = values(steps * n, 4);
    for h0 in [vec![0.0; n], values(n, 5)] {
        let want = forward_reference(dims, &proj, &h0, &w, &bias);
        let [out, acts] = &want;
        let want_grads = backward_reference(dims, [out, acts, &h0, &w, &grad]);
        let narrow = |v: &[f64]| v.iter().map(|&x| T::of(x)).collect::<Vec<T>>();
        let [proj, h0, w, bias, grad] = [&proj, &h0, &w, &bias, &grad].map(|v| narrow(v));
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let splits = [1, 2, 3].map(|count| unit_parts(batch, hidden, count));
            for parts in splits.into_iter().chain([2, 3].map(|count| row_parts(batch, hidden, count))) {
                let (got, mut grads) = pool.install(|| {
                    let got = forward(dims, &parts, &proj, &h0, &w, &bias);
                    let grads = backward(dims, &parts, [&got[0], &got[1], &h0, &w, &grad], true);
                    (got, grads)
                });
                grads[0] = unpadded(&grads[0], hidden);
                let case =
                    format!("{dims:?} in parts {parts:?} on {threads} threads, h0 zero: {}", h0[0].wide() == 0.0);
                for (name, (g, w)) in ["out", "acts"].iter().zip(got.iter().zip(&want)) {
                    assert_close(&format!("{name}, {case}"), g, w);
                }
                for (name, (g, w)) in ["d_proj", "dh0", "d_w_hh", "d_b_hh"].iter().zip(grads.iter().zip(&want_grads)) {
                    assert_close(&format!("{name}, {case}"), g, w);
                }
            }
        }
        let parts = unit_parts(batch, hidden, 1);
        let [out, acts] = [out, acts].map(|v| narrow(v));
        let mut grads = backward(dims, &parts, [&out, &acts, &h0, &w, &grad], false);
        grads[0] = unpadded(&grads[0], hidden);
        assert!(grads[1].is_empty());
        for (name, i) in [("d_proj", 0), ("d_w_hh", 2), ("d_b_hh", 3)] {
            assert_close(&format!("{name} of {dims:?} without dh0"), &grads[i], &want_grads[i]);
        }
    }
}

/// The gate gradients without their rows' padding, after checking that it holds zeros and that
/// the rows are padded exactly where `3 * hidden` values make a multiple of 4 KiB.
fn unpadded<T: Real>(d: &[T], hidden: usize) -> Vec<T> {
    let ld = backward::gate_grad_stride::<T>(hidden);
    let padded = (3 * hidden * std::mem::size_of::<T>()).is_multiple_of(4096) && hidden > 0;
    assert_eq!(ld, if padded { 3 * hidden + 64 / std::mem::size_of::<T>() } else { 3 * hidden });
    assert!(d.chunks(ld).all(|row| row[3 * hidden..].iter().all(|v| v.wide() == 0.0)), "the padding is zeros");
    d.chunks(ld).flat_map(|row| row[..3 * hidden].to_vec()).collect()
}

/// Empty batches pass through without a product; one unit matches the reference.
#[test]
fn degenerate_shapes() {
    let [out, acts] = forward((1, 0, 3), &unit_parts(0, 3, 1), &[], &[], &[0.5; 27], &[0.1; 9]);
    assert!(out.is_empty() && acts.is_empty());
    let grads = backward((1, 0, 3), &unit_parts(0, 3, 1), [&[], &[], &[], &[0.5; 27], &[]], true);
    assert_eq!(grads.each_ref().map(|v| v.len()), [0, 0, 27, 9]);
    assert!(grads[2].iter().chain(&grads[3]).all(|&v| v == 0.0));
    let dims = (1, 1, 1);
    let (proj, w, bias) = ([0.1, 0.2, 0.3], [1.0, -1.0, 0.5], [0.25, -0.5, 0.75]);
    let got = forward(dims, &unit_parts(1, 1, 1), &proj, &[0.5], &w, &bias);
    let want = forward_reference(dims, &proj, &[0.5], &w, &bias);
    for (g, w) in got.iter().zip(&want) {
        assert_close("one unit", g, w);
    }
}
