//! 2-d max and average pooling (plain and adaptive) and their backward, plane by plane, planes
//! split across threads when large. f16 and bf16 compute in f32. The backward passes scatter
//! each output's gradient into its window (the CUDA half gathers, or adds atomically).

use super::buffer::{expect_dtype, strided_values, CpuBuffer};
use super::par;
use super::simd::{multiversion, Select};
use super::unary::{map, FloatMath};
use crate::plan::{index_out_of_range, PoolAxis, PoolBackwardPlan, PoolKind, PoolPlan, Window};
use crate::Result;
use rayon::prelude::*;
use std::ops::Range;
use tessera_core::{bf16, f16, DType, Element};

/// Runs `$body` with `$v` the plan's view of a float buffer as a slice of `f32` or `f64`
/// (`$t` its type), then converts the float results `$out` back with `$back`.
macro_rules! float_input {
    ($buf:expr, $layout:expr, |$v:ident: $t:ident| $body:expr) => {
        match $buf {
            CpuBuffer::F32(x) => {
                type $t = f32;
                let $v = &strided_values(x, $layout);
                $body
            }
            CpuBuffer::F64(x) => {
                type $t = f64;
                let $v = &strided_values(x, $layout);
                $body
            }
            CpuBuffer::F16(x) => {
                type $t = f32;
                let $v = &map(&strided_values(x, $layout), f16::to_f32);
                $body
            }
            CpuBuffer::BF16(x) => {
                type $t = f32;
                let $v = &map(&strided_values(x, $layout), bf16::to_f32);
                $body
            }
            _ => unreachable!("the plan admits float dtypes only"),
        }
    };
}

/// A float result computed in f32 or f64, as a buffer of `dtype`.
fn narrow<T: FloatMath>(v: Vec<T>, dtype: DType) -> CpuBuffer
where
    CpuBuffer: From<Vec<T>>,
{
    match dtype {
        DType::F16 => map(&v, |x: T| f16::from_f64(x.to_f64())).into(),
        DType::BF16 => map(&v, |x: T| bf16::from_f64(x.to_f64())).into(),
        _ => v.into(),
    }
}

/// Runs `f(plane, a_plane, b_plane)` over the planes of two outputs, in parallel when `work`
/// (elements touched in all) is large.
fn for_planes<A: Send, B: Send>(
    a: &mut [A],
    a_len: usize,
    b: &mut [B],
    b_len: usize,
    work: usize,
    f: impl Fn(usize, &mut [A], &mut [B]) + Sync,
) {
    let planes = a.len() / a_len.max(1);
    if planes == 0 {
        return;
    }
    if par::worth_parallel(work) {
        let min = (par::PAR_MIN_ELEMS / 4).div_ceil((work / planes).max(1));
        let (a, b) = (a.par_chunks_mut(a_len.max(1)), b.par_chunks_mut(b_len.max(1)));
        a.zip(b).enumerate().with_min_len(min).for_each(|(p, (a, b))| f(p, a, b));
    } else {
        a.chunks_mut(a_len.max(1)).zip(b.chunks_mut(b_len.max(1))).enumerate().for_each(|(p, (a, b))| f(p, a, b));
    }
}

fn windows(plan: &PoolPlan) -> [Vec<Window>; 2] {
    plan.axes.map(|a| (0..a.output).map(|o| a.window(o)).collect())
}

/// Max pooling: `[y, indices]`, each window's maximum and its position in its input plane
/// (`h · W + w`, i64). The first maximum wins ties; a NaN wins over numbers (the last NaN).
pub fn max_pool2d(plan: &PoolPlan, x: &CpuBuffer) -> Result<[CpuBuffer; 2]> {
    expect_dtype("max_pool2d", plan.dtype, &[x])?;
    Ok(float_input!(x, &plan.x, |v: T| {
        let (y, idx) = max_forward::<T>(plan, v);
        [narrow(y, plan.dtype), idx.into()]
    }))
}

/// The fewest interior outputs of a row that max pooling takes tap by tap across the row.
const MIN_TAP_RUN: usize = 32;

fn max_forward<T: FloatMath>(plan: &PoolPlan, x: &[T]) -> (Vec<T>, Vec<i64>) {
    let [wh, ww] = windows(plan);
    let (pin, pout, aw) = (plan.plane_in(), plan.plane_out(), plan.axes[1]);
    // The outputs whose windows lie wholly inside the row (no padding, every tap), taken tap by
    // tap across the row where that is long enough to pay (else window by window, as the edges).
    let full: Vec<usize> = (0..ww.len()).filter(|&o| ww[o].count == aw.kernel).collect();
    let interior = full.first().map_or(0..0, |&lo| lo..full[full.len() - 1] + 1);
    let interior = if interior.len() >= MIN_TAP_RUN { interior } else { 0..0 };
    let (mut y, mut idx) = (vec![T::ZERO; plan.planes * pout], vec![0i64; plan.planes * pout]);
    for_planes(&mut y, pout, &mut idx, pout, plan.planes * pin, |p, y, idx| {
        max_plane(&x[p * pin..][..pin], y, idx, &wh, &ww, &aw, interior.clone());
    });
    (y, idx)
}

multiversion! {
    /// Max pooling of one input plane (rows `width` long) into its outputs `y` and `idx`: window
    /// rows `wh`, window columns `ww` along axis `aw`, of which those in `interior` lie wholly
    /// inside the row.
    fn max_plane<T>(
        plane: &[T],
        y: &mut [T],
        idx: &mut [i64],
        wh: &[Window],
        ww: &[Window],
        aw: &PoolAxis,
        interior: Range<usize>
    ) where T: FloatMath
    {
        let (width, neg_inf) = (aw.input, T::from_f64(f64::NEG_INFINITY));
        let (lo, hi) = (interior.start, interior.end);
        // One tap of the interior outputs, gathered contiguous so that the update vectorises.
        let mut vals = vec![neg_inf; hi - lo];
        let outs = y.chunks_mut(ww.len().max(1)).zip(idx.chunks_mut(ww.len().max(1)));
        for (h, (yr, ir)) in wh.iter().zip(outs) {
            for ((w, yo), io) in ww.iter().zip(yr.iter_mut()).zip(ir.iter_mut()) {
                (*yo, *io) = (neg_inf, (h.first * width + w.first) as i64);
            }
            // Window row by window row, tap by tap, each tap across every output of the row: the
            // outputs' running maxima are independent chains the CPU overlaps, and the order of
            // the taps within each window stays row-major (the first maximum wins ties).
            for i in 0..if interior.is_empty() { 0 } else { h.count } {
                let r = (h.first + i * h.step) * width;
                let row = &plane[r..r + width];
                for j in 0..aw.kernel {
                    let start = lo * aw.stride + j * aw.dilation - aw.padding;
                    for (d, &v) in vals.iter_mut().zip(row[start..].iter().step_by(aw.stride)) {
                        *d = v;
                    }
                    let (base, step) = ((r + start) as i64, aw.stride as i64);
                    let outs = yr[lo..hi].iter_mut().zip(ir[lo..hi].iter_mut()).zip(&vals);
                    for (o, ((yo, io), &v)) in outs.enumerate() {
                        update(yo, io, v, base + o as i64 * step);
                    }
                }
            }
            // The other outputs window by window, the running maximum in registers.
            for o in (0..lo).chain(hi..ww.len()) {
                let (w, mut best, mut at) = (ww[o], yr[o], ir[o]);
                for i in 0..h.count {
                    let r = (h.first + i * h.step) * width;
                    for j in 0..w.count {
                        let c = r + w.first + j * w.step;
                        update(&mut best, &mut at, plane[c], c as i64);
                    }
                }
                (yr[o], ir[o]) = (best, at);
            }
        }
    }
}

/// A window's running maximum `(best, at)` after tap `v` at `k`: a NaN wins over numbers, the
/// first maximum wins ties (PyTorch's rule).
#[inline(always)]
fn update<T: Select + PartialOrd>(best: &mut T, at: &mut i64, v: T, k: i64) {
    #[allow(clippy::eq_op)]
    let take = (v > *best) | (v != v);
    *best = T::select(take, *best, v);
    *at = i64::select(take, *at, k);
}

/// Average pooling, plain or adaptive: each window's sum over its divisor.
pub fn avg_pool2d(plan: &PoolPlan, x: &CpuBuffer) -> Result<CpuBuffer> {
    expect_dtype(plan.kind.name(), plan.dtype, &[x])?;
    Ok(float_input!(x, &plan.x, |v: T| narrow(avg_forward::<T>(plan, v), plan.dtype)))
}

fn avg_forward<T: FloatMath>(plan: &PoolPlan, x: &[T]) -> Vec<T> {
    let [wh, ww] = windows(plan);
    let (pin, pout, width) = (plan.plane_in(), plan.plane_out(), plan.axes[1].input);
    let mut y = vec![T::ZERO; plan.planes * pout];
    let mut none: Vec<u8> = vec![0; plan.planes];
    for_planes(&mut y, pout, &mut none, 1, plan.planes * pin, |p, y, _| {
        let plane = &x[p * pin..][..pin];
        for (h, yr) in wh.iter().zip(y.chunks_mut(ww.len().max(1))) {
            for (w, yo) in ww.iter().zip(yr) {
                let mut sum = T::ZERO;
                for i in 0..h.count {
                    let row = &plane[(h.first + i) * width + w.first..][..w.count];
                    sum = row.iter().fold(sum, |a, &v| a + v);
                }
                *yo = sum / T::from_f64(plan.divisor(h, w));
            }
        }
    });
    y
}

/// The input's gradient of max pooling: each output's gradient added at its index.
pub fn max_pool2d_backward(plan: &PoolBackwardPlan, dy: &CpuBuffer, indices: &CpuBuffer) -> Result<CpuBuffer> {
    const OP: &str = "max_pool2d_backward";
    let f = &plan.forward;
    expect_dtype(OP, f.dtype, &[dy])?;
    expect_dtype(OP, DType::I64, &[indices])?;
    let il = plan.indices.as_ref().expect("the plan of a max pooling holds its indices' view");
    let CpuBuffer::I64(iv) = indices else { unreachable!("checked above") };
    let idx = strided_values(iv, il);
    let (pin, pout) = (f.plane_in(), f.plane_out());
    // One vectorised pass (a negative index is a huge u64), then the first bad one for the error.
    if idx.iter().fold(0u64, |m, &i| m.max(i as u64)) >= pin as u64 {
        let bad = idx.iter().copied().find(|&i| i < 0 || i as usize >= pin).unwrap_or_default();
        return Err(index_out_of_range(OP, bad, f.out_shape.rank() - 1, pin));
    }
    Ok(float_input!(dy, &plan.dy, |g: T| {
        let mut dx = vec![T::ZERO; f.planes * pin];
        let mut none: Vec<u8> = vec![0; f.planes];
        for_planes(&mut dx, pin, &mut none, 1, f.planes * (pin + pout), |p, dx, _| {
            for (&i, &v) in idx[p * pout..][..pout].iter().zip(&g[p * pout..][..pout]) {
                dx[i as usize] += v;
            }
        });
        narrow(dx, f.dtype)
    }))
}

/// The input's gradient of average pooling, plain or adaptive: each output's gradient over its
/// divisor, added to every position of its window.
pub fn avg_pool2d_backward(plan: &PoolBackwardPlan, dy: &CpuBuffer) -> Result<CpuBuffer> {
    let f = &plan.forward;
    expect_dtype(f.kind.backward_name(), f.dtype, &[dy])?;
    debug_assert!(!matches!(f.kind, PoolKind::Max(_)));
    Ok(float_input!(dy, &plan.dy, |g: T| {
        let [wh, ww] = windows(f);
        let (pin, pout, width) = (f.plane_in(), f.plane_out(), f.axes[1].input);
        let mut dx = vec![T::ZERO; f.planes * pin];
        let mut none: Vec<u8> = vec![0; f.planes];
        for_planes(&mut dx, pin, &mut none, 1, f.planes * (pin + pout), |p, dx, _| {
            let gp = &g[p * pout..][..pout];
            for (h, gr) in wh.iter().zip(gp.chunks(ww.len().max(1))) {
                for (w, &v) in ww.iter().zip(gr) {
                    let share = v / T::from_f64(f.divisor(h, w));
                    for i in 0..h.count {
                        for d in &mut dx[(h.first + i) * width + w.first..][..w.count] {
                            *d += share;
                        }
                    }
                }
            }
        });
        narrow(dx, f.dtype)
    }))
}
