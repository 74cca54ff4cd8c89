//! 2-d max and average pooling (plain and adaptive) and their backward, plane by plane, planes
//! split across threads when large. f16 and bf16 compute in f32. The backward passes scatter
//! each output's gradient into its window (the CUDA half gathers, or adds atomically).

use super::buffer::{expect_dtype, strided_values, CpuBuffer};
use super::half::Half;
use super::par;
use super::simd::{multiversion, Select};
use super::unary::{map, FloatMath};
use crate::plan::{index_out_of_range, PoolAxis, PoolBackwardPlan, PoolKind, PoolPlan, Window};
use crate::Result;
use rayon::prelude::*;
use std::mem::MaybeUninit;
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
                let $v = &f16::widen(&strided_values(x, $layout));
                $body
            }
            CpuBuffer::BF16(x) => {
                type $t = f32;
                let $v = &bf16::widen(&strided_values(x, $layout));
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

/// Each axis's windows, none when the output is empty: one axis may then be longer than any
/// table can be (an adaptive pooling to `[2^32, 0]` asked for 2^32 windows and aborted).
fn windows(plan: &PoolPlan) -> [Vec<Window>; 2] {
    if plan.out_shape.elem_count() == 0 {
        return [Vec::new(), Vec::new()];
    }
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

/// The fewest interior outputs of a plane that max pooling takes tap by tap.
const MIN_TAP_RUN: usize = 32;

/// The outputs whose windows lie wholly inside the input plane (no padding, every tap): the
/// output rows `rows` by the output columns `cols`, and each tap's offset in the plane from its
/// window's first element, in row-major tap order, `kw` taps per window row.
pub(crate) struct Interior {
    rows: Range<usize>,
    cols: Range<usize>,
    taps: Vec<u32>,
    kw: usize,
}

impl Interior {
    /// The interior of `plan`'s windows, or an empty one where it is too small to pay.
    fn new(plan: &PoolPlan, wh: &[Window], ww: &[Window]) -> Interior {
        let full = |axis: &PoolAxis, ws: &[Window]| {
            let inside: Vec<usize> = (0..ws.len()).filter(|&o| !axis.adaptive && ws[o].count == axis.kernel).collect();
            inside.first().map_or(0..0, |&lo| lo..inside[inside.len() - 1] + 1)
        };
        let [ah, aw] = plan.axes;
        let (rows, cols) = (full(&ah, wh), full(&aw, ww));
        let none = Interior { rows: 0..0, cols: 0..0, taps: Vec::new(), kw: 1 };
        // Checked before the taps are listed: a kernel far larger than the input is legal with
        // padding, and its taps are only bounded by the input when some window lies inside it.
        if rows.len().saturating_mul(cols.len()) < MIN_TAP_RUN {
            return none;
        }
        let taps: Option<Vec<u32>> = (0..ah.kernel)
            .flat_map(|i| (0..aw.kernel).map(move |j| u32::try_from(i * ah.dilation * aw.input + j * aw.dilation).ok()))
            .collect();
        match taps {
            Some(taps) => Interior { rows, cols, taps, kw: aw.kernel },
            None => none,
        }
    }

    fn len(&self) -> usize {
        self.rows.len() * self.cols.len()
    }
}

fn max_forward<T: FloatMath>(plan: &PoolPlan, x: &[T]) -> (Vec<T>, Vec<i64>) {
    let [wh, ww] = windows(plan);
    let (pin, pout, aw) = (plan.plane_in(), plan.plane_out(), plan.axes[1]);
    let interior = Interior::new(plan, &wh, &ww);
    let len = plan.planes * pout;
    let (mut y, mut idx) = (Vec::with_capacity(len), Vec::with_capacity(len));
    let (ys, is) = (&mut y.spare_capacity_mut()[..len], &mut idx.spare_capacity_mut()[..len]);
    for_planes(ys, pout, is, pout, plan.planes * pin, |p, y, idx| {
        max_plane(&x[p * pin..][..pin], y, idx, &wh, &ww, aw.input, &interior);
    });
    // SAFETY: max_plane wrote every output of every plane.
    unsafe {
        y.set_len(len);
        idx.set_len(len);
    }
    (y, idx)
}

multiversion! {
    /// Max pooling of one input plane (rows `width` long) into its outputs `y` and `idx`: window
    /// rows `wh`, window columns `ww`. The `interior` outputs go tap by tap, each tap across all
    /// of them at once (their running maxima independent lanes of the vector unit; the taps of a
    /// window stay in row-major order, so the first maximum wins ties), the others window by
    /// window. Every output is written.
    fn max_plane<T>(
        plane: &[T],
        y: &mut [MaybeUninit<T>],
        idx: &mut [MaybeUninit<i64>],
        wh: &[Window],
        ww: &[Window],
        width: usize,
        interior: &Interior
    ) where T: FloatMath
    {
        let neg_inf = T::from_f64(f64::NEG_INFINITY);
        let (ow, (rows, cols)) = (ww.len().max(1), (interior.rows.clone(), interior.cols.clone()));
        if interior.len() > 0 {
            let (n, nc) = (interior.len(), cols.len());
            // Each output's running maximum and its tap's offset from the window's first element.
            let (mut best, mut at) = (vec![neg_inf; n], vec![0u32; n]);
            let stride = if nc > 1 { ww[cols.start + 1].first - ww[cols.start].first } else { 1 };
            let kw = interior.kw;
            // One window row's taps at a time, each tap's values for every interior output in
            // its own run of `vals`; 2-wide windows side by side (the common 2x2 pooling) split
            // each pair of input columns in one pass.
            let pairs = kw == 2 && stride == 2 && interior.taps[1] == interior.taps[0] + 1;
            let mut vals = vec![neg_inf; n * kw];
            for row_taps in interior.taps.chunks(kw) {
                for (r, oh) in rows.clone().enumerate() {
                    let start = wh[oh].first * width + ww[cols.start].first + row_taps[0] as usize;
                    if pairs {
                        let (even, odd) = vals.split_at_mut(n);
                        split_pairs(&plane[start..start + 2 * nc], &mut even[r * nc..][..nc], &mut odd[r * nc..][..nc]);
                    } else {
                        for (j, &offset) in row_taps.iter().enumerate() {
                            let at = start + (offset - row_taps[0]) as usize;
                            gather_strided(&mut vals[j * n + r * nc..][..nc], &plane[at..], stride);
                        }
                    }
                }
                for (&offset, vals) in row_taps.iter().zip(vals.chunks(n)) {
                    for ((b, k), &v) in best.iter_mut().zip(at.iter_mut()).zip(vals) {
                        update(b, k, v, offset);
                    }
                }
            }
            let outs = rows.clone().zip(best.chunks(nc).zip(at.chunks(nc)));
            for (oh, (best, at)) in outs {
                let (first, out) = (wh[oh].first * width, oh * ow + cols.start..oh * ow + cols.end);
                let windows = y[out.clone()].iter_mut().zip(&mut idx[out]).zip(&ww[cols.clone()]);
                for (((yo, io), w), (&b, &k)) in windows.zip(best.iter().zip(at)) {
                    yo.write(b);
                    io.write((first + w.first + k as usize) as i64);
                }
            }
        }
        // The other outputs window by window, the running maximum in registers.
        for (oh, h) in wh.iter().enumerate() {
            let edges = if rows.contains(&oh) { (0..cols.start).chain(cols.end..ww.len()) } else { (0..ww.len()).chain(0..0) };
            for o in edges {
                let (w, mut best, mut at) = (ww[o], neg_inf, (h.first * width + ww[o].first) as i64);
                for i in 0..h.count {
                    let r = (h.first + i * h.step) * width;
                    for j in 0..w.count {
                        let c = r + w.first + j * w.step;
                        update(&mut best, &mut at, plane[c], c as i64);
                    }
                }
                y[oh * ow + o].write(best);
                idx[oh * ow + o].write(at);
            }
        }
    }
}

/// `dst[o] = src[o · stride]` for every `o`.
#[inline(always)]
fn gather_strided<T: Copy>(dst: &mut [T], src: &[T], stride: usize) {
    if stride == 1 {
        dst.copy_from_slice(&src[..dst.len()]);
    } else {
        dst.iter_mut().zip(src.iter().step_by(stride)).for_each(|(d, &v)| *d = v);
    }
}

/// `even[o] = src[2o]`, `odd[o] = src[2o + 1]`: both members of each pair used, which LLVM
/// vectorises as an interleaved load (one tap alone, a gather with gaps, it leaves scalar).
#[inline(always)]
fn split_pairs<T: Copy>(src: &[T], even: &mut [T], odd: &mut [T]) {
    for ((e, o), pair) in even.iter_mut().zip(odd.iter_mut()).zip(src.chunks_exact(2)) {
        (*e, *o) = (pair[0], pair[1]);
    }
}

/// A window's running maximum `(best, at)` after tap `v` at `k`: a NaN wins over numbers, the
/// first maximum wins ties (PyTorch's rule).
#[inline(always)]
fn update<T: Select + PartialOrd, K: Select>(best: &mut T, at: &mut K, v: T, k: K) {
    #[allow(clippy::eq_op)]
    let take = (v > *best) | (v != v);
    *best = T::select(take, *best, v);
    *at = K::select(take, *at, k);
}

/// Average pooling, plain or adaptive: each window's sum over its divisor.
pub fn avg_pool2d(plan: &PoolPlan, x: &CpuBuffer) -> Result<CpuBuffer> {
    expect_dtype(plan.kind.name(), plan.dtype, &[x])?;
    Ok(float_input!(x, &plan.x, |v: T| narrow(avg_forward::<T>(plan, v), plan.dtype)))
}

fn avg_forward<T: FloatMath>(plan: &PoolPlan, x: &[T]) -> Vec<T> {
    let [wh, ww] = windows(plan);
    let (pin, pout, width) = (plan.plane_in(), plan.plane_out(), plan.axes[1].input);
    let mut y = par::filled(plan.planes * pout, T::ZERO);
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
        let mut dx = par::filled(f.planes * pin, T::ZERO);
        let mut none: Vec<u8> = vec![0; f.planes];
        for_planes(&mut dx, pin, &mut none, 1, f.planes.saturating_mul(pin.saturating_add(pout)), |p, dx, _| {
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
        let mut dx = par::filled(f.planes * pin, T::ZERO);
        let mut none: Vec<u8> = vec![0; f.planes];
        for_planes(&mut dx, pin, &mut none, 1, f.planes.saturating_mul(pin.saturating_add(pout)), |p, dx, _| {
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
