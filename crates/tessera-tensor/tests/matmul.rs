//! Matmul against a naive triple loop: 2-D, batched with broadcast batch dims, and operands that
//! are transposed or narrowed views.

mod common;

use common::*;
use proptest::prelude::*;
use tessera_tensor::DType;

fn naive(a: &RefArray, b: &RefArray) -> RefArray {
    let (ra, rb) = (a.dims.len(), b.dims.len());
    let (m, k, n) = (a.dims[ra - 2], a.dims[ra - 1], b.dims[rb - 1]);
    let batch = try_broadcast(&a.dims[..ra - 2], &b.dims[..rb - 2]).unwrap();
    let mut ad = batch.clone();
    ad.extend([m, k]);
    let mut bd = batch.clone();
    bd.extend([k, n]);
    let (a, b) = (a.broadcast_to(&ad), b.broadcast_to(&bd));
    let mut od = batch.clone();
    od.extend([m, n]);
    RefArray::from_fn(od, |i| {
        let r = i.len();
        (0..k)
            .map(|kk| {
                let mut ia = i.to_vec();
                ia[r - 1] = kk;
                let mut ib = i.to_vec();
                ib[r - 2] = kk;
                a.at(&ia) * b.at(&ib)
            })
            .sum()
    })
}

/// Operand shapes `[batch_a.., m, k]` and `[batch_b.., k, n]` with broadcastable batches.
fn arb_operands() -> impl Strategy<Value = (Spec, Spec)> {
    (arb_dims(2, 3), 0..6usize, 0..6usize, 0..6usize, 0..3usize, any::<u8>(), any::<u8>()).prop_flat_map(
        |(batch, m, k, n, drop, ones_a, ones_b)| {
            let ba: Vec<usize> =
                batch.iter().enumerate().map(|(d, &x)| if ones_a & (1 << d) != 0 { 1 } else { x }).collect();
            let bb: Vec<usize> = batch[drop.min(batch.len())..]
                .iter()
                .enumerate()
                .map(|(d, &x)| if ones_b & (1 << d) != 0 { 1 } else { x })
                .collect();
            let mut da = ba;
            da.extend([m, k]);
            let mut db = bb;
            db.extend([k, n]);
            (arb_spec_with(Just(da)), arb_spec_with(Just(db)))
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn matmul_matches_naive_loops((a, b) in arb_operands()) {
        for dtype in ALL_FLOATS {
            let (ta, ra) = a.build(dtype, -2.0, 2.0);
            let (tb, rb) = b.build(dtype, -2.0, 2.0);
            let got = ta.matmul(&tb).unwrap();
            let want = naive(&ra, &rb);
            let k = ra.dims[ra.dims.len() - 1] as f64;
            let want = RefArray::new(want.dims.clone(), want.data.iter().map(|&x| round_to(dtype, x)).collect());
            let (atol, rtol) = tolerance(dtype);
            assert_close(&got, &want, atol * 4.0 * (k + 1.0), rtol * 4.0).map_err(|e| TestCaseError::fail(format!("{dtype}: {e}")))?;
        }
    }

    #[test]
    fn matmul_bias_adds_the_bias_to_every_row((a, b) in arb_operands(), seed in any::<u64>()) {
        let n = b.dims[b.dims.len() - 1];
        for dtype in ALL_FLOATS {
            let (ta, ra) = a.build(dtype, -2.0, 2.0);
            let (tb, rb) = b.build(dtype, -2.0, 2.0);
            let bias = RefArray::new(vec![n], values(seed, n, -1.0, 1.0).iter().map(|&x| round_to(dtype, x)).collect());
            let got = ta.matmul_bias(&tb, &tensor_of(dtype, &bias.dims, &bias.data)).unwrap();
            let prod = naive(&ra, &rb);
            let want = RefArray::from_fn(prod.dims.clone(), |i| round_to(dtype, prod.at(i) + bias.at(&[i[i.len() - 1]])));
            let k = ra.dims[ra.dims.len() - 1] as f64;
            let (atol, rtol) = tolerance(dtype);
            assert_close(&got, &want, atol * 4.0 * (k + 2.0), rtol * 4.0).map_err(|e| TestCaseError::fail(format!("{dtype}: {e}")))?;
        }
    }
}

#[test]
fn matmul_bias_rejects_a_bias_of_the_wrong_length() {
    let a = tensor_of(DType::F32, &[2, 3], &[0.0; 6]);
    let b = tensor_of(DType::F32, &[3, 4], &[0.0; 12]);
    let err = a.matmul_bias(&b, &tensor_of(DType::F32, &[3], &[0.0; 3])).unwrap_err();
    assert!(err.to_string().contains("[3]"), "{err}");
    let f64_bias = tensor_of(DType::F64, &[4], &[0.0; 4]);
    assert!(a.matmul_bias(&b, &f64_bias).is_err());
}

#[test]
fn large_matmul_with_transposed_views_matches_naive() {
    // Big enough for gemm's threaded path; both operands are transposed views (no copy).
    let (m, k, n) = (130, 150, 120);
    let a = RefArray::new(vec![k, m], values(1, m * k, -1.0, 1.0).iter().map(|&x| x as f32 as f64).collect());
    let b = RefArray::new(vec![n, k], values(2, k * n, -1.0, 1.0).iter().map(|&x| x as f32 as f64).collect());
    let ta = tensor_of(DType::F32, &a.dims, &a.data).t().unwrap();
    let tb = tensor_of(DType::F32, &b.dims, &b.data).t().unwrap();
    assert!(!ta.is_contiguous() && !tb.is_contiguous());
    let at = RefArray::from_fn(vec![m, k], |i| a.at(&[i[1], i[0]]));
    let bt = RefArray::from_fn(vec![k, n], |i| b.at(&[i[1], i[0]]));
    assert_close(&ta.matmul(&tb).unwrap(), &naive(&at, &bt), 1e-4, 1e-5).unwrap();
}
