//! Elementwise ops of one operand.

use super::buffer::{expect_dtype, strided_values, CpuBuffer};
use super::simd::multiversion;
use super::{math, par, simd};
use crate::ops::UnaryOp;
use crate::plan::UnaryPlan;
use crate::Result;
use std::mem::MaybeUninit;
use tessera_core::{bf16, f16, Element};

/// Applies the plan's op to every element of its input view; the result is contiguous.
/// Floating-point dtypes compute natively (f16 and bf16 in f32), integers through the op's
/// `f64` definition, saturating back.
pub fn unary(plan: &UnaryPlan, buf: &CpuBuffer) -> Result<CpuBuffer> {
    let (op, layout) = (plan.op, &plan.input);
    expect_dtype(op.name(), plan.dtype, &[buf])?;
    Ok(match buf {
        CpuBuffer::F32(v) => map_float(op, &strided_values(v, layout)).into(),
        CpuBuffer::F64(v) => map_float(op, &strided_values(v, layout)).into(),
        CpuBuffer::F16(v) => via_f32(op, &strided_values(v, layout), f16::to_f32, f16::from_f32).into(),
        CpuBuffer::BF16(v) => via_f32(op, &strided_values(v, layout), bf16::to_f32, bf16::from_f32).into(),
        CpuBuffer::U8(v) => map_int(op, &strided_values(v, layout)).into(),
        CpuBuffer::U32(v) => map_int(op, &strided_values(v, layout)).into(),
        CpuBuffer::I64(v) => map_int(op, &strided_values(v, layout)).into(),
    })
}

/// Maps `xs` through `f` into a new vector, vectorised, on several threads when large.
pub(crate) fn map<T, U, F>(xs: &[T], f: F) -> Vec<U>
where
    T: Copy + Sync,
    U: Send,
    F: Fn(T) -> U + Sync,
{
    par::build_vec(xs.len(), 64, |start, out| simd::map_into(&xs[start..start + out.len()], out, &f))
}

fn via_f32<T: Copy + Sync + Send>(op: UnaryOp, xs: &[T], to: fn(T) -> f32, from: fn(f32) -> T) -> Vec<T> {
    let wide = map(xs, to);
    map(&map_float(op, &wide), from)
}

/// Float math every float kernel needs, with `f32` using the vectorisable fast paths.
pub(crate) trait FloatMath:
    Element
    + std::ops::Neg<Output = Self>
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
{
    fn exp(self) -> Self;
    fn ln(self) -> Self;
    fn sqrt(self) -> Self;
    fn sin(self) -> Self;
    fn cos(self) -> Self;
    fn tanh(self) -> Self;
    fn erf(self) -> Self;
    fn powf(self, p: Self) -> Self;
    fn sigmoid(self) -> Self;
    fn from_f32(v: f32) -> Self;
}

impl FloatMath for f32 {
    #[inline(always)]
    fn exp(self) -> Self {
        math::exp_f32(self)
    }
    fn ln(self) -> Self {
        f32::ln(self)
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        f32::sqrt(self)
    }
    fn sin(self) -> Self {
        f32::sin(self)
    }
    fn cos(self) -> Self {
        f32::cos(self)
    }
    #[inline(always)]
    fn tanh(self) -> Self {
        math::tanh_f32(self)
    }
    #[inline(always)]
    fn erf(self) -> Self {
        math::erf_f32(self)
    }
    fn powf(self, p: Self) -> Self {
        f32::powf(self, p)
    }
    #[inline(always)]
    fn sigmoid(self) -> Self {
        math::sigmoid_f32(self)
    }
    #[inline(always)]
    fn from_f32(v: f32) -> Self {
        v
    }
}

impl FloatMath for f64 {
    fn exp(self) -> Self {
        f64::exp(self)
    }
    fn ln(self) -> Self {
        f64::ln(self)
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }
    fn sin(self) -> Self {
        f64::sin(self)
    }
    fn cos(self) -> Self {
        f64::cos(self)
    }
    fn tanh(self) -> Self {
        f64::tanh(self)
    }
    fn erf(self) -> Self {
        libm::erf(self)
    }
    fn powf(self, p: Self) -> Self {
        f64::powf(self, p)
    }
    fn sigmoid(self) -> Self {
        1.0 / (1.0 + (-self).exp())
    }
    #[inline(always)]
    fn from_f32(v: f32) -> Self {
        v as f64
    }
}

// The GELU family: passed to `map` as closures, their bodies (erf or tanh inlined) grew past
// LLVM's inlining threshold and every element became a scalar call; called directly from
// `gelu_family_into`'s loops they are always inlined and vectorise.
const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;
const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
const GELU_TANH_K: f64 = 0.044715;

#[inline(always)]
fn gelu<T: FloatMath>(x: T) -> T {
    let (half, c) = (T::from_f32(0.5), T::from_f64(std::f64::consts::FRAC_1_SQRT_2));
    half * x * (T::ONE + (x * c).erf())
}

#[inline(always)]
fn gelu_tanh<T: FloatMath>(x: T) -> T {
    let (half, c, k) = (T::from_f32(0.5), T::from_f64(SQRT_2_OVER_PI), T::from_f64(GELU_TANH_K));
    half * x * (T::ONE + (c * (x + k * x * x * x)).tanh())
}

#[inline(always)]
fn gelu_grad<T: FloatMath>(x: T) -> T {
    let (half, c, pdf) = (T::from_f32(0.5), T::from_f64(std::f64::consts::FRAC_1_SQRT_2), T::from_f64(FRAC_1_SQRT_2PI));
    half * (T::ONE + (x * c).erf()) + x * (-half * x * x).exp() * pdf
}

#[inline(always)]
fn gelu_tanh_grad<T: FloatMath>(x: T) -> T {
    let (half, c, k) = (T::from_f32(0.5), T::from_f64(SQRT_2_OVER_PI), T::from_f64(GELU_TANH_K));
    let t = (c * (x + k * x * x * x)).tanh();
    half * (T::ONE + t) + half * x * (T::ONE - t * t) * c * (T::ONE + T::from_f64(3.0) * k * x * x)
}

multiversion! {
    /// `dst = op(src)` for the GELU family's ops.
    fn gelu_family_into<T>(op: UnaryOp, src: &[T], dst: &mut [MaybeUninit<T>])
    where T: FloatMath
    {
        macro_rules! each {
            ($f:ident) => {
                for (o, &x) in dst.iter_mut().zip(src) {
                    o.write($f(x));
                }
            };
        }
        match op {
            UnaryOp::Gelu => each!(gelu),
            UnaryOp::GeluTanh => each!(gelu_tanh),
            UnaryOp::GeluGrad => each!(gelu_grad),
            UnaryOp::GeluTanhGrad => each!(gelu_tanh_grad),
            _ => unreachable!("only the GELU family is routed here"),
        }
    }
}

pub(crate) fn map_float<T: FloatMath>(op: UnaryOp, xs: &[T]) -> Vec<T> {
    let zero = T::ZERO;
    let one = T::ONE;
    match op {
        UnaryOp::Neg => map(xs, |x: T| -x),
        UnaryOp::Abs => map(xs, |x: T| if x < zero { -x } else { x }),
        UnaryOp::Exp => map(xs, T::exp),
        UnaryOp::Log => map(xs, T::ln),
        UnaryOp::Sqrt => map(xs, T::sqrt),
        UnaryOp::Recip => map(xs, |x: T| one / x),
        UnaryOp::Square => map(xs, |x: T| x * x),
        UnaryOp::Sin => map(xs, T::sin),
        UnaryOp::Cos => map(xs, T::cos),
        UnaryOp::Tanh => map(xs, T::tanh),
        UnaryOp::Sigmoid => map(xs, T::sigmoid),
        UnaryOp::Relu => map(xs, |x: T| if x < zero { zero } else { x }),
        UnaryOp::Gelu | UnaryOp::GeluTanh | UnaryOp::GeluGrad | UnaryOp::GeluTanhGrad => {
            par::build_vec(xs.len(), 64, |start, out| gelu_family_into(op, &xs[start..start + out.len()], out))
        }
        UnaryOp::Silu => map(xs, |x: T| x * x.sigmoid()),
        UnaryOp::Powf(p) => {
            let p = T::from_f64(p);
            map(xs, |x: T| x.powf(p))
        }
        UnaryOp::Clamp(lo, hi) => {
            let (lo, hi) = (T::from_f64(lo), T::from_f64(hi));
            // Comparisons rather than min/max so that NaN passes through, as in PyTorch.
            map(xs, |x: T| {
                if x < lo {
                    lo
                } else if x > hi {
                    hi
                } else {
                    x
                }
            })
        }
        UnaryOp::Affine(a, b) => {
            let (a, b) = (T::from_f64(a), T::from_f64(b));
            map(xs, |x: T| a * x + b)
        }
    }
}

/// An integer op through its `f64` definition (the plan checked that the op supports the dtype).
fn map_int<T: Element + Sync + Send>(op: UnaryOp, xs: &[T]) -> Vec<T> {
    map(xs, |x: T| T::from_f64(op.eval_f64(x.to_f64())))
}
