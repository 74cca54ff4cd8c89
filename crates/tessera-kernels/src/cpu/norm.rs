//! LayerNorm and RMSNorm over the last dim, fused: one pass for a row's statistics and one for
//! its output, forward; one pass for a row's two correction terms and one for its gradient,
//! backward. f16 and bf16 compute in f32.

use super::batch_norm::sum_lanes;
use super::buffer::{expect_dtype, strided_values, CpuBuffer};
use super::par;
use super::unary::{map, FloatMath};
use crate::plan::{NormBackwardPlan, NormKind, NormPlan};
use crate::Result;
use rayon::prelude::*;
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
    macro_rules! native {
        ($x:expr, $t:ty) => {{
            let p = |b: Option<&CpuBuffer>, l: &Option<tessera_core::Layout>| {
                b.zip(l.as_ref()).and_then(|(b, l)| b.as_slice::<$t>().map(|v| strided_values(v, l).into_owned()))
            };
            let (y, s) = forward(
                plan,
                &strided_values($x, &plan.x),
                p(weight, &plan.weight).as_deref(),
                p(bias, &plan.bias).as_deref(),
            );
            [y.into(), s.into()]
        }};
    }
    macro_rules! via_f32 {
        ($x:expr, $t:ty) => {{
            let p = |b: Option<&CpuBuffer>, l: &Option<tessera_core::Layout>| {
                b.zip(l.as_ref())
                    .and_then(|(b, l)| b.as_slice::<$t>().map(|v| map(&strided_values(v, l), <$t>::to_f32)))
            };
            let x = map(&strided_values($x, &plan.x), <$t>::to_f32);
            let (y, s) = forward(plan, &x, p(weight, &plan.weight).as_deref(), p(bias, &plan.bias).as_deref());
            [map(&y, <$t>::from_f32).into(), s.into()]
        }};
    }
    Ok(match x {
        CpuBuffer::F32(x) => native!(x, f32),
        CpuBuffer::F64(x) => native!(x, f64),
        CpuBuffer::F16(x) => via_f32!(x, f16),
        CpuBuffer::BF16(x) => via_f32!(x, bf16),
        _ => unreachable!("the plan admits float dtypes only"),
    })
}

/// The gradient of `x` for the plan's normalisation from the output's gradient `dy`, the input
/// `x`, the `weight` (if any) and the forward's statistics.
pub fn norm_backward(
    plan: &NormBackwardPlan,
    x: &CpuBuffer,
    weight: Option<&CpuBuffer>,
    dy: &CpuBuffer,
    stats: &CpuBuffer,
) -> Result<CpuBuffer> {
    let f = &plan.forward;
    expect_dtype("norm_backward", f.dtype, &[x, dy])?;
    expect_dtype("norm_backward", f.stat_dtype, &[stats])?;
    macro_rules! run {
        ($x:expr, $dy:expr, $s:expr, $t:ty, $wide:expr, $narrow:expr) => {{
            let w = weight
                .zip(f.weight.as_ref())
                .and_then(|(b, l)| b.as_slice::<$t>().map(|v| map(&strided_values(v, l), $wide)));
            let (x, dy) = (map(&strided_values($x, &f.x), $wide), map(&strided_values($dy, &plan.dy), $wide));
            map(&backward(f, &x, w.as_deref(), &dy, &strided_values($s, &plan.stats)), $narrow).into()
        }};
    }
    Ok(match (x, dy, stats) {
        (CpuBuffer::F32(x), CpuBuffer::F32(d), CpuBuffer::F32(s)) => run!(x, d, s, f32, |v: f32| v, |v: f32| v),
        (CpuBuffer::F64(x), CpuBuffer::F64(d), CpuBuffer::F64(s)) => run!(x, d, s, f64, |v: f64| v, |v: f64| v),
        (CpuBuffer::F16(x), CpuBuffer::F16(d), CpuBuffer::F32(s)) => run!(x, d, s, f16, f16::to_f32, f16::from_f32),
        (CpuBuffer::BF16(x), CpuBuffer::BF16(d), CpuBuffer::F32(s)) => {
            run!(x, d, s, bf16, bf16::to_f32, bf16::from_f32)
        }
        _ => unreachable!("dtypes checked above"),
    })
}

/// Rows of `width` in parallel when `work` (the elements they read) is large: `f(row, output row)`.
fn rows_mut<T: Send>(out: &mut [T], width: usize, work: usize, f: impl Fn(usize, &mut [T]) + Sync) {
    if par::worth_parallel(work) {
        out.par_chunks_mut(width.max(1)).enumerate().for_each(|(r, o)| f(r, o));
    } else {
        out.chunks_mut(width.max(1)).enumerate().for_each(|(r, o)| f(r, o));
    }
}

fn forward<T: FloatMath + Send + Sync>(plan: &NormPlan, x: &[T], w: Option<&[T]>, b: Option<&[T]>) -> (Vec<T>, Vec<T>) {
    let n = plan.width;
    let mut stats = vec![T::ZERO; plan.rows * 2];
    let inv_n = T::from_f64(1.0 / n.max(1) as f64);
    // Each row's two sums in eight lanes and rows on the pool: one running sum per row was a
    // serial chain of adds that the second thread waited on.
    rows_mut(&mut stats, 2, x.len(), |r, s| {
        let row = &x[r * n..][..n];
        let mean = match plan.kind {
            NormKind::Layer => sum_lanes(row, row, |v, _| v) * inv_n,
            NormKind::Rms => T::ZERO,
        };
        let var = sum_lanes(row, row, |v, _| (v - mean) * (v - mean)) * inv_n;
        s[0] = mean;
        s[1] = T::ONE / (var + T::from_f64(plan.eps)).sqrt();
    });
    let mut y = vec![T::ZERO; x.len()];
    rows_mut(&mut y, n, x.len(), |r, out| {
        let (mean, rstd) = (stats[2 * r], stats[2 * r + 1]);
        for (c, (o, &v)) in out.iter_mut().zip(&x[r * n..][..n]).enumerate() {
            let h = (v - mean) * rstd;
            *o = match (w, b) {
                (Some(w), Some(b)) => h * w[c] + b[c],
                (Some(w), None) => h * w[c],
                (None, Some(b)) => h + b[c],
                (None, None) => h,
            };
        }
    });
    (y, stats)
}

fn backward<T: FloatMath + Send + Sync>(plan: &NormPlan, x: &[T], w: Option<&[T]>, dy: &[T], stats: &[T]) -> Vec<T> {
    let n = plan.width;
    let inv_n = T::from_f64(1.0 / n.max(1) as f64);
    let mut dx = vec![T::ZERO; x.len()];
    rows_mut(&mut dx, n, x.len(), |r, out| {
        let (mean, rstd) = (stats[2 * r], stats[2 * r + 1]);
        let (xr, dyr) = (&x[r * n..][..n], &dy[r * n..][..n]);
        let g = |c: usize| match w {
            Some(w) => dyr[c] * w[c],
            None => dyr[c],
        };
        // dx = rstd (g - mean(g) - xhat mean(g xhat)); RMSNorm has no mean term.
        let (mut sum_g, mut sum_gx) = (T::ZERO, T::ZERO);
        for c in 0..n {
            sum_g = sum_g + g(c);
            sum_gx = sum_gx + g(c) * (xr[c] - mean) * rstd;
        }
        let mean_g = if plan.kind == NormKind::Layer { sum_g * inv_n } else { T::ZERO };
        let mean_gx = sum_gx * inv_n;
        for (c, o) in out.iter_mut().enumerate() {
            *o = rstd * (g(c) - mean_g - (xr[c] - mean) * rstd * mean_gx);
        }
    });
    dx
}
