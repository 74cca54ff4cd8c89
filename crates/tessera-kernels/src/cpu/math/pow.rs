//! `x^p` of `f32`, vectorisable: `e^(p ln|x|)` with the logarithm and the exponential in `f64`,
//! rounded once to `f32` (within 1 ulp of the `f64` power on the pairs the tests draw), and the
//! special cases of C's `powf` (which PyTorch follows) chosen without a branch.
//!
//! In `f64` neither function needs extra-precision tricks: an error `d` in `p ln|x|` is a relative
//! error `d` in the result, and `ln` is kept to 5e-11 relative (with `|p ln|x||` at most about 104
//! before the result leaves the `f32` range, `d` stays near 5e-9 at worst), the exponential to
//! 5.3e-9: a tenth of the 6e-8 of one `f32` ulp, so that only results that close to a rounding
//! boundary can round the other way. Subnormal `f32` inputs are normal `f64`s, and the final
//! conversion rounds subnormal and overflowing results as `f32` arithmetic would.

use super::{horner_f64, ROUND_F64};

const LN2: f64 = std::f64::consts::LN_2;

/// `ln(1 + f) = 2 atanh(s) = 2s + 2s z R(z)` with `s = f / (2 + f)`, `z = s^2`: the series'
/// coefficients `1/3, 1/5, ..., 1/11`. With `|s| <= 0.1716` the first term left out is 5e-11 of
/// the sum.
const ATANH: [f64; 5] = [1.0 / 3.0, 1.0 / 5.0, 1.0 / 7.0, 1.0 / 9.0, 1.0 / 11.0];

/// `e^r` on `|r| <= ln2 / 2`: Taylor to `r^7` (5.3e-9 relative, a tenth of an `f32` ulp).
const EXP: [f64; 8] = [1.0, 1.0, 1.0 / 2.0, 1.0 / 6.0, 1.0 / 24.0, 1.0 / 120.0, 1.0 / 720.0, 1.0 / 5040.0];

/// `ln a` for `a >= 0` (an `f32` magnitude): `-inf` at 0, `inf` at infinity, NaN for NaN.
#[inline(always)]
fn ln_magnitude(a: f32) -> f64 {
    const SQRT_HALF_BITS: i64 = 0x3fe6_a09e_667f_3bcd;
    let ad = f64::from(a);
    let bits = ad.to_bits() as i64;
    // `ad = 2^k m` with `m` in `[sqrt(1/2), sqrt(2))`, as in `ln_f32` (wrapping: the lanes of 0
    // and infinity give nonsense, replaced below).
    let k = bits.wrapping_sub(SQRT_HALF_BITS) >> 52;
    let m = f64::from_bits(bits.wrapping_sub(k << 52) as u64);
    let f = m - 1.0;
    let s = f / (2.0 + f);
    let z = s * s;
    let ln_m = (2.0 * s * z).mul_add(horner_f64(z, &ATANH), 2.0 * s);
    // `k` as a float through the bits of `1.5 * 2^52 + k` (AVX2 has no vector conversion from
    // i64).
    let k = f64::from_bits((ROUND_F64.to_bits() as i64).wrapping_add(k) as u64) - ROUND_F64;
    let y = k.mul_add(LN2, ln_m);
    if a == 0.0 {
        f64::NEG_INFINITY
    } else if a == f32::INFINITY || a.is_nan() {
        ad
    } else {
        y
    }
}

/// `e^y` rounded to `f32`: 0 below the subnormal range, infinity above `f32::MAX`, NaN for NaN.
#[inline(always)]
fn exp_to_f32(y: f64) -> f32 {
    // ln 2 - LN2.
    const LN2_LO: f64 = 2.319_046_813_846_299_6e-17;
    // e^-110 and e^90 already round to 0 and infinity in `f32`; the clamp keeps NaN.
    let y = y.clamp(-110.0, 90.0);
    let shifted = y.mul_add(std::f64::consts::LOG2_E, ROUND_F64);
    let n = shifted - ROUND_F64;
    let r = (-n).mul_add(LN2_LO, (-n).mul_add(LN2, y));
    let scale = f64::from_bits(((shifted.to_bits() as i64 - ROUND_F64.to_bits() as i64 + 1023) << 52) as u64);
    (horner_f64(r, &EXP) * scale) as f32
}

/// `x^p` as C's `powf`: 1 when `p` is 0 or `x` is 1 (NaN included), and for `x = -1` with an
/// infinite `p`; NaN for a finite negative `x` and a `p` that is not an integer; the sign of `x`
/// kept for odd integer `p` (`-0` and `-inf` included); zeros and infinities by the limits of
/// `|x|^p`.
#[inline(always)]
pub(crate) fn pow_f32(x: f32, p: f32) -> f32 {
    let a = x.abs();
    let magnitude = exp_to_f32(f64::from(p) * ln_magnitude(a));
    let integer = p == p.trunc();
    let half = p * 0.5;
    let odd = integer && half != half.trunc();
    if p == 0.0 || x == 1.0 || (a == 1.0 && p.is_infinite()) {
        1.0
    } else if x < 0.0 && x.is_finite() && !integer {
        f32::NAN
    } else if x.is_sign_negative() && odd {
        -magnitude
    } else {
        magnitude
    }
}
