//! Batch normalisation over the channels of `[N, C, *]`, fused: per channel one pass for the
//! mean, one for the variance and one for the output, forward; one pass for the two sums and
//! one for the gradient, backward. Channels are split across threads when large; f16 and bf16
//! compute in f32.

use super::buffer::{expect_dtype, CpuBuffer, CpuElem};
use super::lanes::sum_lanes;
use super::par;
use super::unary::FloatMath;
use super::wide::{checked, operand, saved_values, Wide};
use crate::plan::{BatchNormBackwardPlan, BatchNormPlan};
use crate::Result;
use rayon::prelude::*;
use std::mem::MaybeUninit;
use tessera_core::{bf16, f16};

/// `f(channel)` for every channel, in parallel when the input is large.
fn per_channel<U: Send>(channels: usize, elems: usize, f: impl Fn(usize) -> U + Sync + Send) -> Vec<U> {
    if par::worth_parallel(elems) {
        (0..channels).into_par_iter().map(f).collect()
    } else {
        (0..channels).map(f).collect()
    }
}

/// Builds an output `[batch, channels, inner]` one `[channels, inner]` row of the batch at a
/// time, rows in parallel when large: `f(channel, offset, uninitialised slice)` must write its
/// whole slice.
fn build_rows<T: Send>(
    len: usize,
    channels: usize,
    inner: usize,
    f: impl Fn(usize, usize, &mut [MaybeUninit<T>]) + Sync,
) -> Vec<T> {
    par::build_vec(len, (channels * inner).max(1), |start, chunk| {
        for (k, oc) in chunk.chunks_mut(inner.max(1)).enumerate() {
            let at = start + k * inner;
            f((at / inner.max(1)) % channels.max(1), at, oc);
        }
    })
}

/// Batch normalisation: `[y, saved]`, `saved` `[3, channels]` holding each channel's mean,
/// `1 / sqrt(var + eps)` and the variance for a running estimate (the batch's unbiased variance
/// in training, the running variance in eval).
pub fn batch_norm(
    plan: &BatchNormPlan,
    x: &CpuBuffer,
    weight: Option<&CpuBuffer>,
    bias: Option<&CpuBuffer>,
    running: Option<(&CpuBuffer, &CpuBuffer)>,
) -> Result<[CpuBuffer; 2]> {
    let params: Vec<&CpuBuffer> =
        [weight, bias, running.map(|r| r.0), running.map(|r| r.1)].into_iter().flatten().collect();
    expect_dtype("batch_norm", plan.dtype, &[x])?;
    expect_dtype("batch_norm", plan.dtype, &params)?;
    Ok(match x {
        CpuBuffer::F32(_) => forward_as::<f32>(plan, x, weight, bias, running),
        CpuBuffer::F64(_) => forward_as::<f64>(plan, x, weight, bias, running),
        CpuBuffer::F16(_) => forward_as::<f16>(plan, x, weight, bias, running),
        CpuBuffer::BF16(_) => forward_as::<bf16>(plan, x, weight, bias, running),
        _ => unreachable!("the plan admits float dtypes only"),
    })
}

fn forward_as<S: Wide>(
    plan: &BatchNormPlan,
    x: &CpuBuffer,
    weight: Option<&CpuBuffer>,
    bias: Option<&CpuBuffer>,
    running: Option<(&CpuBuffer, &CpuBuffer)>,
) -> [CpuBuffer; 2]
where
    CpuBuffer: From<Vec<S::W>>,
{
    let (rm, rv) = (plan.running.as_ref().map(|r| &r.0), plan.running.as_ref().map(|r| &r.1));
    let xv = checked::<S>(x, &plan.x);
    let (w, b) = (operand::<S>(weight, plan.weight.as_ref()), operand::<S>(bias, plan.bias.as_ref()));
    let (m, v) = (operand::<S>(running.map(|r| r.0), rm), operand::<S>(running.map(|r| r.1), rv));
    let (y, saved) = forward(plan, &xv, w.as_deref(), b.as_deref(), m.as_deref().zip(v.as_deref()));
    [S::narrow(y), saved.into()]
}

fn forward<T: FloatMath + Send + Sync>(
    plan: &BatchNormPlan,
    x: &[T],
    w: Option<&[T]>,
    b: Option<&[T]>,
    running: Option<(&[T], &[T])>,
) -> (Vec<T>, Vec<T>) {
    let (n, c, inner, m) = (plan.batch, plan.channels, plan.inner, plan.per_channel());
    let eps = T::from_f64(plan.eps);
    let stats = per_channel(c, x.len(), |ch| {
        let (mean, var) = match (plan.training, running) {
            (false, Some((rm, rv))) => (rm[ch], rv[ch]),
            _ => {
                let slice = |bn: usize| &x[(bn * c + ch) * inner..][..inner];
                let sum = (0..n).fold(T::ZERO, |s, bn| s + sum_lanes(slice(bn), slice(bn), |v, _| v));
                let mean = sum / T::from_f64(m as f64);
                let sq =
                    (0..n).fold(T::ZERO, |s, bn| s + sum_lanes(slice(bn), slice(bn), |v, _| (v - mean) * (v - mean)));
                (mean, sq / T::from_f64(m as f64))
            }
        };
        let invstd = T::ONE / (var + eps).sqrt();
        let keep = if plan.training { var * T::from_f64(m as f64 / (m as f64 - 1.0)) } else { var };
        (mean, invstd, keep)
    });
    let mut saved = vec![T::ZERO; 3 * c];
    for (ch, &(mean, invstd, keep)) in stats.iter().enumerate() {
        (saved[ch], saved[c + ch], saved[2 * c + ch]) = (mean, invstd, keep);
    }
    // y = (x - mean) · scale + bias, scale = w · invstd.
    let affine: Vec<(T, T, T)> = stats
        .iter()
        .enumerate()
        .map(|(ch, &(mean, invstd, _))| (mean, w.map_or(invstd, |w| w[ch] * invstd), b.map_or(T::ZERO, |b| b[ch])))
        .collect();
    let y = build_rows(x.len(), c, inner, |ch, at, out| {
        let (mean, scale, bias) = affine[ch];
        for (o, &v) in out.iter_mut().zip(&x[at..at + inner]) {
            o.write((v - mean) * scale + bias);
        }
    });
    (y, saved)
}

/// The gradients of batch normalisation: `[dx, dweight, dbias]`, the last two `[channels]` in
/// the input's dtype (`Σ dy · x̂` and `Σ dy` per channel, computed whether or not there is a
/// weight).
pub fn batch_norm_backward(
    plan: &BatchNormBackwardPlan,
    x: &CpuBuffer,
    weight: Option<&CpuBuffer>,
    dy: &CpuBuffer,
    saved: &CpuBuffer,
) -> Result<[CpuBuffer; 3]> {
    let f = &plan.forward;
    expect_dtype("batch_norm_backward", f.dtype, &[x, dy])?;
    expect_dtype("batch_norm_backward", f.dtype, &weight.into_iter().collect::<Vec<_>>())?;
    expect_dtype("batch_norm_backward", f.stat_dtype, &[saved])?;
    Ok(match x {
        CpuBuffer::F32(_) => backward_as::<f32>(plan, x, weight, dy, saved),
        CpuBuffer::F64(_) => backward_as::<f64>(plan, x, weight, dy, saved),
        CpuBuffer::F16(_) => backward_as::<f16>(plan, x, weight, dy, saved),
        CpuBuffer::BF16(_) => backward_as::<bf16>(plan, x, weight, dy, saved),
        _ => unreachable!("the plan admits float dtypes only"),
    })
}

fn backward_as<S: Wide>(
    plan: &BatchNormBackwardPlan,
    x: &CpuBuffer,
    weight: Option<&CpuBuffer>,
    dy: &CpuBuffer,
    saved: &CpuBuffer,
) -> [CpuBuffer; 3]
where
    S::W: CpuElem,
{
    let f = &plan.forward;
    let xv = checked::<S>(x, &f.x);
    let dyv = checked::<S>(dy, &plan.dy);
    let w = operand::<S>(weight, f.weight.as_ref());
    let sv = saved_values::<S::W>(saved, &plan.saved);
    let [dx, dw, db] = backward(f, &xv, w.as_deref(), &dyv, &sv);
    [S::narrow(dx), S::narrow(dw), S::narrow(db)]
}

fn backward<T: FloatMath + Send + Sync>(
    plan: &BatchNormPlan,
    x: &[T],
    w: Option<&[T]>,
    dy: &[T],
    saved: &[T],
) -> [Vec<T>; 3] {
    let (n, c, inner, m) = (plan.batch, plan.channels, plan.inner, plan.per_channel());
    let sums = per_channel(c, x.len(), |ch| {
        let (mean, invstd) = (saved[ch], saved[c + ch]);
        let at = |bn: usize| (bn * c + ch) * inner;
        let (sum_dy, sum_dyx) = (0..n).fold((T::ZERO, T::ZERO), |(s, t), bn| {
            let (g, x) = (&dy[at(bn)..][..inner], &x[at(bn)..][..inner]);
            (s + sum_lanes(g, g, |g, _| g), t + sum_lanes(g, x, |g, v| g * (v - mean)))
        });
        (sum_dy, sum_dyx * invstd)
    });
    let inv_m = T::from_f64(1.0 / m.max(1) as f64);
    let dx = build_rows(x.len(), c, inner, |ch, at, out| {
        let (mean, invstd) = (saved[ch], saved[c + ch]);
        let k = w.map_or(invstd, |w| w[ch] * invstd);
        let (dyr, xr) = (&dy[at..at + inner], &x[at..at + inner]);
        if plan.training {
            // dx = k (dy - mean(dy) - x̂ mean(dy x̂)), x̂ = (x - mean) invstd.
            let (mean_dy, mean_dyx) = (sums[ch].0 * inv_m, sums[ch].1 * inv_m);
            for ((o, &g), &v) in out.iter_mut().zip(dyr).zip(xr) {
                o.write(k * (g - mean_dy - (v - mean) * invstd * mean_dyx));
            }
        } else {
            for (o, &g) in out.iter_mut().zip(dyr) {
                o.write(k * g);
            }
        }
    });
    [dx, sums.iter().map(|s| s.1).collect(), sums.iter().map(|s| s.0).collect()]
}
