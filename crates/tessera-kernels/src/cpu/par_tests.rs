//! Kernels that split large work across threads give what one thread gives: gathers of strided
//! views (and fills of a broadcast value), concatenation, banded matmul with and without bias,
//! column sums, and optimizer updates, each run on a pool of 1 and of 2 threads at sizes above
//! the split thresholds.

use super::buffer::{strided_values, CpuBuffer};
use super::{matmul, optim};
use crate::ops::OptimStep;
use crate::plan::{Arg, MatmulShape, OptimPlan, ScatterAddPlan};
use tessera_core::{DType, Layout, Shape};

fn on_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> R {
    rayon::ThreadPoolBuilder::new().num_threads(threads).build().expect("a thread pool").install(f)
}

fn values(n: usize) -> Vec<f32> {
    (0..n).map(|i| ((i * 7919) % 1013) as f32 / 1013.0 - 0.5).collect()
}

#[test]
fn strided_gathers_match_the_index_formula_on_two_threads() {
    let data = values(12 * 64 * 4 * 32 * 2);
    // [12, 64, 4, 32] viewed as [12, 4, 64, 32] (split heads), and its last two dims transposed.
    let heads = Layout::new(Shape::new(vec![12, 4, 64, 32]), vec![8192, 32, 128, 1], 0).unwrap();
    let transposed = Layout::new(Shape::new(vec![12, 4, 32, 64]), vec![8192, 32, 1, 128], 0).unwrap();
    let broadcast = Layout::new(Shape::new(vec![300, 512]), vec![0, 1], 5).unwrap();
    // Transposes gathered in tiles: a weight's `t()` (sides not multiples of the tile), a
    // band of columns of one (offset, column stride above the row count), and a small one.
    let weight_t = Layout::new(Shape::new(vec![300, 517]), vec![1, 300], 0).unwrap();
    let band_t = Layout::new(Shape::new(vec![37, 600]), vec![1, 100], 9).unwrap();
    let small_t = Layout::new(Shape::new(vec![3, 2, 5]), vec![10, 1, 2], 0).unwrap();
    // One value broadcast (a gradient's zero base), filled rather than gathered.
    let scalar = Layout::new(Shape::new(vec![700, 300]), vec![0, 0], 77).unwrap();
    let small_scalar = Layout::new(Shape::new(vec![2, 1, 3]), vec![0, 0, 0], 5).unwrap();
    for layout in [heads, transposed, broadcast, weight_t, band_t, small_t, scalar, small_scalar] {
        let want: Vec<f32> = layout.offsets().map(|o| data[o]).collect();
        for threads in [1, 2] {
            let got = on_threads(threads, || strided_values(&data, &layout).into_owned());
            assert_eq!(got, want, "{layout:?} on {threads} thread(s)");
        }
    }
}

#[test]
fn concatenation_on_two_threads_equals_one_thread() {
    use crate::plan::{Arg, CatPlan};
    let (a, b) = (values(96 * 700), values(96 * 300));
    let (la, lb) = (Layout::contiguous(Shape::new(vec![96, 700])), Layout::contiguous(Shape::new(vec![96, 300])));
    let plan = CatPlan::new(&[Arg::new(DType::F32, &la), Arg::new(DType::F32, &lb)], 1).unwrap();
    let (ba, bb) = (super::CpuBuffer::from(a.clone()), super::CpuBuffer::from(b.clone()));
    let want: Vec<f32> =
        (0..96).flat_map(|r| a[r * 700..(r + 1) * 700].iter().chain(&b[r * 300..(r + 1) * 300]).copied()).collect();
    for threads in [1, 2] {
        let got = on_threads(threads, || super::copy::cat(&plan, &[&ba, &bb]).unwrap());
        assert_eq!(got, super::CpuBuffer::from(want.clone()), "{threads} thread(s)");
    }
}

/// Along dim 0 the output is one row (a `stack` of a sequence's steps): its chunks start and
/// end inside parts, and a part may be empty.
#[test]
fn concatenation_along_the_first_dim_splits_inside_parts() {
    use crate::plan::{Arg, CatPlan};
    let rows = [8usize, 3, 0, 9, 1, 13];
    let parts: Vec<Vec<f32>> = rows.iter().enumerate().map(|(i, r)| values(r * 4001 + i)[i..].to_vec()).collect();
    let layouts: Vec<Layout> = rows.iter().map(|&r| Layout::contiguous(Shape::new(vec![r, 4001]))).collect();
    let args: Vec<Arg<'_>> = layouts.iter().map(|l| Arg::new(DType::F32, l)).collect();
    let plan = CatPlan::new(&args, 0).unwrap();
    let bufs: Vec<super::CpuBuffer> = parts.iter().map(|p| super::CpuBuffer::from(p.clone())).collect();
    let want: Vec<f32> = parts.concat();
    for threads in [1, 2] {
        let got = on_threads(threads, || super::copy::cat(&plan, &bufs.iter().collect::<Vec<_>>()).unwrap());
        assert_eq!(got, super::CpuBuffer::from(want.clone()), "{threads} thread(s)");
    }
}

/// Row bands (many rows), column bands (few rows, many columns; the right operand read
/// transposed in place, as a weight's gradient reads it) and gemm's own split, with and without
/// bias, against an f64 product.
#[test]
fn banded_matmul_matches_a_naive_product() {
    // Row bands, column bands (few rows; more columns than rows), and one gemm.
    for (m, k, n, rhs_transposed) in
        [(300, 96, 80, false), (96, 300, 300, true), (260, 64, 300, true), (100, 100, 100, false)]
    {
        let (a, b, bias) = (values(m * k), values(k * n), values(n));
        let shape = MatmulShape { batch: vec![], m, k, n };
        let la = Layout::contiguous(Shape::new(vec![m, k]));
        // `b` holds the [k, n] operand row-major, or its transpose [n, k] read through strides.
        let lb = Layout::new(Shape::new(vec![k, n]), if rhs_transposed { vec![1, k] } else { vec![n, 1] }, 0).unwrap();
        let b_at = |p: usize, j: usize| f64::from(if rhs_transposed { b[j * k + p] } else { b[p * n + j] });
        let lbias = Layout::contiguous(Shape::new(vec![n]));
        for with_bias in [false, true] {
            // Each element with the textbook bound on an f32 dot product's rounding error,
            // k * 2^-24 * sum |a_ip b_pj| (and the bias).
            let want: Vec<(f64, f64)> = (0..m * n)
                .map(|e| {
                    let (i, j) = (e / n, e % n);
                    let terms = (0..k).map(|p| f64::from(a[i * k + p]) * b_at(p, j));
                    let (dot, size) = terms.fold((0.0, 0.0), |(s, z), t| (s + t, z + t.abs()));
                    let bias = if with_bias { f64::from(bias[j]) } else { 0.0 };
                    (dot + bias, (k + 1) as f64 * 6e-8 * (size + bias.abs()))
                })
                .collect();
            for threads in [1, 2] {
                let got = on_threads(threads, || {
                    matmul::batched(&a, &la, &b, &lb, &shape, with_bias.then_some((&bias[..], &lbias)))
                });
                for (e, (&g, &(w, tol))) in got.iter().zip(&want).enumerate() {
                    let what = format!("{m}x{k}x{n}, bias {with_bias}, {threads} thread(s), element {e}");
                    assert!((f64::from(g) - w).abs() <= tol, "{what}: {g} vs {w}");
                }
            }
        }
    }
}

#[test]
fn adam_on_two_threads_equals_one_thread() {
    let n = 70_000;
    let step =
        OptimStep::Adam { lr: 1e-3, beta1: 0.9, beta2: 0.99, eps: 1e-8, weight_decay: 0.1, decoupled: true, step: 3 };
    let g = values(n);
    let plan =
        OptimPlan::new(step, (DType::F32, n), (DType::F32, n), &[(DType::F32, n); 2]).unwrap().with_grad_scale(0.25);
    let run = |threads| {
        let (mut p, mut m, mut v) = (values(n), vec![0.01f32; n], vec![0.02f32; n]);
        on_threads(threads, || optim::apply(&plan, &mut p, &g, &mut [&mut m[..], &mut v[..]]));
        (p, m, v)
    };
    assert_eq!(run(2), run(1));
}

#[test]
fn column_sums_on_two_threads_equal_one_thread() {
    // A bias gradient, 130 column sums over 768 rows, and a tall block: folded in bands of rows
    // whose order does not depend on the threads, so the sums are equal to the bit.
    for l in [crate::plan::Lines { pre: 1, red: 768, post: 130 }, crate::plan::Lines { pre: 1, red: 4096, post: 40 }] {
        let data = values(l.red * l.post);
        let naive: Vec<f64> = (0..l.post).map(|c| (0..l.red).map(|r| data[r * l.post + c] as f64).sum()).collect();
        let one = on_threads(1, || super::reduce::sum_lines_f32(&data, l));
        assert_eq!(on_threads(2, || super::reduce::sum_lines_f32(&data, l)), one, "{l:?}");
        for (c, (&got, &want)) in one.iter().zip(&naive).enumerate() {
            assert!((got as f64 - want).abs() < 1e-4, "{l:?} column {c}: {got} against {want}");
        }
    }
}

#[test]
fn training_loops_under_keep_warm_finish_and_compute_the_same() {
    // Guards made and dropped step after step as the trainer does, some nested, with parallel
    // kernels and joins inside: every step finishes (a timeout turns a hang into a failure
    // rather than a stuck run) and computes what the others compute.
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let data = values(1 << 17);
        let sums = on_threads(2, || {
            (0..300)
                .map(|step| {
                    let _warm = super::par::KeepWarm::new();
                    let _inner = (step % 3 == 0).then(super::par::KeepWarm::new);
                    let l = crate::plan::Lines { pre: 1, red: 512, post: 256 };
                    let cols = super::reduce::sum_lines_f32(&data, l);
                    let (a, b) = rayon::join(|| cols[..128].iter().sum::<f32>(), || cols[128..].iter().sum::<f32>());
                    a + b
                })
                .collect::<Vec<f32>>()
        });
        tx.send(sums).expect("the test waits");
    });
    let sums = rx.recv_timeout(std::time::Duration::from_secs(120)).expect("300 warm steps finish");
    assert!(sums.iter().all(|&s| s == sums[0]), "every step computes the same sum");
}

#[test]
fn an_embeddings_gradient_on_two_threads_equals_one_thread_and_the_sums() {
    // `[2, 300, 128]` rows gathered by 400 indices along dim 1 (many repeated, as the ids of a
    // batch are), broadcast over the other dims as `index_select`'s backward has them: large
    // enough to be split between threads.
    let (outer, size, n, inner) = (2, 300, 400, 128);
    let ids: Vec<u32> = (0..n as u32).map(|j| (j * 37) % 97 + (j % 3) * 100).collect();
    let base = CpuBuffer::F32(values(outer * size * inner));
    let src = CpuBuffer::F32(values(outer * n * inner).iter().map(|v| v * 3.0).collect());
    let base_layout = Layout::contiguous(Shape::new(vec![outer, size, inner]));
    let src_layout = Layout::contiguous(Shape::new(vec![outer, n, inner]));
    let index_layout = Layout::new(Shape::new(vec![outer, n, inner]), vec![0, 1, 0], 0).unwrap();
    let plan = ScatterAddPlan::new(
        Arg::new(DType::F32, &base_layout),
        1,
        Arg::new(DType::U32, &index_layout),
        Arg::new(DType::F32, &src_layout),
    )
    .unwrap();
    let run = |threads| on_threads(threads, || super::scatter_add(&plan, &base, &CpuBuffer::U32(ids.clone()), &src));
    let (one, two) = (run(1).unwrap(), run(2).unwrap());
    assert_eq!(one, two);
    let (got, b, s) = (one.as_slice::<f32>().unwrap(), base.as_slice::<f32>().unwrap(), src.as_slice::<f32>().unwrap());
    for o in 0..outer {
        for row in 0..size {
            for c in (0..inner).step_by(31) {
                let mut want = b[(o * size + row) * inner + c];
                for (j, _) in ids.iter().enumerate().filter(|(_, &i)| i as usize == row) {
                    want += s[(o * n + j) * inner + c];
                }
                assert_eq!(got[(o * size + row) * inner + c], want, "[{o}, {row}, {c}]");
            }
        }
    }
}
