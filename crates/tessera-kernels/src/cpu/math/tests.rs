//! Error bounds of the `f32` math against `f64` references, in ulp.

use super::*;

/// Distance in ulp between two `f32`s (0 for two NaNs, `u64::MAX` for one NaN), counting across
/// zero, the subnormals and up to infinity.
fn ulp_distance(a: f32, b: f32) -> u64 {
    if a.is_nan() || b.is_nan() {
        return if a.is_nan() && b.is_nan() { 0 } else { u64::MAX };
    }
    let ordered = |v: f32| {
        let i = v.to_bits() as i32;
        i64::from(if i < 0 { i32::MIN - i } else { i })
    };
    (ordered(a) - ordered(b)).unsigned_abs()
}

/// The worst ulp error of `f` against `reference` (rounded to `f32`) over the finite inputs
/// among `bits`, with the input where it occurs.
fn worst(f: fn(f32) -> f32, reference: fn(f64) -> f64, bits: impl Iterator<Item = u32>) -> (u64, f32) {
    bits.map(f32::from_bits)
        .filter(|x| x.is_finite())
        .map(|x| (ulp_distance(f(x), reference(f64::from(x)) as f32), x))
        .max_by_key(|&(d, _)| d)
        .unwrap_or((0, 0.0))
}

/// About a million bit patterns spread over all of them (a prime stride, so every exponent and
/// many mantissas), plus every input in `[-2, 2]` at a spacing of 2^-16.
fn spread() -> impl Iterator<Item = u32> {
    let stride = (0..=u32::MAX / 4099).map(|k| k * 4099);
    let dense = (-131_072..=131_072).map(|k| (k as f32 / 65_536.0).to_bits());
    stride.chain(dense)
}

fn sigmoid_f64(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

fn normal_cdf_f32(x: f32) -> f32 {
    normal_cdf_pdf_f32(x).0
}

fn normal_pdf_f32(x: f32) -> f32 {
    normal_cdf_pdf_f32(x).1
}

fn normal_cdf_f64(x: f64) -> f64 {
    0.5 * libm::erfc(-x * std::f64::consts::FRAC_1_SQRT_2)
}

fn normal_pdf_f64(x: f64) -> f64 {
    (-0.5 * x * x).exp() / (2.0 * std::f64::consts::PI).sqrt()
}

/// A function, its `f64` reference and the bound in ulp that `math.rs` documents.
type Bound = (&'static str, fn(f32) -> f32, fn(f64) -> f64, u64);

const BOUNDS: [Bound; 10] = [
    ("exp", exp_f32, f64::exp, 1),
    ("ln", ln_f32, f64::ln, 1),
    ("tanh", tanh_f32, f64::tanh, 6),
    ("sigmoid", sigmoid_f32, sigmoid_f64, 3),
    ("normal_cdf", normal_cdf_f32, normal_cdf_f64, 5),
    ("normal_pdf", normal_pdf_f32, normal_pdf_f64, 3),
    ("erf", erf_f32, libm::erf, 1),
    ("erfc", erfc_f32, libm::erfc, 5),
    ("sin", sin_f32, f64::sin, 1),
    ("cos", cos_f32, f64::cos, 1),
];

#[test]
fn every_function_keeps_its_documented_bound_on_a_spread_of_inputs() {
    for (name, f, reference, bound) in BOUNDS {
        let (err, at) = worst(f, reference, spread());
        assert!(err <= bound, "{name}: {err} ulp at {at:e}, documented bound {bound}");
    }
}

/// The unclamped `exp` that `normal_cdf_pdf_f32` takes gives `exp_f32`'s bits over the range it
/// claims: a spread of inputs, and every input between -150 and -100 a thousandth apart.
#[test]
fn exp_in_range_is_exp_where_it_applies() {
    let near_zero_result = (0..=50_000).map(|k| (-100.0 - k as f32 / 1000.0).to_bits());
    for bits in spread().chain(near_zero_result) {
        let x = f32::from_bits(bits);
        if (-150.0..=88.8).contains(&x) {
            assert_eq!(exp_in_range_f32(x).to_bits(), exp_f32(x).to_bits(), "at {x:e}");
        }
    }
    assert!(exp_in_range_f32(f32::NAN).is_nan());
}

#[test]
fn tanh_is_within_three_ulp_below_two() {
    let (err, at) = worst(tanh_f32, f64::tanh, (0..=(2 << 20)).map(|k| (k as f32 / (1 << 20) as f32).to_bits()));
    assert!(err <= 3, "tanh: {err} ulp at {at:e}");
}

/// Every finite `f32` input: minutes in a release build, so only on request.
#[test]
#[ignore = "exhaustive: run with --release -- --ignored every_f32_input"]
fn every_f32_input_is_within_the_documented_bound() {
    for (name, f, reference, bound) in BOUNDS {
        let (err, at) = std::thread::scope(|s| {
            let quarters: Vec<_> = (0..4u64)
                .map(|q| s.spawn(move || worst(f, reference, ((q << 30)..((q + 1) << 30)).map(|b| b as u32))))
                .collect();
            quarters.into_iter().map(|h| h.join().expect("no panic")).max_by_key(|&(d, _)| d).unwrap_or((0, 0.0))
        });
        println!("{name}: max {err} ulp at {at:e}");
        assert!(err <= bound, "{name}: {err} ulp at {at:e}, documented bound {bound}");
    }
}

#[test]
fn special_values() {
    let inf = f32::INFINITY;
    for f in
        [exp_f32, ln_f32, tanh_f32, sigmoid_f32, normal_cdf_f32, normal_pdf_f32, erf_f32, erfc_f32, sin_f32, cos_f32]
    {
        assert!(f(f32::NAN).is_nan());
    }
    assert_eq!((exp_f32(inf), exp_f32(-inf), exp_f32(0.0)), (inf, 0.0, 1.0));
    assert_eq!(exp_f32(-104.0), 0.0);
    assert_eq!(exp_f32(89.0), inf);
    assert_eq!((ln_f32(inf), ln_f32(0.0), ln_f32(-0.0), ln_f32(1.0)), (inf, -inf, -inf, 0.0));
    assert!(ln_f32(-1.0).is_nan() && ln_f32(-inf).is_nan());
    assert_eq!(ln_f32(f32::from_bits(1)), (f64::from(f32::from_bits(1))).ln() as f32);
    assert_eq!((tanh_f32(inf), tanh_f32(-inf), tanh_f32(9.0), tanh_f32(-1e30)), (1.0, -1.0, 1.0, -1.0));
    assert_eq!(tanh_f32(-0.0).to_bits(), (-0.0f32).to_bits());
    assert_eq!(tanh_f32(1e-30), 1e-30);
    assert_eq!((sigmoid_f32(inf), sigmoid_f32(-inf), sigmoid_f32(0.0)), (1.0, 0.0, 0.5));
    assert_eq!(sigmoid_f32(-100.0), (-100f64).exp() as f32);
    assert_eq!(
        (normal_cdf_f32(inf), normal_cdf_f32(-inf), normal_cdf_f32(0.0), normal_cdf_f32(-0.0)),
        (1.0, 0.0, 0.5, 0.5)
    );
    assert_eq!((normal_cdf_f32(-14.5), normal_cdf_f32(9.0)), (0.0, 1.0));
    assert_eq!((normal_pdf_f32(inf), normal_pdf_f32(-inf), normal_pdf_f32(0.0)), (0.0, 0.0, 0.398_942_3));
    assert_eq!((erf_f32(inf), erf_f32(-inf), erf_f32(0.0), erf_f32(4.0), erf_f32(-1e30)), (1.0, -1.0, 0.0, 1.0, -1.0));
    assert_eq!(erf_f32(-0.0).to_bits(), (-0.0f32).to_bits());
    assert_eq!(erf_f32(1e-30), libm::erf(1e-30f64) as f32);
    assert_eq!(
        (erfc_f32(inf), erfc_f32(-inf), erfc_f32(0.0), erfc_f32(-0.0), erfc_f32(-4.0)),
        (0.0, 2.0, 1.0, 1.0, 2.0)
    );
    assert_eq!((erfc_f32(10.06), erfc_f32(1e30)), (0.0, 0.0));
    assert!(erfc_f32(10.0) > 0.0, "erfc keeps its tail down to the subnormals");
    assert!([sin_f32(inf), sin_f32(-inf), cos_f32(inf), cos_f32(-inf)].iter().all(|v| v.is_nan()));
    assert_eq!((sin_f32(0.0), cos_f32(0.0), cos_f32(-0.0)), (0.0, 1.0, 1.0));
    assert_eq!(sin_f32(-0.0).to_bits(), (-0.0f32).to_bits());
    assert_eq!(sin_f32(1e-30), 1e-30);
    // Past the reduction's limit the library function answers: the largest f32 and its neighbours.
    for x in [f32::MAX, -f32::MAX, 1e30, REDUCED_LIMIT, f32::from_bits(REDUCED_LIMIT.to_bits() + 1)] {
        assert_eq!(sin_f32(x), f64::from(x).sin() as f32, "sin {x:e}");
        assert_eq!(cos_f32(x), f64::from(x).cos() as f32, "cos {x:e}");
    }
}

#[test]
fn exp_flushed_is_exp_down_to_the_normal_range_and_zero_below() {
    let inf = f32::INFINITY;
    let largest = f32::MAX.ln();
    let edges = [-86.0f32, -85.9, -40.0, -1.5, 0.0, 3.0, 88.0, 88.5, largest, f32::from_bits(largest.to_bits() + 1)];
    let in_range = spread().map(f32::from_bits).filter(|x| (-86.0..=88.8).contains(x));
    for x in edges.into_iter().chain(in_range) {
        assert_eq!(exp_flushed_f32(x).to_bits(), exp_f32(x).to_bits(), "{x}");
        assert!(exp_flushed_f32(x).is_normal() || exp_flushed_f32(x) == inf, "{x}");
    }
    assert_eq!(exp_flushed_f32(largest), (f64::from(largest)).exp() as f32, "just below f32::MAX");
    for x in [-86.01f32, -87.5, -100.0, -1e30, -inf] {
        assert_eq!(exp_flushed_f32(x), 0.0, "{x}");
    }
    assert!(exp_flushed_f32(f32::NAN).is_nan());
    assert_eq!(exp_flushed_f32(inf), inf);
}

/// `pow_f32` against the `f64` power rounded, on a grid of bases and exponents of every
/// magnitude (both signs, integers odd and even, halves, the special values) and on random
/// pairs whose results stay in the normal range.
#[test]
fn pow_is_within_one_ulp_and_keeps_powfs_special_cases() {
    let reference = |x: f32, p: f32| f64::from(x).powf(f64::from(p)) as f32;
    let inf = f32::INFINITY;
    let specials = [0.0, -0.0, 1.0, -1.0, 0.5, -0.5, 2.0, -2.0, 3.0, -3.0, 1e-40, 1e30, -7.5, inf, -inf, f32::NAN];
    let mut worst = (0, 0.0, 0.0);
    for &x in &specials {
        for &p in &specials {
            let (got, want) = (pow_f32(x, p), reference(x, p));
            let same = got.to_bits() == want.to_bits() || (got.is_nan() && want.is_nan());
            assert!(same, "pow({x:e}, {p:e}) = {got:e}, want {want:e}");
        }
    }
    let mut state = 0x2545_f491_4f6c_dd1du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut normal = 0;
    for _ in 0..2_000_000 {
        let bits = next();
        let x = f32::from_bits(bits as u32);
        // Exponents of every size, a third of them integers.
        let p = match bits >> 62 {
            0 => ((bits >> 32) as u16 as i16 >> 6) as f32,
            1 => f32::from_bits((bits >> 32) as u32 & 0x87ff_ffff | 0x3800_0000),
            _ => f32::from_bits((bits >> 32) as u32),
        };
        // Every other pair moderate, so that most results are normal numbers rather than 0, 1 or
        // infinity: a base `±e^u` with `|u| < 11`, an exponent below 8 in magnitude or an integer
        // in `-16..16`.
        let (x, p) = if bits & 1 == 0 {
            (x, p)
        } else {
            let uniform = |shift: u32| (bits >> shift) as u16 as f32 / 65_536.0 - 0.5;
            let p = if bits & 2 == 0 { ((bits >> 40) as u8 as i8 >> 3) as f32 } else { uniform(40) * 16.0 };
            ((uniform(8) * 22.0).exp().copysign(x), p)
        };
        if !x.is_finite() || !p.is_finite() {
            continue;
        }
        let err = ulp_distance(pow_f32(x, p), reference(x, p));
        normal += usize::from(reference(x, p).is_normal() && reference(x, p).abs() != 1.0);
        if err > worst.0 {
            worst = (err, x, p);
        }
    }
    assert!(worst.0 <= 1, "pow: {} ulp at ({:e}, {:e})", worst.0, worst.1, worst.2);
    assert!(normal > 750_000, "only {normal} pairs with normal results");
}
