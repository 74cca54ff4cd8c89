//! CPU op benchmarks through the public `Tensor` API (issue 2, item 8).
//!
//! Every case runs inside a rayon pool of 1 and of 2 threads (function ids `t1`, `t2`).
//! Throughput is reported so that criterion prints rates directly:
//! - matmul: `Elements(2 n^3)` (`matmul_mkn`: `2 m k n`), so criterion's "elem/s" are FLOP/s;
//! - everything else: `Bytes` moved, counting each buffer read or written once (add reads two
//!   buffers and writes one; exp, tanh, log, erf, sin, copy, softmax and log-softmax read one and
//!   write one; a reduction reads one).
//!
//! Baselines for the bandwidth targets: `copy` (`Tensor::copy`, allocates and copies on one
//! thread), `vec_clone` (a raw `Vec<f32>::clone`) and `par_copy` (a fresh vector filled by the
//! pool's threads, the fair baseline at 2 threads).
//!
//! `benches/compare_numpy.py` runs this and numpy side by side and prints the ratios.

use tessera_core::host_memory::CachingAllocator;

/// As in the `tessera` program: freed buffers are reused, not returned to the system.
#[global_allocator]
static ALLOCATOR: CachingAllocator = CachingAllocator;

use criterion::{criterion_group, criterion_main, BenchmarkGroup, BenchmarkId, Criterion, SamplingMode, Throughput};
use std::hint::black_box;
use std::time::{Duration, Instant};
use tessera_benches::{f32_bytes, matmul_flops, par_copy, pool, randn_f32, THREADS};

const M1: usize = 1 << 20;
const M16: usize = 1 << 24;

/// Short, flat-sampled settings for cases that take milliseconds or more per iteration.
fn big(group: &mut BenchmarkGroup<'_, criterion::measurement::WallTime>) {
    group.sampling_mode(SamplingMode::Flat).sample_size(10).warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
}

/// Runs `iters` calls of `f` on a thread of `pool` (so that kernels see the pool's thread count)
/// and returns the time they took; results are dropped inside the timed loop, so freeing counts.
fn in_pool<R, F: Fn() -> R + Sync>(pool: &rayon::ThreadPool, iters: u64, f: F) -> Duration {
    pool.install(|| {
        let start = Instant::now();
        for _ in 0..iters {
            black_box(f());
        }
        start.elapsed()
    })
}

fn label(elems: usize) -> String {
    format!("{}M", elems >> 20)
}

fn matmul(c: &mut Criterion) {
    let mut group = c.benchmark_group("matmul");
    big(&mut group);
    for n in [128, 256, 512, 1024, 2048] {
        let a = randn_f32(&[n, n], 1).unwrap();
        let b = randn_f32(&[n, n], 2).unwrap();
        group.throughput(Throughput::Elements(matmul_flops(n)));
        for t in THREADS {
            let p = pool(t);
            group.bench_with_input(BenchmarkId::new(format!("t{t}"), n), &n, |bch, _| {
                bch.iter_custom(|it| in_pool(&p, it, || a.matmul(&b).unwrap()))
            });
        }
    }
    group.finish();
}

/// The products of the training steps at the shapes they run at, `MxKxN` (`t`: the right
/// operand is the transposed view of an `[N, K]` weight, as in a linear layer): the LSTM step's
/// `h @ W_hhᵀ` and its backward `d @ W_hh`, the LM's output layer forward and input gradient,
/// the GPT block's qkv projection, and products of few rows by a transposed weight: GPT-2's MLP
/// over 8 sequences decoded side by side (`cpu/matmul_rows.rs`) and a layer of 784 inputs and 512
/// units at batch 32 (gemm).
fn matmul_shapes(c: &mut Criterion) {
    let mut group = c.benchmark_group("matmul_mkn");
    big(&mut group);
    let shapes = [
        (1120, 256, 5000, false),
        (32, 256, 1024, true),
        (32, 256, 1024, false),
        (32, 1024, 256, false),
        (1120, 256, 5000, true),
        (1120, 5000, 256, false),
        (768, 128, 384, true),
        (8, 768, 3072, true),
        (32, 784, 512, true),
    ];
    for (m, k, n, transposed) in shapes {
        let a = randn_f32(&[m, k], 1).unwrap();
        let b = if transposed { randn_f32(&[n, k], 2).unwrap().t().unwrap() } else { randn_f32(&[k, n], 2).unwrap() };
        group.throughput(Throughput::Elements(2 * (m * k * n) as u64));
        let label = format!("{m}x{k}x{n}{}", if transposed { "t" } else { "" });
        for t in THREADS {
            let p = pool(t);
            group.bench_with_input(BenchmarkId::new(format!("t{t}"), &label), &label, |bch, _| {
                bch.iter_custom(|it| in_pool(&p, it, || a.matmul(&b).unwrap()))
            });
        }
    }
    group.finish();
}

fn elementwise(c: &mut Criterion) {
    for elems in [M1, M16] {
        let a = randn_f32(&[elems], 3).unwrap();
        let b = randn_f32(&[elems], 4).unwrap();
        let positive = a.abs().unwrap();
        let raw: Vec<f32> = a.to_vec().unwrap();
        let cases: [(&str, u64, u64); 9] = [
            ("add", 2, 1),
            ("exp", 1, 1),
            ("tanh", 1, 1),
            ("log", 1, 1),
            ("erf", 1, 1),
            ("sin", 1, 1),
            ("copy", 1, 1),
            ("vec_clone", 1, 1),
            ("par_copy", 1, 1),
        ];
        for (op, reads, writes) in cases {
            let mut group = c.benchmark_group(op);
            big(&mut group);
            group.throughput(Throughput::Bytes(f32_bytes(elems, reads, writes)));
            for t in THREADS {
                let id = BenchmarkId::new(format!("t{t}"), label(elems));
                let p = pool(t);
                group.bench_function(id, |bch| {
                    bch.iter_custom(|it| match op {
                        "add" => in_pool(&p, it, || a.add(&b).unwrap()),
                        "exp" => in_pool(&p, it, || a.exp().unwrap()),
                        "tanh" => in_pool(&p, it, || a.tanh().unwrap()),
                        "log" => in_pool(&p, it, || positive.log().unwrap()),
                        "erf" => in_pool(&p, it, || a.erf().unwrap()),
                        "sin" => in_pool(&p, it, || a.sin().unwrap()),
                        "copy" => in_pool(&p, it, || a.copy().unwrap()),
                        "vec_clone" => in_pool(&p, it, || black_box(&raw).clone()),
                        _ => in_pool(&p, it, || par_copy(black_box(&raw))),
                    })
                });
            }
            group.finish();
        }
    }
}

fn reductions(c: &mut Criterion) {
    let x = randn_f32(&[4096, 4096], 5).unwrap();
    let cases: [(&str, &[isize]); 3] = [("sum_dim1", &[1]), ("sum_dim0", &[0]), ("sum_all", &[])];
    for (name, dims) in cases {
        let mut group = c.benchmark_group(name);
        big(&mut group);
        group.throughput(Throughput::Bytes(f32_bytes(M16, 1, 0)));
        for t in THREADS {
            let p = pool(t);
            group.bench_function(BenchmarkId::new(format!("t{t}"), "4096x4096"), |bch| {
                bch.iter_custom(|it| in_pool(&p, it, || x.sum(dims, false).unwrap()))
            });
        }
        group.finish();
    }
}

fn softmax(c: &mut Criterion) {
    let x = randn_f32(&[4096, 1024], 6).unwrap();
    for name in ["softmax", "log_softmax"] {
        let mut group = c.benchmark_group(name);
        big(&mut group);
        group.throughput(Throughput::Bytes(f32_bytes(4096 * 1024, 1, 1)));
        for t in THREADS {
            let p = pool(t);
            group.bench_function(BenchmarkId::new(format!("t{t}"), "4096x1024"), |bch| {
                bch.iter_custom(|it| {
                    in_pool(&p, it, || if name == "softmax" { x.softmax(-1) } else { x.log_softmax(-1) }.unwrap())
                })
            });
        }
        group.finish();
    }
}

fn small_add(c: &mut Criterion) {
    let a = randn_f32(&[32, 128], 7).unwrap();
    let b = randn_f32(&[32, 128], 8).unwrap();
    let mut group = c.benchmark_group("add_small");
    group.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    group.throughput(Throughput::Bytes(f32_bytes(32 * 128, 2, 1)));
    for t in THREADS {
        let p = pool(t);
        group.bench_function(BenchmarkId::new(format!("t{t}"), "32x128"), |bch| {
            bch.iter_custom(|it| in_pool(&p, it, || black_box(&a).add(black_box(&b)).unwrap()))
        });
    }
    group.finish();
}

criterion_group!(benches, small_add, elementwise, reductions, softmax, matmul, matmul_shapes);
criterion_main!(benches);
