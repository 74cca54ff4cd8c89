//! Branch-free scalar math that LLVM can vectorise.

/// `e^x` for `f32`, within 2 ulp of the correctly rounded result, NaN and infinities handled.
///
/// Range reduction `x = n ln2 + r` with `|r| <= ln2 / 2`, a degree-7 Taylor polynomial for `e^r`,
/// and `2^n` built from the exponent bits. No branches, so a loop of it vectorises.
#[inline(always)]
pub(crate) fn exp_f32(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    const ROUND: f32 = 12_582_912.0; // 1.5 * 2^23: adding it rounds to an integer
                                     // Below -104 the result rounds to 0; above 88.8 to infinity.
    let xc = x.clamp(-104.0, 88.8);
    let shifted = xc * LOG2E + ROUND;
    let n = shifted - ROUND;
    // The integer n read from the rounded float's low bits: a saturating `as i32` would not
    // vectorise.
    let ni = shifted.to_bits() as i32 - ROUND.to_bits() as i32;
    let r = (xc - n * LN2_HI) - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    // 2^n as two factors, each a normal float, so results down to the subnormal range and up to
    // infinity come out right without a branch.
    let half = ni >> 1;
    let s1 = f32::from_bits(((half + 127) as u32) << 23);
    let s2 = f32::from_bits(((ni - half + 127) as u32) << 23);
    let y = p * s1 * s2;
    if x.is_nan() {
        x
    } else {
        y
    }
}

/// `tanh(x)` for `f32`, branch-free so a loop of it vectorises: a Taylor polynomial below 0.3
/// in magnitude (where `1 - 2 / (e^2x + 1)` would cancel), that formula above.
#[inline(always)]
pub(crate) fn tanh_f32(x: f32) -> f32 {
    let a = x.abs();
    let a2 = a * a;
    let small = a
        * (1.0
            + a2 * (-1.0 / 3.0
                + a2 * (2.0 / 15.0 + a2 * (-17.0 / 315.0 + a2 * (62.0 / 2835.0 + a2 * (-1382.0 / 155_925.0))))));
    let large = 1.0 - 2.0 / (exp_f32(2.0 * a) + 1.0);
    let t = if a < 0.3 { small } else { large };
    if x.is_nan() {
        x
    } else {
        t.copysign(x)
    }
}

/// `1 / (1 + e^-x)` for `f32`.
#[inline(always)]
pub(crate) fn sigmoid_f32(x: f32) -> f32 {
    1.0 / (1.0 + exp_f32(-x))
}

/// `erf(x)` for `f32`, branch-free so a loop of it vectorises: its Maclaurin series below 0.5 in
/// magnitude (relative accuracy near 0), above that `1 - erfc(|x|)` with the Chebyshev-fitted
/// `erfc` of Numerical Recipes (fractional error below 1.2e-7).
#[inline(always)]
#[allow(clippy::excessive_precision)] // the published coefficients, as printed
pub(crate) fn erf_f32(x: f32) -> f32 {
    const TWO_OVER_SQRT_PI: f32 = std::f32::consts::FRAC_2_SQRT_PI;
    let a = x.abs();
    let a2 = a * a;
    let small = TWO_OVER_SQRT_PI
        * a
        * (1.0
            + a2 * (-1.0 / 3.0
                + a2 * (1.0 / 10.0
                    + a2 * (-1.0 / 42.0 + a2 * (1.0 / 216.0 + a2 * (-1.0 / 1320.0 + a2 * (1.0 / 9360.0)))))));
    let t = 1.0 / (1.0 + 0.5 * a);
    let poly = -1.265_512_2
        + t * (1.000_023_7
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let erfc = t * exp_f32(poly - a2);
    let e = if a < 0.5 { small } else { 1.0 - erfc };
    if x.is_nan() {
        x
    } else {
        e.copysign(x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_accurate_over_the_whole_range() {
        let mut x = -110.0f32;
        while x < 90.0 {
            let want = (x as f64).exp();
            let got = exp_f32(x) as f64;
            if want < f32::MAX as f64 && want > f32::MIN_POSITIVE as f64 {
                assert!(((got - want) / want).abs() < 3e-7, "exp({x}) = {got}, want {want}");
            }
            x += 0.0137;
        }
        assert_eq!(exp_f32(f32::INFINITY), f32::INFINITY);
        assert_eq!(exp_f32(f32::NEG_INFINITY), 0.0);
        assert!(exp_f32(f32::NAN).is_nan());
        assert_eq!(exp_f32(0.0), 1.0);
    }

    #[test]
    fn tanh_is_accurate_on_both_branches() {
        let mut x = -12.0f32;
        while x < 12.0 {
            let want = (x as f64).tanh();
            let got = tanh_f32(x) as f64;
            assert!((got - want).abs() <= 5e-7 * want.abs() + 1e-37, "tanh({x}) = {got}, want {want}");
            x += 0.00731;
        }
        assert_eq!(tanh_f32(f32::INFINITY), 1.0);
        assert_eq!(tanh_f32(f32::NEG_INFINITY), -1.0);
        assert!(tanh_f32(f32::NAN).is_nan());
        assert_eq!(tanh_f32(-0.0).to_bits(), (-0.0f32).to_bits());
    }

    #[test]
    fn erf_is_accurate_including_the_negative_tail() {
        let mut x = -9.0f32;
        while x < 9.0 {
            let want = libm::erf(x as f64);
            let got = erf_f32(x) as f64;
            assert!((got - want).abs() <= 3e-7 * want.abs() + 1e-40, "erf({x}) = {got}, want {want}");
            x += 0.00917;
        }
        assert_eq!(erf_f32(f32::INFINITY), 1.0);
        assert_eq!(erf_f32(f32::NEG_INFINITY), -1.0);
        assert!(erf_f32(f32::NAN).is_nan());
        assert_eq!(erf_f32(0.0), 0.0);
    }
}
