//! The CPU attention against its formula: tiles, the online softmax and dropout.

use super::*;
use crate::plan::{Arg, AttentionSpec, DropoutMask};
use tessera_core::{DType, Layout, Philox, Shape};

/// The softmax weights of query `i` of problem `pi` over the keys it sees, in f64, with the
/// default scale `1 / sqrt(d)`.
fn weights_row(q: &[f64], k: &[f64], dims: [usize; 4], causal: bool, (pi, i): (usize, usize)) -> Vec<f64> {
    let [_, sq, sk, d] = dims;
    let lim = if causal { i + 1 + sk - sq } else { sk };
    let scale = 1.0 / (d as f64).sqrt();
    let s: Vec<f64> = (0..lim)
        .map(|j| (0..d).map(|t| q[(pi * sq + i) * d + t] * k[(pi * sk + j) * d + t]).sum::<f64>() * scale)
        .collect();
    let m = s.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    let z: f64 = s.iter().map(|x| (x - m).exp()).sum();
    s.iter().map(|x| (x - m).exp() / z).collect()
}

/// Softmax attention by the textbook formula in f64, materialising every weight;
/// `factor(problem, i, j)` multiplies weight `(i, j)` (dropout).
fn naive(
    q: &[f64],
    k: &[f64],
    v: &[f64],
    dims: [usize; 4],
    dv: usize,
    causal: bool,
    factor: impl Fn(usize, usize, usize) -> f64,
) -> Vec<f64> {
    let [p, sq, sk, _] = dims;
    let mut out = vec![0.0; p * sq * dv];
    for pi in 0..p {
        for i in 0..sq {
            for (j, w) in weights_row(q, k, dims, causal, (pi, i)).iter().enumerate() {
                for t in 0..dv {
                    out[(pi * sq + i) * dv + t] += w * factor(pi, i, j) * v[(pi * sk + j) * dv + t];
                }
            }
        }
    }
    out
}

#[test]
fn tiles_and_online_softmax_match_the_formula() {
    // 150 keys: three key tiles, the last partial; 70 queries: three row tiles.
    let (sq, sk, d, dv) = (70, 150, 12, 5);
    let vals = |n: usize, k: f64| (0..n).map(|i| ((i as f64) * 0.37 + k).sin() * 2.0).collect::<Vec<f64>>();
    let (q, k, v) = (vals(2 * sq * d, 0.1), vals(2 * sk * d, 0.7), vals(2 * sk * dv, 1.3));
    let l = |dims: &[usize]| Layout::contiguous(Shape::from(dims));
    let (ql, kl, vl) = (l(&[1, 2, sq, d]), l(&[1, 2, sk, d]), l(&[1, 2, sk, dv]));
    for causal in [false, true] {
        let spec = AttentionSpec { causal, ..Default::default() };
        let f = |l| Arg::new(DType::F64, l);
        let plan = AttentionPlan::new(f(&ql), f(&kl), f(&vl), None, spec).unwrap();
        let bufs = [CpuBuffer::F64(q.clone()), CpuBuffer::F64(k.clone()), CpuBuffer::F64(v.clone())];
        let [out, _] = attention(&plan, [&bufs[0], &bufs[1], &bufs[2]], None).unwrap();
        let want = naive(&q, &k, &v, [2, sq, sk, d], dv, causal, |_, _, _| 1.0);
        for (a, b) in out.as_slice::<f64>().unwrap().iter().zip(&want) {
            assert!((a - b).abs() < 1e-12, "causal {causal}: {a} vs {b}");
        }
    }
}

#[test]
fn dropout_drops_the_weights_its_plan_names() {
    // An odd key count, so that rows start in the middle of a Philox block.
    let (sq, sk, d, dv) = (9, 37, 4, 3);
    let vals = |n: usize, k: f64| (0..n).map(|i| ((i as f64) * 0.37 + k).sin() * 2.0).collect::<Vec<f64>>();
    let (q, k, v) = (vals(2 * sq * d, 0.1), vals(2 * sk * d, 0.7), vals(2 * sk * dv, 1.3));
    let l = |dims: &[usize]| Layout::contiguous(Shape::from(dims));
    let (ql, kl, vl) = (l(&[1, 2, sq, d]), l(&[1, 2, sk, d]), l(&[1, 2, sk, dv]));
    let dropout = DropoutMask { p: 0.3, seed: 5, first: 17 };
    let spec = AttentionSpec { dropout: Some(dropout), ..Default::default() };
    let f = |l| Arg::new(DType::F64, l);
    let plan = AttentionPlan::new(f(&ql), f(&kl), f(&vl), None, spec).unwrap();
    let bufs = [CpuBuffer::F64(q.clone()), CpuBuffer::F64(k.clone()), CpuBuffer::F64(v.clone())];
    let [out, _] = attention(&plan, [&bufs[0], &bufs[1], &bufs[2]], None).unwrap();
    let rng = Philox::new(dropout.seed);
    let factor = |p: usize, i: usize, j: usize| match dropout.keeps(&rng, ((p * sq + i) * sk + j) as u64) {
        true => 1.0 / 0.7,
        false => 0.0,
    };
    let want = naive(&q, &k, &v, [2, sq, sk, d], dv, false, factor);
    for (a, b) in out.as_slice::<f64>().unwrap().iter().zip(&want) {
        assert!((a - b).abs() < 1e-12, "{a} vs {b}");
    }
}

#[test]
fn split_head_views_are_read_in_place_and_strided_ones_copied_with_the_same_results() {
    // q, k, v as the split heads of one fused projection `[B, S, 3, H, D]` (rows 3·H·D apart,
    // read in place), and as views whose last dim is strided (copied first): both must give what
    // contiguous operands give, forward and backward.
    let (b, h, s, d) = (2, 3, 70, 8);
    let fused: Vec<f64> = (0..b * s * 3 * h * d).map(|i| ((i as f64) * 0.61).sin()).collect();
    let fl = Layout::contiguous(Shape::from(&[b, s, 3, h, d][..]));
    let head = |which: usize| {
        let l = fl.narrow(2, which, 1).unwrap();
        Layout::new(Shape::from(&[b, h, s, d][..]), vec![l.strides()[0], l.strides()[3], l.strides()[1], 1], l.offset())
            .unwrap()
    };
    let contiguous = |l: &Layout| CpuBuffer::F64(strided_values(&fused, l).into_owned());
    // The same values through a transposed copy: `[B, H, D, S]` stored, viewed as `[B, H, S, D]`.
    let transposed = |l: &Layout| {
        let c = strided_values(&fused, l).into_owned();
        let tl = Layout::contiguous(Shape::from(&[b, h, s, d][..])).permute(&[0, 1, 3, 2]).unwrap();
        let stored = strided_values(&c, &tl).into_owned();
        let view = Layout::contiguous(Shape::from(&[b, h, d, s][..])).permute(&[0, 1, 3, 2]).unwrap();
        (CpuBuffer::F64(stored), view)
    };
    let dense = Layout::contiguous(Shape::from(&[b, h, s, d][..]));
    let d_out: Vec<f64> = (0..b * h * s * d).map(|i| ((i as f64) * 0.23).cos()).collect();
    let dl = Arg::new(DType::F64, &dense);
    let run = |bufs: [&CpuBuffer; 3], layouts: [&Layout; 3]| {
        let f = |l| Arg::new(DType::F64, l);
        let spec = AttentionSpec { causal: true, ..Default::default() };
        let plan = AttentionPlan::new(f(layouts[0]), f(layouts[1]), f(layouts[2]), None, spec).unwrap();
        let [out, lse] = attention(&plan, bufs, None).unwrap();
        let ll = Layout::contiguous(Shape::from(&[b, h, s][..]));
        let back = AttentionBackwardPlan::new(plan, dl, Arg::new(DType::F64, &ll), dl).unwrap();
        let grads = attention_backward(&back, bufs, None, [&out, &lse, &CpuBuffer::F64(d_out.clone())]).unwrap();
        let mut all = out.as_slice::<f64>().unwrap().to_vec();
        for g in &grads {
            all.extend_from_slice(g.as_slice::<f64>().unwrap());
        }
        all
    };
    let ls = [head(0), head(1), head(2)];
    let want = run([&contiguous(&ls[0]), &contiguous(&ls[1]), &contiguous(&ls[2])], [&dense; 3]);
    let whole = CpuBuffer::F64(fused.clone());
    let in_place = run([&whole; 3], [&ls[0], &ls[1], &ls[2]]);
    let [tq, tk, tv] = [0, 1, 2].map(|i| transposed(&ls[i]));
    let copied = run([&tq.0, &tk.0, &tv.0], [&tq.1, &tk.1, &tv.1]);
    for got in [in_place, copied] {
        assert_eq!(got.len(), want.len());
        for (a, w) in got.iter().zip(&want) {
            assert!((a - w).abs() < 1e-12, "{a} vs {w}");
        }
    }
}

/// The gradients `[dq, dk, dv]` of [`naive`]'s output against `d_out` by the textbook formulas in
/// f64 (`dS = P ∘ (dP - Σ_j P dP)` row by row, every weight materialised).
#[allow(clippy::too_many_arguments)]
fn naive_grads(
    q: &[f64],
    k: &[f64],
    v: &[f64],
    d_out: &[f64],
    dims: [usize; 4],
    dv: usize,
    causal: bool,
    factor: impl Fn(usize, usize, usize) -> f64,
) -> [Vec<f64>; 3] {
    let [p, sq, sk, d] = dims;
    let scale = 1.0 / (d as f64).sqrt();
    let (mut gq, mut gk, mut gv) = (vec![0.0; p * sq * d], vec![0.0; p * sk * d], vec![0.0; p * sk * dv]);
    for pi in 0..p {
        for i in 0..sq {
            let (qi, doi) = (&q[(pi * sq + i) * d..][..d], &d_out[(pi * sq + i) * dv..][..dv]);
            let prob = weights_row(q, k, dims, causal, (pi, i));
            let lim = prob.len();
            // dP_j = (dO · V_j) times the dropout factor; the weights dV sees are P_j times it.
            let dp: Vec<f64> = (0..lim)
                .map(|j| factor(pi, i, j) * (0..dv).map(|t| doi[t] * v[(pi * sk + j) * dv + t]).sum::<f64>())
                .collect();
            let delta: f64 = prob.iter().zip(&dp).map(|(a, b)| a * b).sum();
            for j in 0..lim {
                for t in 0..dv {
                    gv[(pi * sk + j) * dv + t] += prob[j] * factor(pi, i, j) * doi[t];
                }
                let ds = prob[j] * (dp[j] - delta) * scale;
                for t in 0..d {
                    gq[(pi * sq + i) * d + t] += ds * k[(pi * sk + j) * d + t];
                    gk[(pi * sk + j) * d + t] += ds * qi[t];
                }
            }
        }
    }
    [gq, gk, gv]
}

#[test]
fn backward_matches_the_formula_across_tiles_causal_diagonals_and_dropout() {
    // 70 queries (three row tiles) against 70 keys and against 150 (three key tiles, the last
    // partial; causal rows then see 81 keys and more): the diagonal tiles of a causal mask see
    // only part of their key tile.
    let (sq, d, dv) = (70, 12, 5);
    let vals = |n: usize, k: f64| (0..n).map(|i| ((i as f64) * 0.37 + k).sin() * 2.0).collect::<Vec<f64>>();
    let l = |dims: &[usize]| Layout::contiguous(Shape::from(dims));
    for (sk, causal, drop) in [(70, true, false), (150, true, false), (150, false, false), (70, true, true)] {
        let (q, k, v, d_out) =
            (vals(2 * sq * d, 0.1), vals(2 * sk * d, 0.7), vals(2 * sk * dv, 1.3), vals(2 * sq * dv, 2.9));
        let (ql, kl, vl, ol) = (l(&[1, 2, sq, d]), l(&[1, 2, sk, d]), l(&[1, 2, sk, dv]), l(&[1, 2, sq, dv]));
        let dropout = drop.then_some(DropoutMask { p: 0.3, seed: 11, first: 5 });
        let spec = AttentionSpec { causal, dropout, ..Default::default() };
        let f = |l| Arg::new(DType::F64, l);
        let plan = AttentionPlan::new(f(&ql), f(&kl), f(&vl), None, spec).unwrap();
        let bufs = [CpuBuffer::F64(q.clone()), CpuBuffer::F64(k.clone()), CpuBuffer::F64(v.clone())];
        let [out, lse] = attention(&plan, [&bufs[0], &bufs[1], &bufs[2]], None).unwrap();
        let ll = l(&[1, 2, sq]);
        let (o, s) = (Arg::new(DType::F64, &ol), Arg::new(DType::F64, &ll));
        let back = AttentionBackwardPlan::new(plan, o, s, o).unwrap();
        let saved = [&out, &lse, &CpuBuffer::F64(d_out.clone())];
        let grads = attention_backward(&back, [&bufs[0], &bufs[1], &bufs[2]], None, saved).unwrap();
        let rng = Philox::new(11);
        let factor = |p: usize, i: usize, j: usize| match dropout {
            Some(m) if !m.keeps(&rng, ((p * sq + i) * sk + j) as u64) => 0.0,
            Some(_) => 1.0 / 0.7,
            None => 1.0,
        };
        let want = naive_grads(&q, &k, &v, &d_out, [2, sq, sk, d], dv, causal, factor);
        for (name, g, w) in [("dq", &grads[0], &want[0]), ("dk", &grads[1], &want[1]), ("dv", &grads[2], &want[2])] {
            for (i, (a, b)) in g.as_slice::<f64>().unwrap().iter().zip(w).enumerate() {
                assert!((a - b).abs() < 1e-11, "sk {sk} causal {causal} dropout {drop}: {name}[{i}] {a} vs {b}");
            }
        }
    }
}

/// Heads of width 0 still have weights: with no query or key dims every score is 0, so each row
/// averages the values it sees and dV gets the mean of the output gradients; with no value
/// dims the log-sum-exp is still that of the scores.
#[test]
fn zero_widths_still_give_the_weights_and_their_gradients() {
    let (sq, dv) = (3, 2);
    let l = |dims: &[usize]| Layout::contiguous(Shape::from(dims));
    fn f(l: &Layout) -> Arg<'_> {
        Arg::new(DType::F64, l)
    }
    let v: Vec<f64> = (0..sq * dv).map(|i| i as f64 + 1.0).collect();
    let d_out: Vec<f64> = (0..sq * dv).map(|i| 0.5 - i as f64).collect();
    let empty = CpuBuffer::F64(Vec::new());
    for causal in [false, true] {
        let spec = AttentionSpec { causal, ..Default::default() };
        let (qk, vl, ll) = (l(&[1, 1, sq, 0]), l(&[1, 1, sq, dv]), l(&[1, 1, sq]));
        let plan = AttentionPlan::new(f(&qk), f(&qk), f(&vl), None, spec).unwrap();
        let vb = CpuBuffer::F64(v.clone());
        let [out, lse] = attention(&plan, [&empty, &empty, &vb], None).unwrap();
        let back = AttentionBackwardPlan::new(plan, f(&vl), f(&ll), f(&vl)).unwrap();
        let saved = [&out, &lse, &CpuBuffer::F64(d_out.clone())];
        let [_, _, g_v] = attention_backward(&back, [&empty, &empty, &vb], None, saved).unwrap();
        let (out, lse, g_v) =
            (out.as_slice::<f64>().unwrap(), lse.as_slice::<f64>().unwrap(), g_v.as_slice::<f64>().unwrap());
        let mut want_gv = vec![0.0; sq * dv];
        for i in 0..sq {
            let seen = if causal { i + 1 } else { sq };
            assert!((lse[i] - (seen as f64).ln()).abs() < 1e-12, "causal {causal}: lse[{i}] {}", lse[i]);
            for t in 0..dv {
                let mean = (0..seen).map(|j| v[j * dv + t]).sum::<f64>() / seen as f64;
                assert!((out[i * dv + t] - mean).abs() < 1e-12, "causal {causal}: out[{i},{t}] {}", out[i * dv + t]);
                for j in 0..seen {
                    want_gv[j * dv + t] += d_out[i * dv + t] / seen as f64;
                }
            }
        }
        for (a, b) in g_v.iter().zip(&want_gv) {
            assert!((a - b).abs() < 1e-12, "causal {causal}: dv {g_v:?} vs {want_gv:?}");
        }
    }
    // No value dims: the log-sum-exp is the one the same scores give with values.
    let (qk, d) = ((0..sq * 4).map(|i| (i as f64 * 0.7).sin()).collect::<Vec<f64>>(), 4);
    let qb = CpuBuffer::F64(qk);
    let lse_with = |width: usize| {
        let (ql, vl) = (l(&[1, 1, sq, d]), l(&[1, 1, sq, width]));
        let plan = AttentionPlan::new(f(&ql), f(&ql), f(&vl), None, AttentionSpec::default()).unwrap();
        let vb = CpuBuffer::F64(vec![1.0; sq * width]);
        let [_, lse] = attention(&plan, [&qb, &qb, &vb], None).unwrap();
        lse.as_slice::<f64>().unwrap().to_vec()
    };
    assert_eq!(lse_with(0), lse_with(3));
    // No dims at all, over 2^40 keys that no buffer holds: each row's log-sum-exp is the log of
    // the keys it sees, counted rather than walked; with a padding mask, the unmasked ones.
    let (ql, kl) = (l(&[1, 1, 2, 0]), l(&[1, 1, 1 << 40, 0]));
    for causal in [false, true] {
        let plan =
            AttentionPlan::new(f(&ql), f(&kl), f(&kl), None, AttentionSpec { causal, ..Default::default() }).unwrap();
        let [out, lse] = attention(&plan, [&empty, &empty, &empty], None).unwrap();
        let keys = (1u64 << 40) as f64;
        let want = if causal { [(keys - 1.0).ln(), keys.ln()] } else { [keys.ln(); 2] };
        assert_eq!((out.len(), lse.as_slice::<f64>().unwrap()), (0, &want[..]));
        let back =
            AttentionBackwardPlan::new(plan, f(&l(&[1, 1, 2, 0])), f(&l(&[1, 1, 2])), f(&l(&[1, 1, 2, 0]))).unwrap();
        let grads = attention_backward(&back, [&empty, &empty, &empty], None, [&out, &lse, &out]).unwrap();
        assert!(grads.iter().all(|g| g.is_empty()));
    }
    let (kl, ml) = (l(&[1, 1, 5, 0]), l(&[1, 5]));
    let plan =
        AttentionPlan::new(f(&ql), f(&kl), f(&kl), Some(Arg::new(DType::U8, &ml)), AttentionSpec::default()).unwrap();
    let mask = CpuBuffer::U8(vec![0, 1, 0, 1, 0]);
    let [_, lse] = attention(&plan, [&empty, &empty, &empty], Some(&mask)).unwrap();
    assert_eq!(lse.as_slice::<f64>().unwrap(), [3f64.ln(); 2]);
}
