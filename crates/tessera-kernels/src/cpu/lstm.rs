//! The fused LSTM cell: gate nonlinearities and state update in one pass (forward), and the
//! gradients with respect to the pre-activation gates and the previous cell state (backward).
//!
//! Gates are laid out `[batch, 4 * hidden]` in PyTorch's order i, f, g, o. The arithmetic is the
//! same, operation for operation, as the composition of elementwise ops it replaces (add, sigmoid,
//! tanh, mul), so in f32 and f64 the results equal the unfused ones bit for bit; f16 and bf16
//! compute in f32 and round once at the end.

use super::buffer::{expect_dtype, strided_values, CpuBuffer};
use super::par;
use super::simd::multiversion;
use super::unary::{map, FloatMath};
use crate::plan::{LstmCellBackwardPlan, LstmCellPlan};
use crate::Result;
use rayon::prelude::*;
use std::mem::MaybeUninit;
use tessera_core::{bf16, f16, Layout};

/// The fused LSTM cell forward. `x` and `h` (the plan's `x_gates` and `h_gates`,
/// `[batch, 4 * hidden]`, any layout) are the input and recurrent pre-activations, summed here;
/// `c_prev` is `[batch, hidden]`.
///
/// `inputs` are `[x, h, c_prev]`. Returns contiguous `[h, c, acts]`: `c = f * c_prev + i * g`, `h = o * tanh(c)`, and the
/// activated gates `[sigmoid(i), sigmoid(f), tanh(g), sigmoid(o)]` (`[batch, 4 * hidden]`), which
/// [`lstm_cell_backward`] takes. Float dtypes only (f16 and bf16 compute in f32).
pub fn lstm_cell(plan: &LstmCellPlan, inputs: [&CpuBuffer; 3]) -> Result<[CpuBuffer; 3]> {
    expect_dtype("lstm_cell", plan.dtype, &inputs)?;
    let [x, h, c_prev] = inputs;
    let (batch, hidden) = (plan.batch, plan.hidden);
    let (xl, hl, cl) = (&plan.x_gates, &plan.h_gates, &plan.c_prev);
    macro_rules! native {
        ($x:expr, $h:expr, $c:expr) => {{
            let (x, h, c) = (strided_values($x, xl), strided_values($h, hl), strided_values($c, cl));
            let (h, c, a) = forward(hidden, batch, &x, &h, &c);
            [h.into(), c.into(), a.into()]
        }};
    }
    macro_rules! via_f32 {
        ($x:expr, $h:expr, $c:expr, $t:ty) => {{
            let wide = |v: &[$t], l: &Layout| map(&strided_values(v, l), <$t>::to_f32);
            let (h, c, a) = forward(hidden, batch, &wide($x, xl), &wide($h, hl), &wide($c, cl));
            [map(&h, <$t>::from_f32).into(), map(&c, <$t>::from_f32).into(), map(&a, <$t>::from_f32).into()]
        }};
    }
    Ok(match (x, h, c_prev) {
        (CpuBuffer::F32(x), CpuBuffer::F32(h), CpuBuffer::F32(c)) => native!(x, h, c),
        (CpuBuffer::F64(x), CpuBuffer::F64(h), CpuBuffer::F64(c)) => native!(x, h, c),
        (CpuBuffer::F16(x), CpuBuffer::F16(h), CpuBuffer::F16(c)) => via_f32!(x, h, c, f16),
        (CpuBuffer::BF16(x), CpuBuffer::BF16(h), CpuBuffer::BF16(c)) => via_f32!(x, h, c, bf16),
        _ => unreachable!("dtypes checked: one float dtype"),
    })
}

/// The fused LSTM cell backward, from `inputs` = the forward's `acts` (`[batch, 4 * hidden]`),
/// the previous and new cell states `c_prev` and `c`, and the gradients `dh` and `dc` reaching the
/// new hidden and cell states (all `[batch, hidden]`, any layout).
///
/// Returns contiguous `[d_gates, dc_prev]`: the gradient of the pre-activation gates
/// (`[batch, 4 * hidden]`, order i, f, g, o; also the gradient of `x_gates` and of `h_gates`) and
/// of `c_prev`. With `tc = tanh(c)` (recomputed here) and `dc' = dc + dh * o * (1 - tc^2)`:
/// `d_o = dh * tc * o(1 - o)`, `d_i = dc' * g * i(1 - i)`, `d_g = dc' * i * (1 - g^2)`,
/// `d_f = dc' * c_prev * f(1 - f)`, `dc_prev = dc' * f`.
pub fn lstm_cell_backward(plan: &LstmCellBackwardPlan, inputs: [&CpuBuffer; 5]) -> Result<[CpuBuffer; 2]> {
    expect_dtype("lstm_cell_backward", plan.dtype, &inputs)?;
    let (batch, hidden) = (plan.batch, plan.hidden);
    let [al, cpl, cl, dhl, dcl] = &plan.inputs;
    let [acts, c_prev, c, dh, dc] = inputs;
    macro_rules! native {
        ($a:expr, $cp:expr, $c:expr, $dh:expr, $dc:expr) => {{
            let (a, cp, c) = (strided_values($a, al), strided_values($cp, cpl), strided_values($c, cl));
            let (dh, dc) = (strided_values($dh, dhl), strided_values($dc, dcl));
            let (dg, dcp) = backward(hidden, batch, &a, &cp, &c, &dh, &dc);
            [dg.into(), dcp.into()]
        }};
    }
    macro_rules! via_f32 {
        ($a:expr, $cp:expr, $c:expr, $dh:expr, $dc:expr, $t:ty) => {{
            let wide = |v: &[$t], l: &Layout| map(&strided_values(v, l), <$t>::to_f32);
            let (a, cp, c) = (wide($a, al), wide($cp, cpl), wide($c, cl));
            let (dg, dcp) = backward(hidden, batch, &a, &cp, &c, &wide($dh, dhl), &wide($dc, dcl));
            [map(&dg, <$t>::from_f32).into(), map(&dcp, <$t>::from_f32).into()]
        }};
    }
    use CpuBuffer as B;
    Ok(match (acts, c_prev, c, dh, dc) {
        (B::F32(a), B::F32(cp), B::F32(c), B::F32(dh), B::F32(dc)) => native!(a, cp, c, dh, dc),
        (B::F64(a), B::F64(cp), B::F64(c), B::F64(dh), B::F64(dc)) => native!(a, cp, c, dh, dc),
        (B::F16(a), B::F16(cp), B::F16(c), B::F16(dh), B::F16(dc)) => via_f32!(a, cp, c, dh, dc, f16),
        (B::BF16(a), B::BF16(cp), B::BF16(c), B::BF16(dh), B::BF16(dc)) => via_f32!(a, cp, c, dh, dc, bf16),
        _ => unreachable!("dtypes checked: one float dtype"),
    })
}

/// A vector of `len` elements filled by `fill`, which must initialise all of them.
fn filled<T>(len: usize, fill: impl FnOnce(&mut [MaybeUninit<T>])) -> Vec<T> {
    let mut v = Vec::with_capacity(len);
    fill(&mut v.spare_capacity_mut()[..len]);
    // SAFETY: `fill` initialised the first `len` elements (the contract above).
    unsafe { v.set_len(len) };
    v
}

/// A gate element's work (a sigmoid or tanh and a few multiply-adds) in copied elements' time:
/// the recurrent batches (32 rows of 4 × 256 gates) split across threads, where the plain
/// element-count rule kept them on one thread while the others waited.
const GATE_COST: usize = 8;

/// Rows per parallel task: a few pieces per thread, each worth splitting off.
fn rows_per_task(batch: usize, row_elems: usize) -> usize {
    par::chunk_len_costly(batch * row_elems, row_elems, GATE_COST) / row_elems
}

fn forward<T: FloatMath + Send + Sync>(
    hidden: usize,
    batch: usize,
    x: &[T],
    h: &[T],
    c_prev: &[T],
) -> (Vec<T>, Vec<T>, Vec<T>) {
    // batch · hidden first: one of them may be huge when the other is 0.
    let n = batch * hidden;
    let g = 4 * n;
    let mut acts = Vec::with_capacity(g);
    let mut c = Vec::with_capacity(n);
    let h_out = filled(n, |h_out| {
        if n == 0 {
            return;
        }
        let (a_out, c_out) = (&mut acts.spare_capacity_mut()[..g], &mut c.spare_capacity_mut()[..n]);
        if par::worth_parallel_costly(g, GATE_COST) {
            let rows = rows_per_task(batch, 4 * hidden);
            let (gs, hs) = (rows * 4 * hidden, rows * hidden);
            x.par_chunks(gs)
                .zip(h.par_chunks(gs))
                .zip(c_prev.par_chunks(hs))
                .zip(h_out.par_chunks_mut(hs))
                .zip(c_out.par_chunks_mut(hs))
                .zip(a_out.par_chunks_mut(gs))
                .for_each(|(((((x, h), cp), ho), co), ao)| forward_rows(hidden, x, h, cp, ho, co, ao));
        } else {
            forward_rows(hidden, x, h, c_prev, h_out, c_out, a_out);
        }
    });
    // SAFETY: `forward_rows` initialised every element of the gates and cell state too.
    unsafe {
        acts.set_len(g);
        c.set_len(n);
    }
    (h_out, c, acts)
}

multiversion! {
    fn forward_rows<T>(
        hidden: usize,
        x: &[T],
        h: &[T],
        c_prev: &[T],
        h_out: &mut [MaybeUninit<T>],
        c_out: &mut [MaybeUninit<T>],
        acts: &mut [MaybeUninit<T>]
    ) where T: FloatMath
    {
        let g = 4 * hidden;
        let rows = x.chunks_exact(g).zip(h.chunks_exact(g)).zip(c_prev.chunks_exact(hidden));
        let outs = h_out.chunks_exact_mut(hidden).zip(c_out.chunks_exact_mut(hidden)).zip(acts.chunks_exact_mut(g));
        for (((x, h), cp), ((ho, co), a)) in rows.zip(outs) {
            let (ai, rest) = a.split_at_mut(hidden);
            let (af, rest) = rest.split_at_mut(hidden);
            let (ag, ao) = rest.split_at_mut(hidden);
            forward_units(split4(x, hidden), split4(h, hidden), cp, [ai, af, ag, ao], co, ho);
        }
    }
}

/// The four gate blocks of one row.
#[inline(always)]
fn split4<T>(row: &[T], hidden: usize) -> [&[T]; 4] {
    [&row[..hidden], &row[hidden..2 * hidden], &row[2 * hidden..3 * hidden], &row[3 * hidden..4 * hidden]]
}

/// The forward of one row's `hidden` units, in three short loops over data that stays in the
/// L1 cache (each loop vectorises with few live registers): the sigmoid gates, the tanh gate,
/// then the state update. Every slice is its own argument so that the compiler knows they do not
/// overlap and needs no run-time overlap checks.
#[inline(always)]
pub(super) fn forward_units<T: FloatMath>(
    [xi, xf, xg, xo]: [&[T]; 4],
    [hi, hf, hg, ho]: [&[T]; 4],
    cp: &[T],
    [ai, af, ag, ao]: [&mut [MaybeUninit<T>]; 4],
    co: &mut [MaybeUninit<T>],
    h_out: &mut [MaybeUninit<T>],
) {
    let n = cp.len();
    for (x, h, a) in [(xi, hi, &mut *ai), (xf, hf, &mut *af), (xo, ho, &mut *ao)] {
        activate(&x[..n], &h[..n], &mut a[..n], T::sigmoid);
    }
    activate(&xg[..n], &hg[..n], &mut ag[..n], T::tanh);
    // SAFETY: `activate` initialised all `n` elements of each gate.
    let [ai, af, ag, ao] = [&*ai, &*af, &*ag, &*ao].map(|a| unsafe { assume_init(&a[..n]) });
    let (cp, co, h_out) = (&cp[..n], &mut co[..n], &mut h_out[..n]);
    for j in 0..n {
        let c = af[j] * cp[j] + ai[j] * ag[j];
        co[j].write(c);
        h_out[j].write(ao[j] * c.tanh());
    }
}

#[inline(always)]
fn activate<T: FloatMath>(x: &[T], h: &[T], out: &mut [MaybeUninit<T>], f: impl Fn(T) -> T) {
    for ((o, &x), &h) in out.iter_mut().zip(x).zip(h) {
        o.write(f(x + h));
    }
}

/// `s` as initialised values.
///
/// # Safety
/// Every element of `s` must be initialised.
#[inline(always)]
pub(super) unsafe fn assume_init<T>(s: &[MaybeUninit<T>]) -> &[T] {
    // SAFETY: `MaybeUninit<T>` has `T`'s layout, and the caller guarantees initialisation.
    unsafe { std::slice::from_raw_parts(s.as_ptr().cast::<T>(), s.len()) }
}

fn backward<T: FloatMath + Send + Sync>(
    hidden: usize,
    batch: usize,
    acts: &[T],
    c_prev: &[T],
    c: &[T],
    dh: &[T],
    dc: &[T],
) -> (Vec<T>, Vec<T>) {
    // batch · hidden first: one of them may be huge when the other is 0.
    let n = batch * hidden;
    let g = 4 * n;
    let mut dc_prev = Vec::with_capacity(n);
    let d_gates = filled(g, |dg| {
        if n == 0 {
            return;
        }
        let dcp = &mut dc_prev.spare_capacity_mut()[..n];
        if par::worth_parallel_costly(g, GATE_COST) {
            let rows = rows_per_task(batch, 4 * hidden);
            let (gs, hs) = (rows * 4 * hidden, rows * hidden);
            acts.par_chunks(gs)
                .zip(c_prev.par_chunks(hs))
                .zip(c.par_chunks(hs))
                .zip(dh.par_chunks(hs))
                .zip(dc.par_chunks(hs))
                .zip(dg.par_chunks_mut(gs))
                .zip(dcp.par_chunks_mut(hs))
                .for_each(|((((((a, cp), c), dh), dc), dg), dcp)| backward_rows(hidden, a, cp, c, dh, dc, dg, dcp));
        } else {
            backward_rows(hidden, acts, c_prev, c, dh, dc, dg, dcp);
        }
    });
    // SAFETY: `backward_rows` initialised every element of `dc_prev` too.
    unsafe { dc_prev.set_len(n) };
    (d_gates, dc_prev)
}

multiversion! {
    fn backward_rows<T>(
        hidden: usize,
        acts: &[T],
        c_prev: &[T],
        c: &[T],
        dh: &[T],
        dc: &[T],
        d_gates: &mut [MaybeUninit<T>],
        dc_prev: &mut [MaybeUninit<T>]
    ) where T: FloatMath
    {
        let g = 4 * hidden;
        let states = c_prev.chunks_exact(hidden).zip(c.chunks_exact(hidden)).zip(dh.chunks_exact(hidden));
        let rows = acts.chunks_exact(g).zip(states).zip(dc.chunks_exact(hidden));
        let outs = d_gates.chunks_exact_mut(g).zip(dc_prev.chunks_exact_mut(hidden));
        for (((a, ((cp, c), dh)), dc), (dg, dcp)) in rows.zip(outs) {
            let (di, rest) = dg.split_at_mut(hidden);
            let (df, rest) = rest.split_at_mut(hidden);
            let (dgg, d_o) = rest.split_at_mut(hidden);
            backward_units(split4(a, hidden), [cp, c, dh, dc], [di, df, dgg, d_o], dcp);
        }
    }
}

/// The backward of one row's `hidden` units; separate arguments for the same reason as
/// [`forward_units`].
#[inline(always)]
pub(super) fn backward_units<T: FloatMath>(
    [ai, af, ag, ao]: [&[T]; 4],
    [cp, c, dh, dc]: [&[T]; 4],
    [di, df, dg, d_o]: [&mut [MaybeUninit<T>]; 4],
    dc_prev: &mut [MaybeUninit<T>],
) {
    let n = cp.len();
    let (ai, af, ag, ao, c, dh, dc) = (&ai[..n], &af[..n], &ag[..n], &ao[..n], &c[..n], &dh[..n], &dc[..n]);
    let (di, df, dg, d_o, dc_prev) = (&mut di[..n], &mut df[..n], &mut dg[..n], &mut d_o[..n], &mut dc_prev[..n]);
    let one = T::ONE;
    for j in 0..n {
        let (i, f, g, o) = (ai[j], af[j], ag[j], ao[j]);
        let tc = c[j].tanh();
        // The same operations, in the same order, as the unfused composition.
        let dct = dc[j] + dh[j] * o * (one - tc * tc);
        d_o[j].write(dh[j] * tc * (o * (one - o)));
        di[j].write(dct * g * (i * (one - i)));
        dg[j].write(dct * i * (one - g * g));
        df[j].write(dct * cp[j] * (f * (one - f)));
        dc_prev[j].write(dct * f);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::plan::Arg;
    use tessera_core::{DType, Shape};

    #[test]
    fn one_cell_by_hand() {
        // batch 1, hidden 1: pre-activations i = 0, f = 0, g = 0.5, o = 1 (split across x and h).
        let x = CpuBuffer::F64(vec![0.5, -1.0, 0.25, 0.0]);
        let h = CpuBuffer::F64(vec![-0.5, 1.0, 0.25, 1.0]);
        let c0 = CpuBuffer::F64(vec![2.0]);
        let (g, s1) = (Layout::contiguous(Shape::from(vec![1, 4])), Layout::contiguous(Shape::from(vec![1, 1])));
        let f = DType::F64;
        let plan = LstmCellPlan::new(Arg::new(f, &g), Arg::new(f, &g), Arg::new(f, &s1)).unwrap();
        let [h1, c1, acts] = lstm_cell(&plan, [&x, &h, &c0]).unwrap();
        let s = |v: f64| 1.0 / (1.0 + (-v).exp());
        let c = 0.5 * 2.0 + 0.5 * 0.5f64.tanh();
        assert_eq!(acts, CpuBuffer::F64(vec![0.5, 0.5, 0.5f64.tanh(), s(1.0)]));
        assert_eq!(c1, CpuBuffer::F64(vec![c]));
        assert_eq!(h1, CpuBuffer::F64(vec![s(1.0) * c.tanh()]));
    }

    #[test]
    fn parallel_rows_match_serial() {
        // 64 x 4 * 512 gates is above the threading threshold.
        let (b, hd) = (64, 512);
        let vals = |n: usize, k: f32| (0..n).map(|i| (i as f32 * 0.37 + k).sin() * 3.0).collect::<Vec<f32>>();
        let (x, h, c0) = (vals(b * 4 * hd, 0.1), vals(b * 4 * hd, 0.7), vals(b * hd, 1.3));
        let (ho, co, a) = forward(hd, b, &x, &h, &c0);
        let mut want = (Vec::new(), Vec::new(), Vec::new());
        for r in 0..b {
            let (g, s) = (r * 4 * hd..(r + 1) * 4 * hd, r * hd..(r + 1) * hd);
            let (h1, c1, a1) = forward(hd, 1, &x[g.clone()], &h[g], &c0[s]);
            want.0.extend(h1);
            want.1.extend(c1);
            want.2.extend(a1);
        }
        assert_eq!((ho, co, a.clone()), want);
        let (dh, dc) = (vals(b * hd, 2.0), vals(b * hd, 2.5));
        let (dg, dcp) = backward(hd, b, &a, &c0, &want.1, &dh, &dc);
        let (mut wg, mut wc) = (Vec::new(), Vec::new());
        for r in 0..b {
            let (g, s) = (r * 4 * hd..(r + 1) * 4 * hd, r * hd..(r + 1) * hd);
            let (g1, c1) = backward(hd, 1, &a[g], &c0[s.clone()], &want.1[s.clone()], &dh[s.clone()], &dc[s]);
            wg.extend(g1);
            wc.extend(c1);
        }
        assert_eq!((dg, dcp), (wg, wc));
    }
}
