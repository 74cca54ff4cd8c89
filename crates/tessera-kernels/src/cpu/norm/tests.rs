use super::*;
use crate::cpu::test_values::values;
use crate::plan::Arg;
use tessera_core::{DType, Layout, Shape};

fn plans(kind: NormKind, rows: usize, width: usize, params: NormParamGrads) -> NormBackwardPlan {
    let (xl, pl) = (Layout::contiguous(Shape::new(vec![rows, width])), Layout::contiguous(Shape::new(vec![width])));
    let sl = Layout::contiguous(Shape::new(vec![rows, 2]));
    let x = Arg::new(DType::F64, &xl);
    let forward = NormPlan::new(kind, x, Some(Arg::new(DType::F64, &pl)), None, 1e-5).unwrap();
    NormBackwardPlan::new(forward, x, Arg::new(DType::F64, &sl), params).unwrap()
}

/// `Σ_rows dy · (x - mean) · rstd` and `Σ_rows dy`, column by column.
fn reference(rows: usize, width: usize, x: &[f64], dy: &[f64], stats: &[f64]) -> [Vec<f64>; 2] {
    let column = |f: &dyn Fn(usize, usize) -> f64| (0..width).map(|j| (0..rows).map(|r| f(r, j)).sum()).collect();
    let at = |r: usize, j: usize| r * width + j;
    [column(&|r, j| dy[at(r, j)] * (x[at(r, j)] - stats[2 * r]) * stats[2 * r + 1]), column(&|r, j| dy[at(r, j)])]
}

fn f64s(b: &CpuBuffer) -> Vec<f64> {
    b.as_slice::<f64>().expect("f64").to_vec()
}

#[test]
fn parameter_gradients_match_column_sums_on_any_number_of_threads() {
    // No rows or no width; one row; fewer rows than a band; a band and one more row; many bands
    // with a ragged last.
    for (rows, width) in [(0, 4), (0, 0), (1, 1), (5, 7), (16, 3), (17, 3), (600, 130), (1000, 1)] {
        for kind in [NormKind::Layer, NormKind::Rms] {
            let (x, dy, w) = (values(rows * width, 1), values(rows * width, 2), values(width, 3));
            let (xb, dyb, wb) = (CpuBuffer::from(x.clone()), CpuBuffer::from(dy.clone()), CpuBuffer::from(w));
            let params = NormParamGrads { weight: true, bias: kind == NormKind::Layer };
            let plan = plans(kind, rows, width, params);
            let [_, stats] = norm(&plan.forward, &xb, Some(&wb), None).unwrap();
            let run =
                |params| norm_backward(&NormBackwardPlan { params, ..plan.clone() }, &xb, Some(&wb), &dyb, &stats);
            let mut results = Vec::new();
            for threads in [1, 2, 3] {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                let (dx, [dw, db]) = pool.install(|| run(params)).unwrap();
                results.push((f64s(&dx), dw.map(|b| f64s(&b)), db.map(|b| f64s(&b))));
            }
            let what = format!("{} {rows}x{width}", kind.name());
            assert!(results.iter().all(|r| *r == results[0]), "{what}: the bits depend on the thread count");
            let (dx, dw, db) = &results[0];
            let (plain_dx, plain) = run(NormParamGrads::default()).unwrap();
            assert_eq!(*dx, f64s(&plain_dx), "{what}: dx changed when the parameters' gradients were asked for");
            assert!(plain.iter().all(Option::is_none), "{what}: gradients nobody asked for");
            let [want_w, want_b] = reference(rows, width, &x, &dy, &f64s(&stats));
            let close =
                |got: &[f64], want: &[f64]| got.iter().zip(want).all(|(g, w)| (g - w).abs() <= 1e-12 * (1.0 + w.abs()));
            assert!(close(dw.as_ref().unwrap(), &want_w), "{what}: dweight {dw:?} against {want_w:?}");
            match db {
                Some(db) => assert!(close(db, &want_b), "{what}: dbias {db:?} against {want_b:?}"),
                None => assert_eq!(kind, NormKind::Rms, "{what}: no bias gradient"),
            }
        }
    }
}

#[test]
fn only_the_asked_for_gradients_are_given() {
    let (rows, width) = (40, 9);
    let (xb, dyb, wb) =
        (CpuBuffer::from(values(360, 4)), CpuBuffer::from(values(360, 5)), CpuBuffer::from(values(9, 6)));
    let full = plans(NormKind::Layer, rows, width, NormParamGrads { weight: true, bias: true });
    let [_, stats] = norm(&full.forward, &xb, Some(&wb), None).unwrap();
    let (_, [dw, db]) = norm_backward(&full, &xb, Some(&wb), &dyb, &stats).unwrap();
    let (dw, db) = (f64s(&dw.unwrap()), f64s(&db.unwrap()));
    for (weight, bias) in [(true, false), (false, true)] {
        let plan = NormBackwardPlan { params: NormParamGrads { weight, bias }, ..full.clone() };
        let (_, [w, b]) = norm_backward(&plan, &xb, Some(&wb), &dyb, &stats).unwrap();
        assert_eq!(w.map(|b| f64s(&b)), weight.then(|| dw.clone()));
        assert_eq!(b.map(|b| f64s(&b)), bias.then(|| db.clone()));
    }
}

#[test]
fn a_bias_gradient_wider_than_memory_is_an_error() {
    // No rows, so no buffer bounds the width; the bias's gradient would still be `[width]`.
    let (xl, sl) = (Layout::contiguous(Shape::new(vec![0, 1 << 60])), Layout::contiguous(Shape::new(vec![0, 2])));
    let forward = NormPlan::new(NormKind::Layer, Arg::new(DType::F64, &xl), None, None, 1e-5).unwrap();
    let (x, stats) = (Arg::new(DType::F64, &xl), Arg::new(DType::F64, &sl));
    let plan = NormBackwardPlan::new(forward, x, stats, NormParamGrads { weight: false, bias: true }).unwrap();
    let empty = CpuBuffer::from(Vec::<f64>::new());
    let err = norm_backward(&plan, &empty, None, &empty, &empty).unwrap_err();
    assert!(matches!(err, crate::Error::OutOfHostMemory { op: "norm_backward", .. }), "{err}");
}

#[test]
fn gradients_of_parameters_that_are_not_there_are_errors() {
    let (xl, sl) = (Layout::contiguous(Shape::new(vec![3, 4])), Layout::contiguous(Shape::new(vec![3, 2])));
    let (x, stats) = (Arg::new(DType::F32, &xl), Arg::new(DType::F32, &sl));
    for (kind, params, want) in [
        (NormKind::Layer, NormParamGrads { weight: true, bias: false }, "without a weight"),
        (NormKind::Rms, NormParamGrads { weight: false, bias: true }, "RMSNorm has no bias"),
    ] {
        let forward = NormPlan::new(kind, x, None, None, 1e-5).unwrap();
        let err = NormBackwardPlan::new(forward, x, stats, params).unwrap_err().to_string();
        assert!(err.starts_with("norm_backward") && err.contains(want), "{err}");
    }
}
