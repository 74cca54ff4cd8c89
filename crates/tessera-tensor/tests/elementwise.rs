//! Unary, binary, comparison and `where` ops against naive f64 references, over random shapes
//! (size-0 and size-1 dims included), broadcasting, and non-contiguous views.

mod common;

use common::*;
use proptest::prelude::*;
use tessera_tensor::{BinaryOp, CmpOp, DType, UnaryOp};

/// An output shape and two operand shapes that broadcast to it (leading dims dropped and some
/// dims set to 1 at random).
fn arb_broadcast_pair() -> impl Strategy<Value = (Spec, Spec)> {
    arb_dims(4, 4).prop_flat_map(|out| {
        let rank = out.len();
        let operand = move |out: Vec<usize>| {
            (0..=rank, any::<u8>()).prop_map(move |(drop, ones)| {
                out[drop..]
                    .iter()
                    .enumerate()
                    .map(|(d, &n)| if ones & (1 << d) != 0 { 1 } else { n })
                    .collect::<Vec<_>>()
            })
        };
        (arb_spec_with(operand(out.clone())), arb_spec_with(operand(out)))
    })
}

fn broadcast_dims(a: &[usize], b: &[usize]) -> Vec<usize> {
    try_broadcast(a, b).expect("operands generated to broadcast")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn unary_float_ops_match_reference(spec in arb_spec(4, 5)) {
        for dtype in ALL_FLOATS {
            let (t, r) = spec.build(dtype, -3.0, 3.0);
            for &op in UnaryOp::EXAMPLES {
                let got = t.unary(op).unwrap();
                prop_assert_eq!(got.dtype(), dtype);
                let want = RefArray::new(r.dims.clone(), r.data.iter().map(|&x| round_to(dtype, op.eval_f64(x))).collect());
                let (atol, rtol) = tolerance(dtype);
                assert_close(&got, &want, atol, rtol).map_err(|e| TestCaseError::fail(format!("{op:?} {dtype}: {e}")))?;
            }
        }
    }

    #[test]
    fn unary_int_ops_match_reference(spec in arb_spec(3, 5)) {
        for dtype in [DType::U8, DType::U32, DType::I64] {
            let (t, r) = spec.build(dtype, if dtype == DType::I64 { -50.0 } else { 0.0 }, 50.0);
            for &op in UnaryOp::EXAMPLES {
                if !op.supports(dtype) {
                    prop_assert!(t.unary(op).is_err());
                    continue;
                }
                let got = t.unary(op).unwrap();
                let want = RefArray::new(r.dims.clone(), r.data.iter().map(|&x| round_to(dtype, op.eval_f64(x))).collect());
                assert_close(&got, &want, 0.0, 0.0)?;
            }
        }
    }

    #[test]
    fn binary_ops_broadcast_like_numpy((a, b) in arb_broadcast_pair()) {
        for dtype in ALL_FLOATS {
            let (ta, ra) = a.build(dtype, -3.0, 3.0);
            let (tb, rb) = b.build(dtype, 0.25, 3.0);
            let out = broadcast_dims(&ra.dims, &rb.dims);
            let (ba, bb) = (ra.broadcast_to(&out), rb.broadcast_to(&out));
            for &op in BinaryOp::ALL {
                let got = ta.binary(op, &tb).unwrap();
                let want = RefArray::new(out.clone(), ba.data.iter().zip(&bb.data).map(|(&x, &y)| round_to(dtype, op.eval_f64(x, y))).collect());
                let (atol, rtol) = tolerance(dtype);
                assert_close(&got, &want, atol, rtol).map_err(|e| TestCaseError::fail(format!("{op:?} {dtype}: {e}")))?;
            }
        }
    }

    #[test]
    fn integer_binary_ops_wrap_and_broadcast((a, b) in arb_broadcast_pair()) {
        for dtype in [DType::U8, DType::U32, DType::I64] {
            let (ta, ra) = a.build(dtype, 0.0, 200.0);
            let (tb, rb) = b.build(dtype, 1.0, 9.0);
            let out = broadcast_dims(&ra.dims, &rb.dims);
            let (ba, bb) = (ra.broadcast_to(&out), rb.broadcast_to(&out));
            let modulus = match dtype { DType::U8 => 256.0, DType::U32 => 4294967296.0, _ => f64::INFINITY };
            for op in [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div, BinaryOp::Maximum, BinaryOp::Minimum] {
                let got = ta.binary(op, &tb).unwrap();
                let want = RefArray::new(out.clone(), ba.data.iter().zip(&bb.data).map(|(&x, &y)| {
                    let v = if op == BinaryOp::Div { (x / y).trunc() } else { op.eval_f64(x, y) };
                    if modulus.is_finite() { v.rem_euclid(modulus) } else { v }
                }).collect());
                assert_close(&got, &want, 0.0, 0.0).map_err(|e| TestCaseError::fail(format!("{op:?} {dtype}: {e}")))?;
            }
        }
    }

    #[test]
    fn comparisons_give_u8_masks((a, b) in arb_broadcast_pair()) {
        for dtype in [DType::F32, DType::BF16, DType::I64] {
            // Few distinct values, so that equality happens.
            let (ta, ra) = a.build(dtype, 0.0, 3.0);
            let (tb, rb) = b.build(dtype, 0.0, 3.0);
            let (ta, tb) = (ta.affine(1.0, 0.0).unwrap().unary(UnaryOp::Clamp(0.0, 3.0)).unwrap(), tb);
            let ra = RefArray::new(ra.dims.clone(), ra.data.iter().map(|&x| round_to(dtype, x.clamp(0.0, 3.0))).collect());
            let out = broadcast_dims(&ra.dims, &rb.dims);
            let (ba, bb) = (ra.broadcast_to(&out), rb.broadcast_to(&out));
            for &op in CmpOp::ALL {
                let got = ta.compare(op, &tb).unwrap();
                prop_assert_eq!(got.dtype(), DType::U8);
                let want = RefArray::new(out.clone(), ba.data.iter().zip(&bb.data).map(|(&x, &y)| op.eval(x, y) as u8 as f64).collect());
                assert_close(&got, &want, 0.0, 0.0)?;
            }
        }
    }

    #[test]
    fn where_picks_by_mask((a, b) in arb_broadcast_pair(), m in arb_spec(2, 4)) {
        let (ta, ra) = a.build(DType::F32, -3.0, 3.0);
        let (tb, rb) = b.build(DType::F32, -3.0, 3.0);
        let (tm, rm) = m.build(DType::F32, -1.0, 1.0);
        let mask = tm.gt(&tessera_tensor::Tensor::scalar(0.0, DType::F32, tm.device()).unwrap()).unwrap();
        let expected = try_broadcast(&rm.dims, &broadcast_dims(&ra.dims, &rb.dims));
        let result = mask.where_cond(&ta, &tb);
        let Some(out) = expected else {
            prop_assert!(result.is_err(), "incompatible mask shape {:?} must be an error", rm.dims);
            return Ok(());
        };
        let got = result.unwrap();
        let (bm, ba, bb) = (rm.broadcast_to(&out), ra.broadcast_to(&out), rb.broadcast_to(&out));
        let want = RefArray::new(out.clone(), (0..bm.data.len()).map(|i| if bm.data[i] > 0.0 { ba.data[i] } else { bb.data[i] }).collect());
        assert_close(&got, &want, 0.0, 0.0)?;
    }
}

#[test]
fn nan_propagates_through_maximum_clamp_and_relu() {
    let d = tessera_tensor::Device::Cpu;
    let x = tessera_tensor::Tensor::from_vec(vec![f32::NAN, 1.0], [2], &d).unwrap();
    let y = tessera_tensor::Tensor::from_vec(vec![0.0f32, f32::NAN], [2], &d).unwrap();
    assert!(x.maximum(&y).unwrap().to_vec::<f32>().unwrap().iter().all(|v| v.is_nan()));
    assert!(x.minimum(&y).unwrap().to_vec::<f32>().unwrap().iter().all(|v| v.is_nan()));
    assert!(x.clamp(0.0, 0.5).unwrap().to_vec::<f32>().unwrap()[0].is_nan());
    assert!(x.relu().unwrap().to_vec::<f32>().unwrap()[0].is_nan());
}

#[test]
fn exp_of_large_tensors_matches_reference_on_every_thread_split() {
    // Large enough to take the multithreaded path.
    let n = 300_000;
    let v = values(3, n, -90.0, 90.0);
    let t = tensor_of(DType::F32, &[n], &v);
    let got = t.exp().unwrap().to_vec::<f32>().unwrap();
    for (g, x) in got.iter().zip(&v) {
        let want = ((*x as f32) as f64).exp();
        if want < f32::MAX as f64 && want > 1e-37 {
            assert!(((*g as f64 - want) / want).abs() < 3e-7, "exp({x}) = {g}, want {want}");
        }
    }
}

/// `erf` and `erfc` at known values, past the table's `[-3, 3]`: `erfc`'s tail keeps its relative
/// accuracy where `1 - erf` would be 0, in f32 and f64; a large tensor runs on every thread.
#[test]
fn erf_and_erfc_keep_their_tails() {
    // (x, erf x, erfc x), as Python's `math.erf` and `math.erfc` give them.
    let known = [
        (0.5, 0.520_499_877_813_046_5, 0.479_500_122_186_953_5),
        (-1.5, -0.966_105_146_475_310_7, 1.966_105_146_475_310_7),
        (5.0, 0.999_999_999_998_462_5, 1.537_459_794_428_034_8e-12),
        (9.0, 1.0, 4.137_031_746_513_81e-37),
    ];
    for dtype in [DType::F32, DType::F64] {
        let xs: Vec<f64> = known.iter().map(|k| k.0).collect();
        let t = tensor_of(dtype, &[xs.len()], &xs);
        let erf = t.erf().unwrap().to_dtype(DType::F64).unwrap().to_vec::<f64>().unwrap();
        let erfc = t.erfc().unwrap().to_dtype(DType::F64).unwrap().to_vec::<f64>().unwrap();
        let rtol = if dtype == DType::F32 { 4e-7 } else { 1e-14 };
        for (k, (&e, &c)) in known.iter().zip(erf.iter().zip(&erfc)) {
            assert!((e - k.1).abs() <= rtol * k.1.abs(), "{dtype} erf({}) = {e}, want {}", k.0, k.1);
            assert!((c - k.2).abs() <= rtol * k.2, "{dtype} erfc({}) = {c}, want {}", k.0, k.2);
        }
    }
    let n = 300_000;
    let v = values(5, n, -12.0, 12.0);
    let got = tensor_of(DType::F32, &[n], &v).erfc().unwrap().to_vec::<f32>().unwrap();
    for (g, x) in got.iter().zip(&v) {
        let want = UnaryOp::Erfc.eval_f64((*x as f32) as f64);
        if want > 1e-37 {
            assert!(((*g as f64 - want) / want).abs() < 4e-7, "erfc({x}) = {g}, want {want}");
        }
    }
}

/// `sin` and `cos` past the table's `[-3, 3]`: large arguments, the few the vectorised pass
/// leaves to the library function (huge, infinite, NaN), on a tensor large enough for every
/// thread, in f32 against the `f64` functions rounded.
#[test]
fn sin_and_cos_of_large_and_special_arguments() {
    let n = 300_000;
    let mut v = values(7, n, -1e6, 1e6);
    v[17] = 1e30;
    v[n - 3] = f64::INFINITY;
    v[n / 2] = f64::NAN;
    v[5] = -0.0;
    let t = tensor_of(DType::F32, &[n], &v);
    for (op, f) in [(UnaryOp::Sin, f64::sin as fn(f64) -> f64), (UnaryOp::Cos, f64::cos)] {
        let got = t.unary(op).unwrap().to_vec::<f32>().unwrap();
        for (g, x) in got.iter().zip(&v) {
            let want = f((*x as f32) as f64) as f32;
            let ulp = (want.abs() * f32::EPSILON).max(f32::from_bits(1));
            assert!((g.is_nan() && want.is_nan()) || (g - want).abs() <= ulp, "{op:?}({x}) = {g}, want {want}");
        }
        if op == UnaryOp::Sin {
            assert_eq!(got[5].to_bits(), (-0.0f32).to_bits(), "sin(-0) is -0");
        }
    }
}
