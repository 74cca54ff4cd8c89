//! `sin` and `cos` of `f32`, vectorisable: the argument reduced and the polynomials evaluated in
//! `f64` (half as many lanes a vector, but no extra-precision tricks), each result rounded once
//! to `f32`, within 1 ulp over every finite input.
//!
//! `x = k pi/2 + r` with `k` the nearest integer to `x 2/pi`, and `r` from `pi/2` in three
//! `f64` parts by fused multiply-adds. The first, `x - k P1`, is exact: for `|x| >= 1/2` both
//! terms are multiples of 2^-52 (an `f32` that large has no finer bits, and `P1`'s last bit is
//! 2^-52) and their difference is below 2 in magnitude, so it fits in 53 bits. The other two
//! cost a relative rounding of 2^-53 in `r`, however close `x` lies to a multiple of `pi/2`.
//! That holds while `k` is an exact integer, `|x 2/pi| < 2^51`; beyond [`REDUCED_LIMIT`] (and for
//! infinities and NaN, where [`reduces_f32`] is false) the caller takes the `f64` library
//! function, once per such element, after the vectorised pass.

use super::{horner_f64, ROUND_F64};

/// The largest magnitude that [`sin_cos_reduced_f32`] reduces itself: 2^49.
pub(crate) const REDUCED_LIMIT: f32 = 562_949_953_421_312.0;

/// `pi/2 = P1 + P2 + P3` to about 160 bits, every part positive (`P2` rounded down): for `x = -0`
/// (`k = +0`) each `-k Pi` is then `-0`, and `r` stays `-0` (a negative `P3` made it `+0`).
const PIO2: [f64; 3] = [std::f64::consts::FRAC_PI_2, 6.123_233_995_736_765e-17, 1.082_856_673_921_914e-32];

/// `sin r = r (1 + r^2 S(r^2))` on `|r| <= pi/4` (Taylor to `r^9`: 2e-9 of `r` at `pi/4`).
const SIN: [f64; 4] = [-1.0 / 6.0, 1.0 / 120.0, -1.0 / 5040.0, 1.0 / 362_880.0];
/// `cos r = 1 - r^2/2 + r^4 C(r^2)` on `|r| <= pi/4` (Taylor to `r^10`: 1.2e-10 at `pi/4`).
const COS: [f64; 4] = [1.0 / 24.0, -1.0 / 720.0, 1.0 / 40_320.0, -1.0 / 3_628_800.0];

/// Whether [`sin_cos_reduced_f32`] computes `x`'s sine and cosine: `|x| <= REDUCED_LIMIT`, so
/// not for infinities and NaN.
#[inline(always)]
pub(crate) fn reduces_f32(x: f32) -> bool {
    x.abs() <= REDUCED_LIMIT
}

/// `sin x`, or `cos x` with `cosine`, where [`reduces_f32`] holds; elsewhere the value is
/// meaningless and the caller computes it with [`sin_cos_exact_f32`]. Branch-free, so that a loop
/// over it vectorises.
#[inline(always)]
pub(crate) fn sin_cos_reduced_f32(x: f32, cosine: bool) -> f32 {
    let xd = f64::from(x);
    let shifted = xd.mul_add(std::f64::consts::FRAC_2_PI, ROUND_F64);
    let k = shifted - ROUND_F64;
    // The low bits of the shifted sum are k's (two's complement for negative k): its quadrant,
    // one further on for the cosine, `cos x = sin(x + pi/2)`.
    let quadrant = shifted.to_bits().wrapping_add(u64::from(cosine));
    let r = (-k).mul_add(PIO2[2], (-k).mul_add(PIO2[1], (-k).mul_add(PIO2[0], xd)));
    let r2 = r * r;
    // `r (1 + r^2 S)` rather than `r + r^3 S`: the same in f64 to far below an f32 ulp, and
    // `-0` stays `-0` (with `S(0) < 0`, the product `r^3 S` would be `+0`).
    let sin_r = r * r2.mul_add(horner_f64(r2, &SIN), 1.0);
    let cos_r = (r2 * r2).mul_add(horner_f64(r2, &COS), r2.mul_add(-0.5, 1.0));
    let value = if quadrant & 1 == 0 { sin_r } else { cos_r };
    let value = if quadrant & 2 == 0 { value } else { -value };
    value as f32
}

/// `sin x` or `cos x` through the `f64` library functions, rounded: for the inputs that
/// [`sin_cos_reduced_f32`] leaves.
pub(crate) fn sin_cos_exact_f32(x: f32, cosine: bool) -> f32 {
    let x = f64::from(x);
    (if cosine { x.cos() } else { x.sin() }) as f32
}

/// `sin x` (or with `cosine`, `cos x`) one value at a time, through whichever path the kernels
/// take for `x` (for tests).
#[cfg(test)]
fn sin_cos_f32(x: f32, cosine: bool) -> f32 {
    if reduces_f32(x) {
        sin_cos_reduced_f32(x, cosine)
    } else {
        sin_cos_exact_f32(x, cosine)
    }
}

/// `sin x` one value at a time, both paths (for tests).
#[cfg(test)]
pub(crate) fn sin_f32(x: f32) -> f32 {
    sin_cos_f32(x, false)
}

/// `cos x` one value at a time, both paths (for tests).
#[cfg(test)]
pub(crate) fn cos_f32(x: f32) -> f32 {
    sin_cos_f32(x, true)
}
