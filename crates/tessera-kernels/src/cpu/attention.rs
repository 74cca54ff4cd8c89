//! Fused scaled-dot-product attention, forward and backward, computed tile by tile with an online
//! softmax (FlashAttention-2's scheme): no `q_len × kv_len` matrix exists at any time. The
//! forward keeps, per query row, the running maximum, the running sum of exponentials and the
//! weighted sum of values over key tiles, and saves the row's log-sum-exp; the backward
//! recomputes each weight from it. f16 and bf16 compute in f32.

use super::attention_tile::{self as tile, parts, Scratch, KEYS, ROWS};
use super::buffer::{expect_dtype, strided_values, CpuBuffer};
use super::half::Half;
use super::par;
use super::random::{keep_scaled_in_place, mask_words};
use super::unary::FloatMath;
use crate::plan::{AttentionBackwardPlan, AttentionPlan};
use crate::Result;
use operands::{padding, Rows, Views};
use rayon::prelude::*;
use tessera_core::{bf16, f16, saturating_product, Layout};

/// The plan's attention of `q`, `k`, `v` (with the optional u8 key-padding `mask`): the output
/// `[batch, heads, q_len, v_dim]` and each query row's log-sum-exp (`-inf` for a row whose keys
/// are all masked, whose output is then 0).
pub fn attention(plan: &AttentionPlan, qkv: [&CpuBuffer; 3], mask: Option<&CpuBuffer>) -> Result<[CpuBuffer; 2]> {
    expect_dtype("attention", plan.dtype, &qkv)?;
    let mask = padding(plan, mask)?;
    let [q, k, v] = qkv;
    macro_rules! native {
        ($q:expr, $k:expr, $v:expr) => {{
            let r = |x, l| Rows::new(x, l);
            let (o, l) = forward(plan, &r($q, &plan.q), &r($k, &plan.k), &r($v, &plan.v), mask.as_deref());
            [o.into(), l.into()]
        }};
    }
    macro_rules! via_f32 {
        ($q:expr, $k:expr, $v:expr, $t:ty) => {{
            let w = |x: &[$t], l: &Layout| Rows::contiguous(<$t>::widen(&strided_values(x, l)), l);
            let (o, l) = forward(plan, &w($q, &plan.q), &w($k, &plan.k), &w($v, &plan.v), mask.as_deref());
            [<$t>::narrow(&o).into(), l.into()]
        }};
    }
    use CpuBuffer as B;
    Ok(match (q, k, v) {
        (B::F32(q), B::F32(k), B::F32(v)) => native!(q, k, v),
        (B::F64(q), B::F64(k), B::F64(v)) => native!(q, k, v),
        (B::F16(q), B::F16(k), B::F16(v)) => via_f32!(q, k, v, f16),
        (B::BF16(q), B::BF16(k), B::BF16(v)) => via_f32!(q, k, v, bf16),
        _ => unreachable!("the plan admits one float dtype"),
    })
}

/// The gradients `[dq, dk, dv]` of the plan's attention from the forward's operands, its output
/// `out`, its log-sum-exp `lse` and the output's gradient `d_out`.
pub fn attention_backward(
    plan: &AttentionBackwardPlan,
    qkv: [&CpuBuffer; 3],
    mask: Option<&CpuBuffer>,
    out_lse_dout: [&CpuBuffer; 3],
) -> Result<[CpuBuffer; 3]> {
    let f = &plan.forward;
    expect_dtype("attention_backward", f.dtype, &qkv)?;
    let [out, lse, d_out] = out_lse_dout;
    expect_dtype("attention_backward", f.dtype, &[out, d_out])?;
    expect_dtype("attention_backward", f.lse_dtype, &[lse])?;
    let mask = padding(f, mask)?;
    let [q, k, v] = qkv;
    macro_rules! native {
        ($q:expr, $k:expr, $v:expr, $o:expr, $l:expr, $d:expr) => {{
            let (r, s) = (|x, l| Rows::new(x, l), |x, l| strided_values(x, l));
            let views = Views { q: r($q, &f.q), k: r($k, &f.k), v: r($v, &f.v), mask: mask.as_deref() };
            let [dq, dk, dv] = backward(plan, &views, &s($o, &plan.out), &s($l, &plan.lse), &s($d, &plan.d_out));
            [dq.into(), dk.into(), dv.into()]
        }};
    }
    macro_rules! via_f32 {
        ($q:expr, $k:expr, $v:expr, $o:expr, $l:expr, $d:expr, $t:ty) => {{
            let w = |x: &[$t], l: &Layout| -> Vec<f32> { <$t>::widen(&strided_values(x, l)) };
            let r = |x: &[$t], l: &Layout| Rows::contiguous(w(x, l), l);
            let views = Views { q: r($q, &f.q), k: r($k, &f.k), v: r($v, &f.v), mask: mask.as_deref() };
            let lse = strided_values($l, &plan.lse);
            let [dq, dk, dv] = backward(plan, &views, &w($o, &plan.out), &lse, &w($d, &plan.d_out));
            [<$t>::narrow(&dq).into(), <$t>::narrow(&dk).into(), <$t>::narrow(&dv).into()]
        }};
    }
    use CpuBuffer as B;
    Ok(match (q, k, v, out, lse, d_out) {
        (B::F32(q), B::F32(k), B::F32(v), B::F32(o), B::F32(l), B::F32(d)) => native!(q, k, v, o, l, d),
        (B::F64(q), B::F64(k), B::F64(v), B::F64(o), B::F64(l), B::F64(d)) => native!(q, k, v, o, l, d),
        (B::F16(q), B::F16(k), B::F16(v), B::F16(o), B::F32(l), B::F16(d)) => via_f32!(q, k, v, o, l, d, f16),
        (B::BF16(q), B::BF16(k), B::BF16(v), B::BF16(o), B::F32(l), B::BF16(d)) => via_f32!(q, k, v, o, l, d, bf16),
        _ => unreachable!("dtypes checked above"),
    })
}

/// What decides one weight: its score before the softmax (or `None` when masked), and whether
/// dropout keeps it.
struct Weights<'a> {
    plan: &'a AttentionPlan,
    mask: Option<&'a [u8]>,
}

impl<'a> Weights<'a> {
    fn new(plan: &'a AttentionPlan, mask: Option<&'a [u8]>) -> Self {
        Weights { plan, mask }
    }

    /// How many keys row `i` of problem `p` sees (causality and padding).
    fn seen(&self, p: usize, i: usize) -> usize {
        let limit = self.plan.key_limit(i);
        match self.mask {
            Some(_) => (0..limit).filter(|&j| !self.padded(p, j)).count(),
            None => limit,
        }
    }

    /// Whether key `j` of problem `p` is masked out by padding.
    #[inline]
    fn padded(&self, p: usize, j: usize) -> bool {
        self.mask.is_some_and(|m| m[(p / self.plan.heads) * self.plan.kv_len + j] != 0)
    }
}

/// `Σ a_i b_i`, in eight lanes so that it vectorises.
#[inline]
fn dot<T: FloatMath>(a: &[T], b: &[T]) -> T {
    const L: usize = 8;
    let mut lanes = [T::ZERO; L];
    let (ca, cb) = (a.chunks_exact(L), b.chunks_exact(L));
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for t in 0..L {
            lanes[t] = lanes[t] + x[t] * y[t];
        }
    }
    let mut s = ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5])) + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]));
    for (&x, &y) in ra.iter().zip(rb) {
        s = s + x * y;
    }
    s
}

impl Weights<'_> {
    /// `n` rows from query `i0` of the plan's scaled scores against keys `j0..j0 + kc`, into the
    /// score tile `s`, the scores of masked weights (causal or padding) `-inf`.
    fn scores<T: FloatMath + 'static>(
        &self,
        p: usize,
        i0: usize,
        j0: usize,
        kc: usize,
        q: &Rows<'_, T>,
        k: &Rows<'_, T>,
        s: &mut [T],
    ) {
        let n = s.len() / KEYS;
        let scale = T::from_f64(self.plan.scale);
        tile::products((q.rows(p, i0, n), q.stride), self.plan.head_dim, (k.rows(p, j0, kc), k.stride), kc, scale, s);
        let neg_inf = T::from_f64(f64::NEG_INFINITY);
        for (r, row) in s.chunks_exact_mut(KEYS).enumerate() {
            let row = &mut row[..kc];
            let visible = self.plan.key_limit(i0 + r).saturating_sub(j0).min(kc);
            row[visible..].fill(neg_inf);
            if self.mask.is_some() {
                for (c, x) in row[..visible].iter_mut().enumerate() {
                    if self.padded(p, j0 + c) {
                        *x = neg_inf;
                    }
                }
            }
        }
    }

    /// Multiplies the weight tile `w` by its dropout factors (nothing without dropout).
    fn apply_dropout<T: FloatMath>(&self, p: usize, i0: usize, j0: usize, kc: usize, w: &mut [T]) {
        let Some(d) = &self.plan.spec.dropout else {
            return;
        };
        let (threshold, scale, rows) = (d.keep_threshold(), T::from_f64(d.scale()), w.len() / KEYS);
        let first = |r: usize| ((p * self.plan.q_len + i0 + r) * self.plan.kv_len + j0) as u64;
        let mut words = [0u32; ROWS * KEYS];
        // Where the tile spans every key its rows' words follow one another: draw them in one
        // run (Philox blocks come 16 at a time, more than one short row uses).
        let spans_keys = kc == self.plan.kv_len;
        if spans_keys {
            mask_words(d, first(0), &mut words[..rows * kc]);
        }
        for (r, row) in w.chunks_exact_mut(KEYS).enumerate() {
            let words = &mut words[r * kc..(r + 1) * kc];
            if !spans_keys {
                mask_words(d, first(r), words);
            }
            keep_scaled_in_place(words, threshold, scale, T::ZERO, &mut row[..kc]);
        }
    }
}

/// Runs `f(scratch, problem, first_row, a_rows, b_rows)` over every tile of `ROWS` rows of each
/// of `problems` problems of `rows` rows, in parallel when the work is large; `a` and `b` hold
/// per-row outputs of widths `wa` and `wb`. Each thread's tiles share one scratch from `init`.
fn for_each_row_tile<T: Send, S, I, F>(
    (problems, rows): (usize, usize),
    work: usize,
    outs: (&mut [T], usize, &mut [T], usize),
    init: I,
    f: F,
) where
    I: Fn() -> S + Sync + Send,
    F: Fn(&mut S, usize, usize, &mut [T], &mut [T]) + Sync,
{
    let (a, wa, b, wb) = outs;
    let tiles = |scratch: &mut S, (p, (a, b)): (usize, (&mut [T], &mut [T]))| {
        let count = rows.div_ceil(ROWS);
        for (t, (ta, tb)) in parts(a, ROWS * wa, count).zip(parts(b, ROWS * wb, count)).enumerate() {
            f(scratch, p, t * ROWS, ta, tb);
        }
    };
    let per_problem = parts(a, rows * wa, problems).zip(parts(b, rows * wb, problems));
    if par::worth_parallel(work) {
        per_problem.collect::<Vec<_>>().into_par_iter().enumerate().for_each_init(init, tiles);
    } else {
        let mut scratch = init();
        per_problem.enumerate().for_each(|x| tiles(&mut scratch, x));
    }
}

fn forward<T: FloatMath + Send + Sync>(
    plan: &AttentionPlan,
    q: &Rows<'_, T>,
    k: &Rows<'_, T>,
    v: &Rows<'_, T>,
    mask: Option<&[u8]>,
) -> (Vec<T>, Vec<T>) {
    let (problems, sq, sk, d, dv) = (plan.problems, plan.q_len, plan.kv_len, plan.head_dim, plan.v_dim);
    if problems == 0 || sq == 0 {
        // No query rows (the plan's problem count may have saturated): nothing to compute.
        return (Vec::new(), Vec::new());
    }
    // Both counted by the plan, so these products fit.
    let mut out = par::filled(problems * sq * dv, T::ZERO);
    let mut lse = par::filled(problems * sq, T::from_f64(f64::NEG_INFINITY));
    let weights = Weights::new(plan, mask);
    let neg_inf = T::from_f64(f64::NEG_INFINITY);
    if d == 0 && dv == 0 {
        // No dims at all: every key a row sees scores 0, so its log-sum-exp is the log of how
        // many it sees, counted without walking keys that no operand holds (kv_len is then
        // bounded by nothing but a mask).
        for (r, l) in lse.iter_mut().enumerate() {
            let seen = weights.seen(r / sq, r % sq);
            *l = if seen == 0 { neg_inf } else { T::from_f64((seen as f64).ln()) };
        }
        return (out, lse);
    }
    let work = saturating_product([problems, sq, sk, d.saturating_add(dv)]);
    let outs = (&mut out[..], dv, &mut lse[..], 1);
    for_each_row_tile((problems, sq), work, outs, Scratch::new, |t: &mut Scratch<T>, p, i0, out, lse| {
        let n = lse.len();
        let (mut m, mut l) = (vec![neg_inf; n], vec![T::ZERO; n]);
        let limit = plan.key_limit(i0 + n - 1);
        for j0 in (0..limit).step_by(KEYS) {
            let kc = (j0 + KEYS).min(limit) - j0;
            weights.scores(p, i0, j0, kc, q, k, &mut t.s[..n * KEYS]);
            tile::online_softmax(&mut t.s[..n * KEYS], kc, &mut m, &mut l, out, dv);
            weights.apply_dropout(p, i0, j0, kc, &mut t.s[..n * KEYS]);
            tile::add_rows(&t.s[..n * KEYS], kc, (v.rows(p, j0, kc), v.stride), dv, out);
        }
        tile::finish_rows(out, dv, &m, &l, lse);
    });
    (out, lse)
}

fn backward<T: FloatMath + Send + Sync>(
    plan: &AttentionBackwardPlan,
    views: &Views<'_, T>,
    out: &[T],
    lse: &[T],
    d_out: &[T],
) -> [Vec<T>; 3] {
    let f = &plan.forward;
    let (sq, sk, d, dv, problems) = (f.q_len, f.kv_len, f.head_dim, f.v_dim, f.problems);
    // Zero-aware: each is an operand's element count, though the plan's problem count may have
    // saturated when there are no query rows.
    let zeros = |rows: usize, width: usize| par::filled(saturating_product([problems, rows, width]), T::ZERO);
    let (mut dq, mut dk, mut dv_out) = (zeros(sq, d), zeros(sk, d), zeros(sk, dv));
    if problems == 0 || sq == 0 || d.max(dv) == 0 {
        // No query rows (no weights, so no gradient), or no dims (every gradient is empty).
        return [dq, dk, dv_out];
    }
    let w = Weights::new(f, views.mask);
    let scale = T::from_f64(f.scale);
    // D_i = dO_i · O_i: the softmax's correction term of each row.
    let delta: Vec<T> = (0..problems * sq).map(|r| dot(&d_out[r * dv..][..dv], &out[r * dv..][..dv])).collect();
    let (q, k, v) = (&views.q, &views.k, &views.v);
    // One problem at a time per thread, key tiles outside and row tiles inside: each weight is
    // recomputed once and feeds dV, dK and dQ.
    type Grads<'a, T> = ((&'a mut [T], &'a mut [T]), &'a mut [T]);
    let problem = |t: &mut Scratch<T>, (p, ((dq, dk), dvp)): (usize, Grads<'_, T>)| {
        for j0 in (0..sk).step_by(KEYS) {
            // The first query that sees key j0.
            let first = if f.spec.causal { (j0 + sq).saturating_sub(sk) } else { 0 };
            for i0 in (first..sq).step_by(ROWS) {
                let n = ROWS.min(sq - i0);
                // The tile's keys that its last row sees (a causal tile on the diagonal sees
                // fewer than the whole key tile; `first` keeps this at 1 or more).
                let kc = f.key_limit(i0 + n - 1).min(sk).min(j0 + KEYS) - j0;
                let (kj, vj) = ((k.rows(p, j0, kc), k.stride), (v.rows(p, j0, kc), v.stride));
                let (dkj, dvj) = (&mut dk[j0 * d..][..kc * d], &mut dvp[j0 * dv..][..kc * dv]);
                let (qi, doi) = ((q.rows(p, i0, n), q.stride), (&d_out[(p * sq + i0) * dv..][..n * dv], dv));
                let (s, ds) = (&mut t.s[..n * KEYS], &mut t.ds[..n * KEYS]);
                w.scores(p, i0, j0, kc, q, k, s);
                tile::weights_from_lse(s, kc, &lse[p * sq + i0..][..n]);
                // dP = dO Vᵀ, through the dropout mask; dS = P (dP - D); P itself becomes the
                // dropped-out weights that dV needs.
                tile::products(doi, dv, vj, kc, T::ONE, ds);
                w.apply_dropout(p, i0, j0, kc, ds);
                tile::softmax_grad(s, ds, kc, &delta[p * sq + i0..][..n], scale);
                w.apply_dropout(p, i0, j0, kc, s);
                tile::add_rows_transposed(s, kc, doi, dv, dvj);
                tile::add_rows_transposed(ds, kc, qi, d, dkj);
                tile::add_rows(ds, kc, kj, d, &mut dq[i0 * d..][..n * d]);
            }
        }
    };
    let work = saturating_product([problems, sq, sk, d.saturating_add(dv)]);
    // Each problem's part of the three gradients (empty ones for a zero width, so that dV is
    // still computed when the head dim is 0).
    let grads = parts(&mut dq, sq * d, problems).zip(parts(&mut dk, sk * d, problems)).zip(parts(
        &mut dv_out,
        sk * dv,
        problems,
    ));
    if par::worth_parallel(work) && problems > 1 {
        grads.collect::<Vec<_>>().into_par_iter().enumerate().for_each_init(Scratch::new, problem);
    } else {
        let mut t = Scratch::new();
        grads.enumerate().for_each(|x| problem(&mut t, x));
    }
    [dq, dk, dv_out]
}

mod operands;
#[cfg(test)]
mod tests;
