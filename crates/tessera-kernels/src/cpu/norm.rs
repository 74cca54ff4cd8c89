//! LayerNorm and RMSNorm over the last dim, fused: one pass for a row's statistics and one for
//! its output, forward; one pass for a row's two correction terms and one for its gradient,
//! backward. f16 and bf16 compute in f32.

use super::buffer::{expect_dtype, CpuBuffer, CpuElem};
use super::lanes::{sum3_lanes, sum_lanes};
use super::par;
use super::simd::multiversion;
use super::unary::FloatMath;
use super::wide::{checked, operand, saved_values, Wide};
use crate::plan::{NormBackwardPlan, NormKind, NormParamGrads, NormPlan};
use crate::Result;
use rayon::prelude::*;
use std::mem::MaybeUninit;
use tessera_core::{bf16, f16};

/// The plan's normalisation of `x` with its optional `weight` and `bias`: `[y, stats]`, the
/// statistics `[rows, 2]` being each row's mean (0 for RMSNorm) and reciprocal deviation.
pub fn norm(
    plan: &NormPlan,
    x: &CpuBuffer,
    weight: Option<&CpuBuffer>,
    bias: Option<&CpuBuffer>,
) -> Result<[CpuBuffer; 2]> {
    let op = plan.kind.name();
    expect_dtype(op, plan.dtype, &[x])?;
    expect_dtype(op, plan.dtype, &[weight, bias].into_iter().flatten().collect::<Vec<_>>())?;
    Ok(match x {
        CpuBuffer::F32(_) => forward_as::<f32>(plan, x, weight, bias),
        CpuBuffer::F64(_) => forward_as::<f64>(plan, x, weight, bias),
        CpuBuffer::F16(_) => forward_as::<f16>(plan, x, weight, bias),
        CpuBuffer::BF16(_) => forward_as::<bf16>(plan, x, weight, bias),
        _ => unreachable!("the plan admits float dtypes only"),
    })
}

fn forward_as<S: Wide>(
    plan: &NormPlan,
    x: &CpuBuffer,
    weight: Option<&CpuBuffer>,
    bias: Option<&CpuBuffer>,
) -> [CpuBuffer; 2]
where
    CpuBuffer: From<Vec<S::W>>,
{
    let xv = checked::<S>(x, &plan.x);
    let (w, b) = (operand::<S>(weight, plan.weight.as_ref()), operand::<S>(bias, plan.bias.as_ref()));
    let (y, stats) = forward(plan, &xv, w.as_deref(), b.as_deref());
    [S::narrow(y), stats.into()]
}

/// The gradient of `x` for the plan's normalisation from the output's gradient `dy`, the input
/// `x`, the `weight` (if any) and the forward's statistics, and the weight's and bias's
/// gradients where the plan asks for them: `(dx, [dweight, dbias])`.
pub fn norm_backward(
    plan: &NormBackwardPlan,
    x: &CpuBuffer,
    weight: Option<&CpuBuffer>,
    dy: &CpuBuffer,
    stats: &CpuBuffer,
) -> Result<(CpuBuffer, [Option<CpuBuffer>; 2])> {
    let f = &plan.forward;
    expect_dtype("norm_backward", f.dtype, &[x, dy])?;
    expect_dtype("norm_backward", f.stat_dtype, &[stats])?;
    // A bias's gradient is `[width]` even over no rows, where the width is bounded by no buffer.
    let wanted = plan.params.weight as usize + plan.params.bias as usize;
    super::reserve_output("norm_backward", f.stat_dtype, f.width.saturating_mul(wanted))?;
    Ok(match x {
        CpuBuffer::F32(_) => backward_as::<f32>(plan, x, weight, dy, stats),
        CpuBuffer::F64(_) => backward_as::<f64>(plan, x, weight, dy, stats),
        CpuBuffer::F16(_) => backward_as::<f16>(plan, x, weight, dy, stats),
        CpuBuffer::BF16(_) => backward_as::<bf16>(plan, x, weight, dy, stats),
        _ => unreachable!("dtypes checked above"),
    })
}

fn backward_as<S: Wide>(
    plan: &NormBackwardPlan,
    x: &CpuBuffer,
    weight: Option<&CpuBuffer>,
    dy: &CpuBuffer,
    stats: &CpuBuffer,
) -> (CpuBuffer, [Option<CpuBuffer>; 2])
where
    S::W: CpuElem,
{
    let f = &plan.forward;
    let xv = checked::<S>(x, &f.x);
    let dyv = checked::<S>(dy, &plan.dy);
    let w = operand::<S>(weight, f.weight.as_ref());
    let sv = saved_values::<S::W>(stats, &plan.stats);
    let (dx, params) = backward(plan, &xv, w.as_deref(), &dyv, &sv);
    (S::narrow(dx), params.map(|p| p.map(S::narrow)))
}

/// Rows of `width` in parallel when `work` (the elements they read) is large: `f(row, output row)`.
fn rows_mut<T: Send>(out: &mut [T], width: usize, work: usize, f: impl Fn(usize, &mut [T]) + Sync) {
    if par::worth_parallel(work) {
        out.par_chunks_mut(width.max(1)).enumerate().for_each(|(r, o)| f(r, o));
    } else {
        out.chunks_mut(width.max(1)).enumerate().for_each(|(r, o)| f(r, o));
    }
}

/// A vector of `rows` rows of `width`, each written in full by `f(row, uninitialised row)`, in
/// chunks of whole rows on the pool when large.
fn build_rows<T: Send>(rows: usize, width: usize, f: impl Fn(usize, &mut [MaybeUninit<T>]) + Sync) -> Vec<T> {
    let chunk_width = width.max(1);
    par::build_vec(rows * width, chunk_width, |start, chunk| {
        for (i, row) in chunk.chunks_mut(chunk_width).enumerate() {
            f(start / chunk_width + i, row);
        }
    })
}

fn forward<T: FloatMath + Send + Sync>(plan: &NormPlan, x: &[T], w: Option<&[T]>, b: Option<&[T]>) -> (Vec<T>, Vec<T>) {
    let n = plan.width;
    let mut stats = vec![T::ZERO; plan.rows * 2];
    let (layer, eps) = (plan.kind == NormKind::Layer, T::from_f64(plan.eps));
    // Rows on the pool, each row's sums in lanes: one running sum per row was a serial chain of
    // adds that the second thread waited on.
    rows_mut(&mut stats, 2, x.len(), |r, s| s.copy_from_slice(&row_stats(&x[r * n..][..n], layer, eps)));
    let y =
        build_rows(plan.rows, n, |r, out| normalise_row(&x[r * n..][..n], [stats[2 * r], stats[2 * r + 1]], w, b, out));
    (y, stats)
}

/// `dx`, and the column sums of `dy · x̂` and `dy` that the plan asks for.
fn backward<T>(
    plan: &NormBackwardPlan,
    x: &[T],
    w: Option<&[T]>,
    dy: &[T],
    stats: &[T],
) -> (Vec<T>, [Option<Vec<T>>; 2])
where
    T: FloatMath + Send + Sync,
{
    let f = &plan.forward;
    let (n, layer) = (f.width, f.kind == NormKind::Layer);
    let dx_row = |r: usize, out: &mut [MaybeUninit<T>]| {
        backward_row(&x[r * n..][..n], &dy[r * n..][..n], w, [stats[2 * r], stats[2 * r + 1]], layer, out)
    };
    let NormParamGrads { weight, bias } = plan.params;
    if !(weight || bias) {
        return (build_rows(f.rows, n, dx_row), [None, None]);
    }
    if n == 0 || f.rows == 0 {
        let zeros = || vec![T::ZERO; n];
        return (Vec::new(), [weight.then(zeros), bias.then(zeros)]);
    }
    // Bands of a number of rows that depends on the shape alone, each summing its rows into its
    // own partial sums, which are then added in band order: the same bits on any number of
    // threads. A band's `dy` and `x` rows are still in cache from its `dx` pass when summed.
    let band = f.rows.div_ceil(PARAM_BANDS).max(PARAM_BAND_MIN_ROWS);
    let mut dx = Vec::with_capacity(f.rows * n);
    let mut partials = vec![T::ZERO; f.rows.div_ceil(band) * 2 * n];
    let fold_band = |b: usize, (out, sums): (&mut [MaybeUninit<T>], &mut [T])| {
        let (sum_w, sum_b) = sums.split_at_mut(n);
        for (i, out) in out.chunks_mut(n.max(1)).enumerate() {
            let r = b * band + i;
            dx_row(r, out);
            let (xr, dyr) = (&x[r * n..][..n], &dy[r * n..][..n]);
            let sums = (weight.then_some(&mut *sum_w), bias.then_some(&mut *sum_b));
            accumulate_param_grads(xr, dyr, [stats[2 * r], stats[2 * r + 1]], sums.0, sums.1);
        }
    };
    let spare = &mut dx.spare_capacity_mut()[..f.rows * n];
    let band_len = band * n;
    if par::worth_parallel(x.len()) {
        let pairs = spare.par_chunks_mut(band_len).zip(partials.par_chunks_mut(2 * n));
        pairs.enumerate().for_each(|(b, pair)| fold_band(b, pair));
    } else {
        let pairs = spare.chunks_mut(band_len).zip(partials.chunks_mut(2 * n));
        pairs.enumerate().for_each(|(b, pair)| fold_band(b, pair));
    }
    // SAFETY: every band wrote each of its rows of dx in full.
    unsafe { dx.set_len(f.rows * n) };
    let mut total = vec![T::ZERO; 2 * n];
    for part in partials.chunks(2 * n) {
        total.iter_mut().zip(part).for_each(|(t, &p)| *t = *t + p);
    }
    let (sum_w, sum_b) = total.split_at(n);
    (dx, [weight.then(|| sum_w.to_vec()), bias.then(|| sum_b.to_vec())])
}

/// The row bands the parameters' gradients are summed in (see `backward`): at most this many,
/// of at least [`PARAM_BAND_MIN_ROWS`] rows each.
const PARAM_BANDS: usize = 32;
const PARAM_BAND_MIN_ROWS: usize = 16;

multiversion! {
    /// `sum_w += dy · x̂` and `sum_b += dy` over one row, each where given.
    fn accumulate_param_grads<T>(x: &[T], dy: &[T], stats: [T; 2], sum_w: Option<&mut [T]>, sum_b: Option<&mut [T]>)
    where T: FloatMath
    {
        let [mean, rstd] = stats;
        if let Some(sum_w) = sum_w {
            for ((s, &d), &v) in sum_w.iter_mut().zip(dy).zip(x) {
                *s = *s + d * ((v - mean) * rstd);
            }
        }
        if let Some(sum_b) = sum_b {
            for (s, &d) in sum_b.iter_mut().zip(dy) {
                *s = *s + d;
            }
        }
    }
}

multiversion! {
    /// A row's `[mean, 1 / sqrt(variance + eps)]` (the mean 0 for RMSNorm, whose "variance" is
    /// then the mean square).
    fn row_stats<T>(row: &[T], layer: bool, eps: T) -> [T; 2]
    where T: FloatMath
    {
        let inv_n = T::from_f64(1.0 / row.len().max(1) as f64);
        let mean = if layer { sum_lanes(row, row, |v, _| v) * inv_n } else { T::ZERO };
        let var = sum_lanes(row, row, |v, _| (v - mean) * (v - mean)) * inv_n;
        [mean, T::ONE / (var + eps).sqrt()]
    }
}

multiversion! {
    /// `out = (x - mean) rstd`, times the weight and plus the bias where given.
    fn normalise_row<T>(x: &[T], stats: [T; 2], w: Option<&[T]>, b: Option<&[T]>, out: &mut [MaybeUninit<T>])
    where T: FloatMath
    {
        let [mean, rstd] = stats;
        let h = |v: T| (v - mean) * rstd;
        match (w, b) {
            (Some(w), Some(b)) => each(out, x, w, b, |v, w, b| h(v) * w + b),
            (Some(w), None) => each(out, x, w, w, |v, w, _| h(v) * w),
            (None, Some(b)) => each(out, x, b, b, |v, b, _| h(v) + b),
            (None, None) => each(out, x, x, x, |v, _, _| h(v)),
        }
    }
}

multiversion! {
    /// A row's gradient `dx = rstd (g - mean(g) - x̂ mean(g x̂))`, `g = dy · weight`,
    /// `x̂ = (x - mean) rstd` (RMSNorm has no `mean(g)` term).
    fn backward_row<T>(x: &[T], dy: &[T], w: Option<&[T]>, stats: [T; 2], layer: bool, out: &mut [MaybeUninit<T>])
    where T: FloatMath
    {
        let [mean, rstd] = stats;
        let inv_n = T::from_f64(1.0 / x.len().max(1) as f64);
        let (sum_g, sum_gx) = match w {
            Some(w) => (sum_lanes(dy, w, |d, w| d * w), sum3_lanes(dy, w, x, |d, w, v| d * w * (v - mean))),
            None => (sum_lanes(dy, dy, |d, _| d), sum_lanes(dy, x, |d, v| d * (v - mean))),
        };
        let mean_g = if layer { sum_g * inv_n } else { T::ZERO };
        let scale = sum_gx * rstd * inv_n * rstd;
        let dx = |g: T, v: T| rstd * (g - mean_g - (v - mean) * scale);
        match w {
            Some(w) => each(out, dy, w, x, |d, w, v| dx(d * w, v)),
            None => each(out, dy, x, x, |d, v, _| dx(d, v)),
        }
    }
}

/// `out[i] = f(a[i], b[i], c[i])`.
#[inline(always)]
fn each<T: Copy>(out: &mut [MaybeUninit<T>], a: &[T], b: &[T], c: &[T], f: impl Fn(T, T, T) -> T) {
    for (((o, &a), &b), &c) in out.iter_mut().zip(a).zip(b).zip(c) {
        o.write(f(a, b, c));
    }
}

#[cfg(test)]
mod tests;
