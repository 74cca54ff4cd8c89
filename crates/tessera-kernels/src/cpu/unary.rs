//! Elementwise ops of one operand.

use super::buffer::{expect_dtype, strided_values, CpuBuffer};
use super::half::Half;
use super::simd::multiversion;
use super::{math, par, simd};
use crate::ops::UnaryOp;
use crate::plan::UnaryPlan;
use crate::Result;
use std::mem::MaybeUninit;
use tessera_core::Element;

/// Applies the plan's op to every element of its input view; the result is contiguous.
/// Floating-point dtypes compute natively (f16 and bf16 in f32), integers through the op's
/// `f64` definition, saturating back.
pub fn unary(plan: &UnaryPlan, buf: &CpuBuffer) -> Result<CpuBuffer> {
    let (op, layout) = (plan.op, &plan.input);
    expect_dtype(op.name(), plan.dtype, &[buf])?;
    Ok(match buf {
        CpuBuffer::F32(v) => map_float(op, &strided_values(v, layout)).into(),
        CpuBuffer::F64(v) => map_float(op, &strided_values(v, layout)).into(),
        CpuBuffer::F16(v) => via_f32(op, &strided_values(v, layout)).into(),
        CpuBuffer::BF16(v) => via_f32(op, &strided_values(v, layout)).into(),
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

fn via_f32<T: Half>(op: UnaryOp, xs: &[T]) -> Vec<T> {
    T::narrow(&map_float(op, &T::widen(xs)))
}

/// Float math every float kernel needs, with `f32` using the vectorisable fast paths.
pub(crate) trait FloatMath:
    Element
    + std::ops::Neg<Output = Self>
    + std::ops::Add<Output = Self>
    + std::ops::Sub<Output = Self>
    + std::ops::Mul<Output = Self>
    + std::ops::Div<Output = Self>
    + super::simd::Select
{
    fn exp(self) -> Self;
    /// `exp`, with results below the smallest normal `f32` flushed to 0 (see
    /// [`math::exp_flushed_f32`]; `f64` keeps them, it has no such cost).
    fn exp_flushed(self) -> Self;
    fn ln(self) -> Self;
    fn sqrt(self) -> Self;
    /// `sin self`, or `cos self` with `cosine`, where [`sin_cos_reduces`](Self::sin_cos_reduces)
    /// holds (see [`math::sin_cos_reduced_f32`]); elsewhere the value is meaningless and
    /// [`sin_cos_exact`](Self::sin_cos_exact) gives it.
    fn sin_cos(self, cosine: bool) -> Self;
    fn sin_cos_reduces(self) -> bool;
    fn sin_cos_exact(self, cosine: bool) -> Self;
    fn tanh(self) -> Self;
    /// The standard normal distribution function and density at `self`, `(Phi, phi)`.
    fn normal_cdf_pdf(self) -> (Self, Self);
    fn erf(self) -> Self;
    fn erfc(self) -> Self;
    fn powf(self, p: Self) -> Self;
    fn sigmoid(self) -> Self;
    fn from_f32(v: f32) -> Self;
}

impl FloatMath for f32 {
    #[inline(always)]
    fn exp(self) -> Self {
        math::exp_f32(self)
    }
    #[inline(always)]
    fn exp_flushed(self) -> Self {
        math::exp_flushed_f32(self)
    }
    #[inline(always)]
    fn ln(self) -> Self {
        math::ln_f32(self)
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        f32::sqrt(self)
    }
    #[inline(always)]
    fn sin_cos(self, cosine: bool) -> Self {
        math::sin_cos_reduced_f32(self, cosine)
    }
    #[inline(always)]
    fn sin_cos_reduces(self) -> bool {
        math::reduces_f32(self)
    }
    fn sin_cos_exact(self, cosine: bool) -> Self {
        math::sin_cos_exact_f32(self, cosine)
    }
    #[inline(always)]
    fn tanh(self) -> Self {
        math::tanh_f32(self)
    }
    #[inline(always)]
    fn normal_cdf_pdf(self) -> (Self, Self) {
        math::normal_cdf_pdf_f32(self)
    }
    #[inline(always)]
    fn erf(self) -> Self {
        math::erf_f32(self)
    }
    #[inline(always)]
    fn erfc(self) -> Self {
        math::erfc_f32(self)
    }
    #[inline(always)]
    fn powf(self, p: Self) -> Self {
        math::pow_f32(self, p)
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
    fn exp_flushed(self) -> Self {
        f64::exp(self)
    }
    fn ln(self) -> Self {
        f64::ln(self)
    }
    #[inline(always)]
    fn sqrt(self) -> Self {
        f64::sqrt(self)
    }
    fn sin_cos(self, cosine: bool) -> Self {
        self.sin_cos_exact(cosine)
    }
    fn sin_cos_reduces(self) -> bool {
        true
    }
    fn sin_cos_exact(self, cosine: bool) -> Self {
        if cosine {
            f64::cos(self)
        } else {
            f64::sin(self)
        }
    }
    fn tanh(self) -> Self {
        f64::tanh(self)
    }
    fn normal_cdf_pdf(self) -> (Self, Self) {
        let cdf = 0.5 * libm::erfc(-self * std::f64::consts::FRAC_1_SQRT_2);
        (cdf, (-0.5 * self * self).exp() * FRAC_1_SQRT_2PI)
    }
    fn erf(self) -> Self {
        libm::erf(self)
    }
    fn erfc(self) -> Self {
        libm::erfc(self)
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

// The GELU family, the error functions and the power: passed to `map` as closures, their bodies
// (Phi, exp or ln inlined) grew past LLVM's inlining threshold and every element became a scalar
// call (the power's compiled without FMA, its fused multiply-adds library calls: 40 ms a million);
// called directly from `large_body_into`'s loops they are always inlined and vectorise.
const FRAC_1_SQRT_2PI: f64 = 0.398_942_280_401_432_7;
const SQRT_2_OVER_PI: f64 = 0.797_884_560_802_865_4;
const GELU_TANH_K: f64 = 0.044715;

/// `x Phi(x)`, `Phi` the standard normal distribution function, computed without the
/// cancellation of `x (1 + erf(x / sqrt 2)) / 2` for negative `x`.
#[inline(always)]
fn gelu<T: FloatMath>(x: T) -> T {
    x * x.normal_cdf_pdf().0
}

/// `0.5 x (1 + tanh(u))`, `u = sqrt(2/pi) (x + 0.044715 x^3)`, as `x sigmoid(2u)`: the same
/// value without the cancellation of `1 + tanh(u)` for negative `x`.
#[inline(always)]
fn gelu_tanh<T: FloatMath>(x: T) -> T {
    x * (T::from_f32(2.0) * gelu_tanh_arg(x)).sigmoid()
}

#[inline(always)]
fn gelu_tanh_arg<T: FloatMath>(x: T) -> T {
    let (c, k) = (T::from_f64(SQRT_2_OVER_PI), T::from_f64(GELU_TANH_K));
    c * (x + k * x * x * x)
}

#[inline(always)]
pub(super) fn gelu_grad<T: FloatMath>(x: T) -> T {
    let (cdf, pdf) = x.normal_cdf_pdf();
    cdf + x * pdf
}

/// The derivative of [`gelu_tanh`], `0.5 (1 + tanh(u)) + 0.5 x (1 - tanh(u)^2) u'`, through
/// `e = exp(-2|u|)` and `r = 1 / (1 + e)`: `sigmoid(2u)` is `r` for `u >= 0` and `e r` below, and
/// `0.5 (1 - tanh(u)^2) = 2 e r^2`, so neither term cancels.
#[inline(always)]
pub(super) fn gelu_tanh_grad<T: FloatMath>(x: T) -> T {
    let (c, k, two) = (T::from_f64(SQRT_2_OVER_PI), T::from_f64(GELU_TANH_K), T::from_f32(2.0));
    let u = gelu_tanh_arg(x);
    let negative = u < T::ZERO;
    let e = (two * if negative { u } else { -u }).exp();
    let r = T::ONE / (T::ONE + e);
    let s = if negative { e * r } else { r };
    s + two * x * e * r * r * c * (T::ONE + T::from_f64(3.0) * k * x * x)
}

multiversion! {
    /// `dst = op(src)` for the GELU family's ops, the error functions and the power.
    fn large_body_into<T>(op: UnaryOp, src: &[T], dst: &mut [MaybeUninit<T>])
    where T: FloatMath
    {
        macro_rules! each {
            ($f:expr) => {
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
            UnaryOp::Erf => each!(T::erf),
            UnaryOp::Erfc => each!(T::erfc),
            UnaryOp::Powf(p) => {
                let p = T::from_f64(p);
                each!(|x: T| x.powf(p))
            }
            _ => unreachable!("only the ops with large bodies are routed here"),
        }
    }
}

multiversion! {
    /// `dst = sin(src)`, or `cos` with `cosine`: one vectorised pass, then the rare inputs it
    /// cannot reduce (huge, infinite or NaN) one by one, when there are any.
    fn sin_cos_into<T>(cosine: bool, src: &[T], dst: &mut [MaybeUninit<T>])
    where T: FloatMath
    {
        let mut all_reduced = true;
        for (o, &x) in dst.iter_mut().zip(src) {
            all_reduced &= x.sin_cos_reduces();
            o.write(x.sin_cos(cosine));
        }
        if !all_reduced {
            for (o, &x) in dst.iter_mut().zip(src) {
                if !x.sin_cos_reduces() {
                    o.write(x.sin_cos_exact(cosine));
                }
            }
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
        UnaryOp::Sin | UnaryOp::Cos => {
            let cosine = op == UnaryOp::Cos;
            par::build_vec(xs.len(), 64, |start, out| sin_cos_into(cosine, &xs[start..start + out.len()], out))
        }
        UnaryOp::Tanh => map(xs, T::tanh),
        UnaryOp::Sigmoid => map(xs, T::sigmoid),
        UnaryOp::Relu => map(xs, |x: T| if x < zero { zero } else { x }),
        UnaryOp::Gelu
        | UnaryOp::GeluTanh
        | UnaryOp::GeluGrad
        | UnaryOp::GeluTanhGrad
        | UnaryOp::Erf
        | UnaryOp::Erfc
        | UnaryOp::Powf(_) => {
            par::build_vec(xs.len(), 64, |start, out| large_body_into(op, &xs[start..start + out.len()], out))
        }
        UnaryOp::Silu => map(xs, |x: T| x * x.sigmoid()),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn gelu_tanh_f64(x: f64) -> f64 {
        x / (1.0 + (-2.0 * gelu_tanh_arg(x)).exp())
    }

    /// The f32 GELU family against f64 over [-12, 12], including the negative tail where
    /// `1 + erf` and `1 + tanh` would cancel: relative error, with the gradients' two terms each
    /// bounding the error of the sum (they cancel near the gradient's zero at x = -0.75), and
    /// the tanh form's magnification of the rounding of its argument allowed for (the exact
    /// form rounds no argument: `Phi` takes `x` itself).
    #[test]
    fn gelu_family_is_accurate_in_the_negative_tail() {
        for i in -12_000..=12_000 {
            let x = i as f32 / 1000.0;
            let xd = f64::from(x);
            let (cdf, pdf) = xd.normal_cdf_pdf();
            let h = 1e-6;
            let tanh_grad = (gelu_tanh_f64(xd + h) - gelu_tanh_f64(xd - h)) / (2.0 * h);
            // How much sigmoid(2u) magnifies the rounding of its argument in the tail: by |2u|,
            // twice that for the roundings of u.
            let sigmoid_cond = 4.0 * gelu_tanh_arg(xd).abs();
            let cases = [
                ("gelu", f64::from(gelu(x)), xd * cdf, 0.0, 0.0),
                ("gelu_tanh", f64::from(gelu_tanh(x)), gelu_tanh_f64(xd), 0.0, sigmoid_cond),
                ("gelu_grad", f64::from(gelu_grad(x)), cdf + xd * pdf, cdf + xd.abs() * pdf, 0.0),
                (
                    "gelu_tanh_grad",
                    f64::from(gelu_tanh_grad(x)),
                    gelu_tanh_grad(xd),
                    tanh_grad.abs() + 1.0,
                    sigmoid_cond,
                ),
            ];
            for (name, got, want, terms, cond) in cases {
                let want = want as f32 as f64; // what f32 can hold: the far tail of gelu_tanh is 0
                                               // Subnormal factors keep only absolute precision (a step of 1.4e-45, times x).
                let tol = (1e-6 + 1.2e-7 * cond) * want.abs() + 2e-7 * terms + 3e-45 * (1.0 + xd.abs());
                assert!((got - want).abs() <= tol, "{name}({x}) = {got}, want {want}");
            }
        }
    }
}
