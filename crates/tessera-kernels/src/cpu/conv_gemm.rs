//! `conv2d` and its two gradients on the CPU, one image at a time: the image's im2col columns go
//! into a scratch buffer that stays in cache, and gemm multiplies them straight into the
//! output (onto the bias rows), so no `[N, C·KH·KW, OH·OW]` matrix and no temporary output is
//! ever allocated. The images' gradient multiplies into the scratch and col2im sums it into the
//! result; the weight's gradient accumulates one product per image onto one matrix. Images are
//! split across threads when the work is large (each thread with its own scratch), one image's
//! products across threads otherwise. f16 and bf16 compute in f32.

use super::buffer::{expect_dtype, strided_values, CpuBuffer};
use super::conv::{fold_plane, unfold_plane};
use super::half::Half;
use super::matmul::{as_uninit, product, GemmElem};
use super::unary::FloatMath;
use crate::plan::{Conv2dOperands, Conv2dPlan, ConvWindow};
use crate::Result;
use gemm::Parallelism;
use rayon::prelude::*;
use std::borrow::Cow;
use std::mem::MaybeUninit;
use tessera_core::{bf16, f16, DType, Error, Layout};

/// Below this many multiply-adds a convolution runs on the calling thread.
const PAR_MIN_FLOPS: usize = 1 << 20;

/// The types the products run in: f32 and f64.
trait Native: FloatMath + GemmElem {}
impl Native for f32 {}
impl Native for f64 {}

/// A float buffer's view as contiguous f32 (f16 and bf16 widened) or f64 values.
enum Wide<'a> {
    F32(Cow<'a, [f32]>),
    F64(Cow<'a, [f64]>),
}

fn wide<'a>(b: &'a CpuBuffer, l: &Layout) -> Wide<'a> {
    match b {
        CpuBuffer::F32(v) => Wide::F32(strided_values(v, l)),
        CpuBuffer::F64(v) => Wide::F64(strided_values(v, l)),
        CpuBuffer::F16(v) => Wide::F32(Cow::Owned(f16::widen(&strided_values(v, l)))),
        CpuBuffer::BF16(v) => Wide::F32(Cow::Owned(bf16::widen(&strided_values(v, l)))),
        _ => unreachable!("the plan admits float dtypes only"),
    }
}

/// f32 results back to `dtype`.
fn narrow(v: Vec<f32>, dtype: DType) -> CpuBuffer {
    match dtype {
        DType::F16 => f16::narrow(&v).into(),
        DType::BF16 => bf16::narrow(&v).into(),
        _ => v.into(),
    }
}

/// The error for a plan of another of the three computations (a caller's bug).
fn wrong_plan(op: &'static str) -> crate::Error {
    Error::InvalidArgument { op, msg: "called with the plan of another convolution op".into() }.into()
}

/// Runs `$f::<T>` on the widened operands `[$a, $b, $c?]` and narrows its result to the plan's
/// dtype.
macro_rules! run {
    ($plan:expr, $f:ident, $a:expr, $b:expr, $c:expr) => {
        match ($a, $b) {
            (Wide::F32(a), Wide::F32(b)) => {
                let c = $c.map(|c| match c {
                    Wide::F32(c) => c,
                    Wide::F64(_) => unreachable!("one dtype, checked"),
                });
                narrow($f::<f32>($plan, &a, &b, c.as_deref()), $plan.dtype)
            }
            (Wide::F64(a), Wide::F64(b)) => {
                let c = $c.map(|c| match c {
                    Wide::F64(c) => c,
                    Wide::F32(_) => unreachable!("one dtype, checked"),
                });
                $f::<f64>($plan, &a, &b, c.as_deref()).into()
            }
            _ => unreachable!("one dtype, checked"),
        }
    };
}

/// Checks that the host can hold one image's columns, which every computation unfolds into:
/// their size follows the kernel and the padding, not only the operands.
fn reserve_columns(op: &'static str, plan: &Conv2dPlan) -> Result<()> {
    let w = &plan.window;
    if w.is_identity() {
        return Ok(());
    }
    let wide = if plan.dtype == DType::F64 { DType::F64 } else { DType::F32 };
    super::reserve_output(op, wide, w.channels.saturating_mul(w.taps()).saturating_mul(w.positions()))
}

/// The plan's `conv2d` of `x` by `weight` (+ `bias`): `[N, OC, OH, OW]`, contiguous.
pub fn conv2d(plan: &Conv2dPlan, x: &CpuBuffer, weight: &CpuBuffer, bias: Option<&CpuBuffer>) -> Result<CpuBuffer> {
    let Conv2dOperands::Forward { x: xl, weight: wl, bias: bl } = &plan.operands else {
        return Err(wrong_plan("conv2d"));
    };
    expect_dtype("conv2d", plan.dtype, &[x, weight])?;
    expect_dtype("conv2d", plan.dtype, &bias.into_iter().collect::<Vec<_>>())?;
    reserve_columns("conv2d (its im2col columns)", plan)?;
    let b = bias.zip(bl.as_ref()).map(|(b, l)| wide(b, l));
    Ok(run!(plan, forward, wide(x, xl), wide(weight, wl), b))
}

/// The plan's images' gradient from the output's gradient `dy` and the `weight`:
/// `[N, C, H, W]`, contiguous.
pub fn conv2d_input_grad(plan: &Conv2dPlan, dy: &CpuBuffer, weight: &CpuBuffer) -> Result<CpuBuffer> {
    let Conv2dOperands::InputGrad { dy: dl, weight: wl } = &plan.operands else {
        return Err(wrong_plan("conv2d_input_grad"));
    };
    expect_dtype("conv2d_input_grad", plan.dtype, &[dy, weight])?;
    reserve_columns("conv2d_input_grad (its im2col columns)", plan)?;
    Ok(run!(plan, input_grad, wide(dy, dl), wide(weight, wl), None::<Wide>))
}

/// The plan's weight's gradient from the images `x` and the output's gradient `dy`:
/// `[OC, C / groups, KH, KW]`, contiguous.
pub fn conv2d_weight_grad(plan: &Conv2dPlan, x: &CpuBuffer, dy: &CpuBuffer) -> Result<CpuBuffer> {
    let Conv2dOperands::WeightGrad { x: xl, dy: dl } = &plan.operands else {
        return Err(wrong_plan("conv2d_weight_grad"));
    };
    expect_dtype("conv2d_weight_grad", plan.dtype, &[x, dy])?;
    reserve_columns("conv2d_weight_grad (its im2col columns)", plan)?;
    Ok(run!(plan, weight_grad, wide(x, xl), wide(dy, dl), None::<Wide>))
}

/// Calls `f(n, out_n, scratch, parallelism)` for each image's `per`-long chunk of `out`: images
/// across threads when `work` (multiply-adds) is large and there are several, else in order
/// with each product split across threads when large.
fn per_image<U: Send, T: Native>(
    out: &mut [U],
    per: usize,
    work: usize,
    f: impl Fn(usize, &mut [U], &mut Vec<T>, Parallelism) + Sync + Send,
) {
    if per == 0 || out.is_empty() {
        return;
    }
    let big = work >= PAR_MIN_FLOPS && rayon::current_num_threads() > 1;
    if big && out.len() / per >= 2 {
        out.par_chunks_mut(per).enumerate().for_each_init(Vec::new, |col, (n, o)| f(n, o, col, Parallelism::None));
    } else {
        let (mut col, par) = (Vec::new(), if big { Parallelism::Rayon(0) } else { Parallelism::None });
        for (n, o) in out.chunks_mut(per).enumerate() {
            f(n, o, &mut col, par);
        }
    }
}

/// One image's columns `[C·KH·KW, OH·OW]`: the image itself where im2col is a reshape, else
/// built in `col` (zeroed on first use: the padding entries are never written, and are the same
/// for every image).
fn columns<'a, T: Native>(w: &ConvWindow, image: &'a [T], col: &'a mut Vec<T>) -> &'a [T] {
    if w.is_identity() {
        return image;
    }
    let (plane_in, plane_out) = (w.image[0] * w.image[1], w.taps() * w.positions());
    if col.len() != w.channels * plane_out {
        col.clear();
        col.resize(w.channels * plane_out, T::ZERO);
    }
    for (c, dst) in col.chunks_mut(plane_out).enumerate() {
        unfold_plane(w, &image[c * plane_in..][..plane_in], dst);
    }
    col
}

/// Sizes every computation uses: groups, output channels and column rows per group, positions,
/// image and output elements per image, and multiply-adds in all.
struct Sizes {
    g: usize,
    ocg: usize,
    kg: usize,
    l: usize,
    image: usize,
    out: usize,
    work: usize,
}

fn sizes(p: &Conv2dPlan) -> Sizes {
    let w = &p.window;
    let (kg, l) = (p.taps_per_group(), w.positions());
    Sizes {
        g: p.groups,
        ocg: p.out_channels_per_group(),
        kg,
        l,
        image: w.channels * w.image[0] * w.image[1],
        out: p.out_channels * l,
        work: w.batch * p.out_channels * kg * l,
    }
}

fn forward<T: Native>(p: &Conv2dPlan, x: &[T], w: &[T], bias: Option<&[T]>) -> Vec<T> {
    let (win, s) = (&p.window, sizes(p));
    let len = win.batch * s.out;
    let mut y = Vec::with_capacity(len);
    // Each image's output is the bias rows plus the product, or the product alone (which gemm
    // then writes whole), so it is not zero-filled first.
    per_image(&mut y.spare_capacity_mut()[..len], s.out, s.work, |n, yn, col, par| {
        let cols = columns(win, &x[n * s.image..][..s.image], col);
        if let Some(b) = bias {
            for (row, &v) in yn.chunks_mut(s.l).zip(b) {
                row.fill(MaybeUninit::new(v));
            }
        }
        for gi in 0..s.g {
            let (dst, lhs, rhs) = (&mut yn[gi * s.ocg * s.l..], &w[gi * s.ocg * s.kg..], &cols[gi * s.kg * s.l..]);
            product([s.ocg, s.l, s.kg], (dst, (s.l, 1)), bias.is_some(), (lhs, (s.kg, 1)), (rhs, (s.l, 1)), par);
        }
    });
    // SAFETY: the groups' products cover every output row of every image.
    unsafe { y.set_len(len) };
    y
}

fn input_grad<T: Native>(p: &Conv2dPlan, dy: &[T], w: &[T], _: Option<&[T]>) -> Vec<T> {
    let (win, s) = (&p.window, sizes(p));
    let mut dx = super::par::filled(win.batch * s.image, T::ZERO);
    let plane_out = win.taps() * s.l;
    per_image(&mut dx, s.image, s.work, |n, dxn, col, par| {
        let dyn_ = &dy[n * s.out..][..s.out];
        let cols: &mut [T] = if win.is_identity() {
            &mut dxn[..]
        } else {
            col.resize(win.channels * plane_out, T::ZERO);
            &mut col[..]
        };
        for gi in 0..s.g {
            // Wᵀ of group gi: element (i, j) is w[gi, j, i].
            let (dst, lhs, rhs) = (&mut cols[gi * s.kg * s.l..], &w[gi * s.ocg * s.kg..], &dyn_[gi * s.ocg * s.l..]);
            product([s.kg, s.l, s.ocg], (as_uninit(dst), (s.l, 1)), false, (lhs, (1, s.kg)), (rhs, (s.l, 1)), par);
        }
        if !win.is_identity() {
            let plane = win.image[0] * win.image[1];
            for (c, src) in col.chunks(plane_out).enumerate() {
                fold_plane(win, src, &mut dxn[c * plane..][..plane]);
            }
        }
    });
    dx
}

fn weight_grad<T: Native>(p: &Conv2dPlan, x: &[T], dy: &[T], _: Option<&[T]>) -> Vec<T> {
    let (win, s) = (&p.window, sizes(p));
    let len = p.out_channels * s.kg;
    // The sum over `images` of dy · columnsᵀ, per group.
    let part = |images: std::ops::Range<usize>, par: Parallelism| {
        let (mut dw, mut col) = (vec![T::ZERO; len], Vec::new());
        for (i, n) in images.enumerate() {
            let cols = columns(win, &x[n * s.image..][..s.image], &mut col);
            for gi in 0..s.g {
                let dst = as_uninit(&mut dw[gi * s.ocg * s.kg..]);
                let (lhs, rhs) = (&dy[n * s.out + gi * s.ocg * s.l..], &cols[gi * s.kg * s.l..]);
                product([s.ocg, s.kg, s.l], (dst, (s.kg, 1)), i > 0, (lhs, (s.l, 1)), (rhs, (1, s.l)), par);
            }
        }
        dw
    };
    let threads = rayon::current_num_threads();
    if s.work < PAR_MIN_FLOPS || threads == 1 || win.batch < 2 {
        let par = if s.work >= PAR_MIN_FLOPS && threads > 1 { Parallelism::Rayon(0) } else { Parallelism::None };
        return part(0..win.batch, par);
    }
    let pieces = threads.min(win.batch);
    let parts: Vec<Vec<T>> = (0..pieces)
        .into_par_iter()
        .map(|t| part(t * win.batch / pieces..(t + 1) * win.batch / pieces, Parallelism::None))
        .collect();
    let mut dw = vec![T::ZERO; len];
    for part in parts {
        for (d, v) in dw.iter_mut().zip(part) {
            *d = *d + v;
        }
    }
    dw
}
