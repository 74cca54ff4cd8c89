//! The cost of recording and backward: a chain of 1,000 adds of `[32, 128]` f32 tensors, on
//! plain Tensors, on Vars forward only, and on Vars forward plus backward. The per-op overhead is
//! `(vars_forward_backward - tensors) / 1000`.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use tessera_autograd::Var;
use tessera_tensor::{DType, Device, Generator, Tensor};

const CHAIN: usize = 1000;

fn inputs() -> (Tensor, Tensor) {
    let mut g = Generator::new(0);
    let a = Tensor::randn(&mut g, [32, 128], DType::F32, &Device::Cpu).unwrap();
    let b = Tensor::randn(&mut g, [32, 128], DType::F32, &Device::Cpu).unwrap();
    (a, b)
}

fn chain_of_adds(c: &mut Criterion) {
    let (a, b) = inputs();
    let mut group = c.benchmark_group("chain_of_1000_adds_32x128_f32");
    group.bench_function("tensors", |bench| {
        bench.iter(|| {
            let mut y = a.clone();
            for _ in 0..CHAIN {
                y = y.add(&b).unwrap();
            }
            black_box(y)
        })
    });
    group.bench_function("tensors_all_kept", |bench| {
        bench.iter(|| {
            let mut kept = Vec::with_capacity(CHAIN);
            let mut y = a.clone();
            for _ in 0..CHAIN {
                y = y.add(&b).unwrap();
                kept.push(y.clone());
            }
            black_box(kept)
        })
    });
    // `w` is a constant, so backward only passes gradients along the chain: what is measured
    // is the graph's own cost, not gradient arithmetic.
    let (x, w) = (Var::param(a.clone()).unwrap(), Var::constant(b.clone()));
    group.bench_function("vars_forward", |bench| {
        bench.iter(|| {
            let mut y = x.clone();
            for _ in 0..CHAIN {
                y = y.add(&w).unwrap();
            }
            black_box(y)
        })
    });
    let seed = Tensor::ones([32, 128], DType::F32, &Device::Cpu).unwrap();
    group.bench_function("vars_forward_backward", |bench| {
        bench.iter(|| {
            let mut y = x.clone();
            for _ in 0..CHAIN {
                y = y.add(&w).unwrap();
            }
            y.backward_with(Some(&seed), false).unwrap();
            black_box(y)
        })
    });
    group.finish();
}

criterion_group!(benches, chain_of_adds);
criterion_main!(benches);
