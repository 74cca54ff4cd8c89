//! Branch-free `f32` math that LLVM vectorises: `exp`, `ln`, `tanh`, `sigmoid`, the normal
//! distribution with its density, the error function and its complement, and (in [`trig`] and
//! [`pow`]) `sin`, `cos` and `x^p`.
//!
//! Every polynomial is evaluated with [`f32::mul_add`], which the AVX2 and AVX-512 copies of the
//! loops (see `simd::multiversion`) compile to one fused multiply-add per coefficient: half the
//! instructions of separate multiplies and adds, which Rust never contracts on its own, and one
//! rounding fewer. On a CPU without FMA `mul_add` is a library call, slow but equally exact.
//!
//! Error bounds are measured against the `f64` function rounded to `f32`, as the distance in units
//! in the last place (ulp) between that and the result, over **every** finite `f32` input:
//! `cargo test -p tessera-kernels --release --lib -- --ignored every_f32_input` reruns the
//! exhaustive count (about 25 minutes on two cores); the default test run checks the same bounds on a million inputs spread over
//! all bit patterns, and the special values.
//!
//! | function | max error | where the worst case lies |
//! |---|---|---|
//! | [`exp_f32`] | 1 ulp | |
//! | [`ln_f32`] | 1 ulp | |
//! | [`tanh_f32`] | 6 ulp | near 1 (`|x|` above 4); at most 3 ulp below 2 in magnitude |
//! | [`sigmoid_f32`] | 3 ulp | |
//! | [`normal_cdf_pdf_f32`]: `Phi` | 5 ulp | the tail (`x` near -8.85); relative accuracy kept down to the underflow |
//! | [`normal_cdf_pdf_f32`]: `phi` | 3 ulp | the tail (`x` near -12.9) |
//! | [`erf_f32`] | 1 ulp | |
//! | [`erfc_f32`] | 5 ulp | the tail (`x` near 6.48); relative accuracy kept down to the underflow |
//! | `sin`, `cos` ([`trig`]) | 1 ulp | |
//! | `pow` ([`pow`]) | 1 ulp | of two arguments, so measured on 2M pairs and C's special cases, not every input |
//!
//! The polynomial coefficients were fitted for this file (minimax in relative error by Lawson's
//! iteration, then checked in `f32`; `Phi`'s by `tools/fit_normal_cdf.py`, `erf`'s by
//! `tools/fit_erf.py`).

/// `e^r` on `|r| <= ln2 / 2`: the degree-7 Taylor polynomial (error 5.3e-9 relative).
///
/// A degree-6 minimax fit (3.1e-9, one fused multiply-add fewer) was tried and left out: it
/// changes results in their last bits, and `tessera-train`'s test that two data-parallel ranks
/// train the LSTM language model as one process then drifted to 1.2e-5 of a weight's scale
/// (4.0e-6 with this polynomial), past the test's 1e-5. Both are rounding-order drift, but the
/// saving was one instruction of about twenty.
const EXP_POLY: [f32; 8] = [1.0, 1.0, 0.5, 1.0 / 6.0, 1.0 / 24.0, 1.0 / 120.0, 1.0 / 720.0, 1.0 / 5040.0];

/// `x = n ln2 + r` with `|r| <= ln2 / 2`: `r` and the integer `n`, for `x` in `[-150, 88.8]`
/// (NaN gives NaN for `r`).
#[inline(always)]
fn exp_reduce(x: f32) -> (f32, i32) {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    const ROUND: f32 = 12_582_912.0; // 1.5 * 2^23: adding it rounds to an integer
    let shifted = x.mul_add(LOG2E, ROUND);
    let n = shifted - ROUND;
    // The integer n read from the rounded float's low bits: a saturating `as i32` would not
    // vectorise.
    let ni = shifted.to_bits() as i32 - ROUND.to_bits() as i32;
    ((-n).mul_add(LN2_LO, (-n).mul_add(LN2_HI, x)), ni)
}

/// `2^e` for `e` in `[-126, 127]`, from its exponent bits.
#[inline(always)]
fn pow2(e: i32) -> f32 {
    f32::from_bits(((e + 127) as u32) << 23)
}

/// `e^x`, within 1 ulp; NaN and infinities handled, results down into the subnormal range.
///
/// Range reduction `x = n ln2 + r` with `|r| <= ln2 / 2`, the polynomial [`EXP_POLY`] for `e^r`,
/// and `2^n` built from the exponent bits.
#[inline(always)]
pub(crate) fn exp_f32(x: f32) -> f32 {
    // Below -104 the result rounds to 0; above 88.8 to infinity. The clamp keeps NaN, and so
    // does every step after it.
    exp_in_range_f32(x.clamp(-104.0, 88.8))
}

/// [`exp_f32`] for `x` in `[-150, 88.8]` or NaN, without its clamp: the same bits (0 below
/// -104 either way), two instructions fewer, for callers whose argument cannot leave that range.
/// With it, and no select for NaN, [`normal_cdf_pdf_f32`] made GELU and its gradient about 8%
/// faster on a Zen 5, on AVX2 and on AVX-512.
#[inline(always)]
fn exp_in_range_f32(x: f32) -> f32 {
    let (r, n) = exp_reduce(x);
    // 2^n as two factors, each a normal float, so results down to the subnormal range and up to
    // infinity come out right without a branch.
    let half = n >> 1;
    horner(r, &EXP_POLY) * pow2(half) * pow2(n - half)
}

/// `e^x` where that is a normal `f32` (`x >= -86`), 0 below (`-inf` included), NaN for NaN: for
/// weights relative to a row's maximum or its log-sum-exp, where a value under 4.4e-38 cannot
/// matter, without the subnormal results whose every multiply costs a microcode assist of a
/// hundred cycles or more (a masked softmax entry at `-inf` would take two). The same bits as
/// [`exp_f32`] where not flushed, in fewer instructions: with `n` at least -124, `2^n` is one
/// normal factor, taken as `2^(n - 1)` times a polynomial with doubled coefficients (exact, as
/// doubling is) so that `n = 128`, just below `f32::MAX`, needs no second one.
#[inline(always)]
pub(crate) fn exp_flushed_f32(x: f32) -> f32 {
    const FLOOR: f32 = -86.0;
    const DOUBLED: [f32; 8] = {
        let mut c = EXP_POLY;
        let mut i = 0;
        while i < c.len() {
            c[i] *= 2.0;
            i += 1;
        }
        c
    };
    // The clamped exp is multiplied by 0 or 1 rather than selected: with a select, LLVM may
    // drop the clamp for the lanes whose result it discards, the very lanes it guards.
    let keep = if x < FLOOR { 0.0 } else { 1.0 };
    let low = if x < FLOOR { FLOOR } else { x };
    let (r, n) = exp_reduce(if low > 88.8 { 88.8 } else { low });
    horner(r, &DOUBLED) * pow2(n - 1) * keep
}

/// The natural logarithm, within 1 ulp: NaN below zero, `-inf` at zero, subnormal inputs exact.
///
/// `x = 2^e m` with `m` in `[sqrt(1/2), sqrt(2))`; with `f = m - 1`,
/// `ln(1 + f) = f - f^2 / 2 + f^3 R(f)`, `R` a degree-6 minimax polynomial, and `e ln2` added in
/// two parts so that no rounding of `ln2` shows. `e` and `m` come from one integer subtraction:
/// the bits of `x` less those of `sqrt(1/2)`, shifted, are `e`, with no compare on `m`; the
/// special inputs (zero, negative, infinite, NaN) are one range test. Against halving `m` above
/// `sqrt(2)` under a compare and testing each special value, 1M values on one Zen 5 thread: the
/// loop alone 0.28 -> 0.23 ms, `Tensor::log` 288 -> 261 µs.
#[inline(always)]
pub(crate) fn ln_f32(x: f32) -> f32 {
    const R: [f32; 7] =
        [0.333_339_12, -0.250_013_4, 0.199_630_17, -0.165_774_12, 0.149_151_38, -0.142_691_28, 0.087_014_88];
    const LN2_HI: f32 = 0.693_359_4; // ln 2 to 10 bits, so that e * LN2_HI is exact
    const LN2_LO: f32 = -2.121_944_4e-4;
    const SQRT_HALF_BITS: i32 = 0x3f35_04f3;
    // Subnormals are scaled into the normal range first (2^23) and the exponent corrected.
    let subnormal = x < f32::MIN_POSITIVE;
    let scaled = if subnormal { x * 8_388_608.0 } else { x };
    let bits = scaled.to_bits() as i32;
    // `k` is the exponent of `scaled / sqrt(1/2)`, rounded down: `scaled / 2^k` lies in
    // `[sqrt(1/2), sqrt(2))`, and subtracting `k` from the exponent field divides by it.
    // (Wrapping: the lanes of negative inputs overflow, and their result is discarded.)
    let k = bits.wrapping_sub(SQRT_HALF_BITS) >> 23;
    let m = f32::from_bits(bits.wrapping_sub(k << 23) as u32);
    let e = (k - if subnormal { 23 } else { 0 }) as f32;
    let f = m - 1.0;
    let f2 = f * f;
    let tail = e.mul_add(LN2_LO, (f2 * f) * horner(f, &R));
    let y = e.mul_add(LN2_HI, f2.mul_add(-0.5, tail) + f);
    if x > 0.0 && x < f32::INFINITY {
        y
    } else if x == 0.0 {
        f32::NEG_INFINITY
    } else if x == f32::INFINITY {
        x
    } else {
        f32::NAN
    }
}

/// `tanh(x)`, within 6 ulp (3 below 2 in magnitude), exactly ±1 from `|x| = 9` on.
///
/// A rational minimax approximation `x P(x^2) / Q(x^2)` with `P` and `Q` of degree 4: no `exp`
/// and one division, about three times faster than `1 - 2 / (e^2x + 1)`. Its own error is below
/// 2.1e-8 relative; the rest is the rounding of the two polynomials.
#[inline(always)]
pub(crate) fn tanh_f32(x: f32) -> f32 {
    const P: [f32; 5] = [1.0, 0.133_810_52, 0.003_495_618_5, 2.060_955_2e-5, 1.335_524_7e-8];
    const Q: [f32; 5] = [1.0, 0.467_143_68, 0.025_877_1, 3.285_683_3e-4, 7.776_812e-7];
    let c = x.clamp(-9.0, 9.0);
    let t = c * c;
    let y = c * horner(t, &P) / horner(t, &Q);
    if x.is_nan() {
        x
    } else if t >= 81.0 {
        1f32.copysign(x)
    } else {
        y
    }
}

/// `1 / (1 + e^-x)`, within 3 ulp, written as `e^x / (1 + e^x)` for negative `x` so that the
/// small values of the negative tail keep their relative accuracy.
#[inline(always)]
pub(crate) fn sigmoid_f32(x: f32) -> f32 {
    let e = exp_f32(-x.abs());
    let r = 1.0 / (1.0 + e);
    if x < 0.0 {
        e * r
    } else {
        r
    }
}

/// The standard normal distribution `Phi(x)` and its density `phi(x) = e^(-x^2/2) / sqrt(2 pi)`,
/// computed together, since GELU's backward needs both (Phi within 5 ulp, phi within 3, over
/// every finite input); `Phi` keeps its relative accuracy down the whole negative tail, where
/// `(1 + erf(x / sqrt 2)) / 2` would cancel.
///
/// With `z = |x|` and `t = 1 / (1 + 5z/16)`, `Phi(-z) = t Q(t) e^(-z^2/2)`, `Q` a degree-9
/// polynomial fitted for this file (minimax in relative error on `z` in `[0, 14.5]` by Lawson's
/// iteration, its coefficients rounded to `f32` one at a time with the rest refitted: 1.2e-8, by
/// `tools/fit_normal_cdf.py`); `Phi(z) = 1 - Phi(-z)`.
/// The Gaussian factor is shared with the density, and the rounding of `z^2` is carried into it
/// as a first-order correction: in the tail the exponent reaches -104, where an error of `d` in
/// it is a relative error of `d` in the result.
#[inline(always)]
pub(crate) fn normal_cdf_pdf_f32(x: f32) -> (f32, f32) {
    const K: f32 = 0.3125;
    const Q: [f32; 10] = [
        0.124_665_35,
        0.124_750_58,
        0.111_881_4,
        0.090_099_13,
        0.055_518_024,
        -0.002_509_914_8,
        0.074_271_046,
        -0.151_086_06,
        0.091_436_99,
        -0.019_026_546,
    ];
    const FRAC_1_SQRT_2PI: f32 = 0.398_942_3;
    // Phi(-14.5) rounds to 0; the clamp keeps infinities out of the arithmetic and lets NaN
    // through (its compare is false for NaN), so both results are NaN for NaN with no select.
    let a = x.abs();
    let z = if a > 14.5 { 14.5 } else { a };
    let z2 = z * z;
    let z2_err = z.mul_add(z, -z2); // z^2 = z2 + z2_err exactly
    let gauss = exp_in_range_f32(-0.5 * z2);
    let gauss = gauss.mul_add(-0.5 * z2_err, gauss);
    // Near z = 0 the result is 2.5 times as sensitive to t as t is to 1 + Kz, whose rounding
    // would cost up to 3 ulp: t is taken as 1 / (r + r_err), the sum's rounding error included,
    // with the division's residual `d` as a first-order correction.
    let r = K.mul_add(z, 1.0);
    let r_err = K.mul_add(z, 1.0 - r); // 1 - r is exact up to r = 2, where this matters
    let t = 1.0 / r;
    let d = (-t).mul_add(r, 1.0);
    let t = t.mul_add((-r_err).mul_add(t, d), t);
    let lower = t * horner(t, &Q) * gauss;
    let cdf = if x < 0.0 { lower } else { 1.0 - lower };
    (cdf, gauss * FRAC_1_SQRT_2PI)
}

/// `erfc(|x|)`, through `erfc(a) = 2 Phi(-a sqrt 2)`; the rounding of
/// `a sqrt 2` (`y + y_err` exactly, `sqrt 2` itself in two parts) is carried in as a first-order
/// correction `y_err phi(y)`: in the tail `Phi`'s relative sensitivity to its argument is about
/// `y^2`, 200 at `y = -14`.
#[inline(always)]
fn erfc_tail_f32(x: f32) -> f32 {
    const SQRT_2_HI: f32 = std::f32::consts::SQRT_2;
    const SQRT_2_LO: f32 = 2.420_323_2e-8; // sqrt 2 - SQRT_2_HI
                                           // erfc(10.5) is below the smallest subnormal; the clamp keeps infinities out of the
                                           // arithmetic (NaN is the caller's).
    let a = x.abs().min(10.5);
    let y = -a * SQRT_2_HI;
    let y_err = (-a).mul_add(SQRT_2_LO, (-a).mul_add(SQRT_2_HI, -y));
    let (cdf, pdf) = normal_cdf_pdf_f32(y);
    2.0 * y_err.mul_add(pdf, cdf)
}

/// The error function `erf(x) = 2/sqrt(pi) ∫_0^x e^(-t^2) dt`, within 1 ulp over every
/// finite input; odd (`erf(-0) = -0`), ±1 from `|x|` about 3.92 on.
///
/// Below 1 in magnitude, `x + x P(x^2)`, `P` a degree-6 polynomial fitted for this file by
/// `tools/fit_erf.py` (minimax in relative error by Lawson's iteration, its coefficients rounded
/// to `f32` one at a time with the rest refitted: 1.4e-9; its constant term is `2/sqrt(pi) - 1`,
/// since rounding `2/sqrt(pi)` itself would cost 0.9 ulp); from 1 on, `1 - erfc(|x|)` with the
/// sign of `x`, where `erfc(|x|) <= 0.16` and its error shrinks by that factor.
#[inline(always)]
pub(crate) fn erf_f32(x: f32) -> f32 {
    const P: [f32; 7] =
        [0.128_379_17, -0.376_126_26, 0.112_835_79, -0.026_853_347, 0.005_187_162, -7.997_853e-4, 7.806_903e-5];
    let small = x.mul_add(horner(x * x, &P), x);
    let large = (1.0 - erfc_tail_f32(x)).copysign(x);
    if x.is_nan() {
        x
    } else if x.abs() < 1.0 {
        small
    } else {
        large
    }
}

/// The complementary error function `erfc(x) = 1 - erf(x)`, within 5 ulp over every finite
/// input, without the cancellation of `1 - erf(x)`: the tail keeps its relative accuracy down to
/// the underflow (from `x` about 10.05, 0 from 10.06). `erfc(-x) = 2 - erfc(x)`.
#[inline(always)]
pub(crate) fn erfc_f32(x: f32) -> f32 {
    let tail = erfc_tail_f32(x);
    if x.is_nan() {
        x
    } else if x < 0.0 {
        2.0 - tail
    } else {
        tail
    }
}

/// `c[0] + x (c[1] + x (c[2] + ...))` with one fused multiply-add per coefficient.
#[inline(always)]
fn horner<const N: usize>(x: f32, c: &[f32; N]) -> f32 {
    c[..N - 1].iter().rev().fold(c[N - 1], |acc, &k| acc.mul_add(x, k))
}

/// [`horner`] in `f64`, for the functions of `f32` computed in `f64` ([`trig`], [`pow`]).
#[inline(always)]
fn horner_f64<const N: usize>(x: f64, c: &[f64; N]) -> f64 {
    c[..N - 1].iter().rev().fold(c[N - 1], |acc, &k| acc.mul_add(x, k))
}

/// 1.5 * 2^52: adding it to an `f64` below 2^51 in magnitude rounds to an integer, which the
/// sum's low bits then hold (two's complement for negative ones).
const ROUND_F64: f64 = 6_755_399_441_055_744.0;

mod pow;
mod trig;
pub(crate) use pow::pow_f32;
#[cfg(test)]
pub(crate) use trig::{cos_f32, sin_f32, REDUCED_LIMIT};
pub(crate) use trig::{reduces_f32, sin_cos_exact_f32, sin_cos_reduced_f32};

#[cfg(test)]
mod tests;
