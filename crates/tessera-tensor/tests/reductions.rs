//! Reductions, softmax and log-softmax against naive references.

mod common;

use common::*;
use proptest::prelude::*;
use tessera_tensor::{DType, ReduceOp};

/// Reduces `r` over `dims` with `f` (a fold of the values along the reduced dims).
fn reference(r: &RefArray, dims: &[usize], keepdim: bool, f: impl Fn(&[f64]) -> f64) -> RefArray {
    let out_full: Vec<usize> = r.dims.iter().enumerate().map(|(d, &n)| if dims.contains(&d) { 1 } else { n }).collect();
    let red_dims: Vec<usize> = dims.iter().map(|&d| r.dims[d]).collect();
    let out = RefArray::from_fn(out_full.clone(), |o| {
        let vals: Vec<f64> = indices(&red_dims)
            .iter()
            .map(|ri| {
                let mut idx = o.to_vec();
                for (k, &d) in dims.iter().enumerate() {
                    idx[d] = ri[k];
                }
                r.at(&idx)
            })
            .collect();
        f(&vals)
    });
    if keepdim {
        return out;
    }
    let kept: Vec<usize> = r.dims.iter().enumerate().filter(|(d, _)| !dims.contains(d)).map(|(_, &n)| n).collect();
    RefArray::new(kept, out.data)
}

fn arb_reduction() -> impl Strategy<Value = (Spec, Vec<usize>, bool)> {
    arb_spec(4, 4).prop_flat_map(|spec| {
        let rank = spec.dims.len();
        (Just(spec), prop::collection::btree_set(0..rank.max(1), 0..=rank), any::<bool>())
            .prop_map(move |(s, d, k)| (s, d.into_iter().filter(|&x| x < rank).collect(), k))
    })
}

fn sum(v: &[f64]) -> f64 {
    v.iter().sum()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn sum_mean_max_min_over_any_dims((spec, dims, keepdim) in arb_reduction()) {
        let idims: Vec<isize> = dims.iter().map(|&d| d as isize).collect();
        let all: Vec<usize> = if dims.is_empty() { (0..spec.dims.len()).collect() } else { dims.clone() };
        for dtype in ALL_FLOATS {
            let (t, r) = spec.build(dtype, -3.0, 3.0);
            let n: usize = all.iter().map(|&d| r.dims[d]).product();
            let kept: usize = (0..r.dims.len()).filter(|d| !all.contains(d)).map(|d| r.dims[d]).product();
            let (atol, rtol) = tolerance(dtype);
            let scale = (n as f64).max(1.0);
            for op in [ReduceOp::Sum, ReduceOp::Mean, ReduceOp::Max, ReduceOp::Min] {
                let got = t.reduce(op, &idims, keepdim);
                if matches!(op, ReduceOp::Max | ReduceOp::Min) && n == 0 && kept > 0 {
                    prop_assert!(got.is_err(), "{:?} over an empty dim must be an error", op);
                    continue;
                }
                if matches!(op, ReduceOp::Max | ReduceOp::Min) && n == 0 {
                    continue;
                }
                let got = got.unwrap();
                let want = match op {
                    ReduceOp::Sum => reference(&r, &all, keepdim, sum),
                    ReduceOp::Mean => reference(&r, &all, keepdim, |v| sum(v) / v.len() as f64),
                    ReduceOp::Max => reference(&r, &all, keepdim, |v| v.iter().cloned().fold(f64::MIN, f64::max)),
                    ReduceOp::Min => reference(&r, &all, keepdim, |v| v.iter().cloned().fold(f64::MAX, f64::min)),
                };
                let want = RefArray::new(want.dims.clone(), want.data.iter().map(|&x| round_to(dtype, x)).collect());
                assert_close(&got, &want, atol * scale * 3.0, rtol * 2.0).map_err(|e| TestCaseError::fail(format!("{op:?} {dtype}: {e}")))?;
            }
        }
    }

    #[test]
    fn integer_sums_are_i64((spec, dims, keepdim) in arb_reduction()) {
        let idims: Vec<isize> = dims.iter().map(|&d| d as isize).collect();
        let all: Vec<usize> = if dims.is_empty() { (0..spec.dims.len()).collect() } else { dims.clone() };
        let (t, r) = spec.build(DType::U8, 0.0, 255.0);
        let got = t.sum(&idims, keepdim).unwrap();
        prop_assert_eq!(got.dtype(), DType::I64);
        assert_close(&got, &reference(&r, &all, keepdim, sum), 0.0, 0.0)?;
    }

    #[test]
    fn var_matches_two_pass_reference((spec, dims, keepdim) in arb_reduction(), correction in 0usize..2) {
        let idims: Vec<isize> = dims.iter().map(|&d| d as isize).collect();
        let all: Vec<usize> = if dims.is_empty() { (0..spec.dims.len()).collect() } else { dims.clone() };
        let (t, r) = spec.build(DType::F64, -3.0, 3.0);
        let got = t.variance(&idims, keepdim, correction).unwrap();
        let want = reference(&r, &all, keepdim, |v| {
            let m = sum(v) / v.len() as f64;
            v.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (v.len() as f64 - correction as f64)
        });
        assert_close(&got, &want, 1e-10, 1e-10)?;
    }

    #[test]
    fn argmax_argmin_pick_first_extreme(spec in arb_spec(3, 4), dim_seed in any::<usize>(), keepdim in any::<bool>()) {
        prop_assume!(!spec.dims.is_empty());
        let dim = dim_seed % spec.dims.len();
        // Few distinct values, so that ties happen.
        let (t, r) = spec.build(DType::F32, 0.0, 3.0);
        let t = t.unary(tessera_tensor::UnaryOp::Affine(1.0, 0.0)).unwrap();
        if spec.dims[dim] == 0 {
            prop_assert!(t.argmax(dim as isize, keepdim).is_err());
            return Ok(());
        }
        for greater in [true, false] {
            let got = if greater { t.argmax(dim as isize, keepdim) } else { t.argmin(dim as isize, keepdim) }.unwrap();
            prop_assert_eq!(got.dtype(), DType::I64);
            let want = reference(&r, &[dim], keepdim, |v| {
                let mut best = 0;
                for (i, &x) in v.iter().enumerate() {
                    if (greater && x > v[best]) || (!greater && x < v[best]) { best = i; }
                }
                best as f64
            });
            assert_close(&got, &want, 0.0, 0.0)?;
        }
    }

    #[test]
    fn softmax_and_log_softmax_are_stable(spec in arb_spec(4, 5), dim_seed in any::<usize>(), shift in -500.0f64..500.0) {
        prop_assume!(!spec.dims.is_empty());
        let dim = dim_seed % spec.dims.len();
        for dtype in ALL_FLOATS {
            let (t, r) = spec.build(dtype, -4.0, 4.0);
            // A large common shift must not overflow: softmax is shift-invariant.
            let shift = if dtype == DType::F64 || dtype == DType::F32 { shift } else { 0.0 };
            let t = t.add_scalar(shift).unwrap();
            let r = RefArray::new(r.dims.clone(), r.data.iter().map(|&x| round_to(dtype, x + shift)).collect());
            let lse = |idx: &[usize]| {
                let vals: Vec<f64> = (0..r.dims[dim]).map(|k| { let mut i = idx.to_vec(); i[dim] = k; r.at(&i) }).collect();
                let m = vals.iter().cloned().fold(f64::MIN, f64::max);
                m + vals.iter().map(|v| (v - m).exp()).sum::<f64>().ln()
            };
            let want_log = RefArray::from_fn(r.dims.clone(), |i| r.at(i) - lse(i));
            let want = RefArray::new(r.dims.clone(), want_log.data.iter().map(|x| x.exp()).collect());
            let (atol, rtol) = tolerance(dtype);
            // Inputs near 500 in f32 carry absolute rounding of ~3e-5.
            let atol = if dtype == DType::F32 { atol + 1e-4 } else { atol * 2.0 };
            assert_close(&t.softmax(dim as isize).unwrap(), &want, atol, rtol * 2.0)?;
            assert_close(&t.log_softmax(dim as isize).unwrap(), &want_log, atol * 4.0, rtol * 4.0)?;
        }
    }
}

#[test]
fn large_reductions_agree_across_the_parallel_paths() {
    // [300, 700] takes the threaded paths for every reduction layout.
    let (rows, cols) = (300, 700);
    let v = values(9, rows * cols, -1.0, 1.0);
    let t = tensor_of(DType::F32, &[rows, cols], &v);
    let r = RefArray::new(vec![rows, cols], v.iter().map(|&x| x as f32 as f64).collect());
    for dims in [vec![0], vec![1], vec![0, 1]] {
        let idims: Vec<isize> = dims.iter().map(|&d| d as isize).collect();
        let got = t.sum(&idims, false).unwrap();
        let want = reference(&r, &dims, false, sum);
        assert_close(&got, &want, 1e-3, 1e-5).unwrap();
        let got = t.max(&idims, false).unwrap();
        let want = reference(&r, &dims, false, |v| v.iter().cloned().fold(f64::MIN, f64::max));
        assert_close(&got, &want, 0.0, 0.0).unwrap();
    }
    let sm = t.softmax(1).unwrap().sum(&[1], false).unwrap().to_vec::<f32>().unwrap();
    assert!(sm.iter().all(|s| (s - 1.0).abs() < 1e-5));
}

#[test]
fn softmax_of_all_minus_infinity_row_is_nan_free_for_finite_rows() {
    let d = tessera_tensor::Device::Cpu;
    let t = tessera_tensor::Tensor::from_vec(vec![f32::NEG_INFINITY, 0.0, 1e30, -1e30], [2, 2], &d).unwrap();
    let s = t.softmax(1).unwrap().to_vec::<f32>().unwrap();
    assert_eq!(s, vec![0.0, 1.0, 1.0, 0.0]);
}

#[test]
fn a_nan_anywhere_in_a_row_makes_that_row_nan_and_no_other() {
    let d = tessera_tensor::Device::Cpu;
    // Rows of 19: the NaN in an eight-lane chunk (row 0) and in the remainder (row 1); row 2 clean.
    let mut v: Vec<f32> = (0..57).map(|i| (i % 7) as f32 - 3.0).collect();
    v[5] = f32::NAN;
    v[19 + 18] = f32::NAN;
    let t = tessera_tensor::Tensor::from_vec(v, [3, 19], &d).unwrap();
    for s in [t.softmax(1).unwrap(), t.log_softmax(1).unwrap()] {
        let s = s.to_vec::<f32>().unwrap();
        assert!(s[..38].iter().all(|x| x.is_nan()), "rows with a NaN are NaN");
        assert!(s[38..].iter().all(|x| x.is_finite()), "the clean row is finite");
    }
}
