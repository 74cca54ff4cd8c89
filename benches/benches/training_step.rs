//! Training steps of the classic models on one thread (issues 5 and 6), the same workloads as
//! `benches/compare_torch.py` runs in PyTorch:
//! - `mlp_step/b32`, `mlp_step/b256`: Linear(784,128) ReLU Linear(128,64) ReLU Linear(64,10),
//!   cross-entropy on logits with class indices, Adam; one step = zero grads, forward, loss,
//!   backward, optimizer step; random inputs of the right shapes.
//! - `lstm_layer`: one LSTM layer (batch 32, seq 35, input 128, hidden 256, batch-first),
//!   forward and backward of the sum of its outputs.
//! - `lm_step`: one training step of the LSTM language model ([`tessera_benches::lm_workload`]):
//!   embedding, LSTM, dropout, output layer over 5000 words, cross-entropy, backward, clipping,
//!   Adam; the state carried from the previous window as in truncated BPTT.
//! - `gpt_step/t1`, `gpt_step/t2`: one iteration of `tessera train gpt`'s default recipe
//!   ([`tessera_benches::gpt_workload`]) on 1 and 2 threads: forward, cross-entropy, backward,
//!   clipping, AdamW.
//! - `cnn_step/t1`, `cnn_step/t2`: one step of `tessera train cnn`'s convnet (Keras' MNIST
//!   example: two 3x3 convolutions, max pool, dropout, two dense layers, softmax) at batch 64 on
//!   1 and 2 threads: forward, sparse categorical cross-entropy, backward, Adam.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::time::{Duration, Instant};
use tessera_autograd::Var;
use tessera_benches::pool;
use tessera_nn::loss::{cross_entropy, CrossEntropy};
use tessera_nn::{Linear, Lstm, Module, Relu, Sequential};
use tessera_tensor::{DType, Device, Generator, Tensor};
use tessera_train::optim::{Adam, Optimizer, OptimizerKind};

fn mlp_step(c: &mut Criterion) {
    let one = pool(1);
    let mut group = c.benchmark_group("mlp_step");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    for batch in [32usize, 256] {
        let mut g = Generator::new(0);
        let dev = Device::Cpu;
        let model = Sequential::new()
            .add(Linear::new(&mut g, 784, 128, DType::F32, &dev).unwrap())
            .add(Relu)
            .add(Linear::new(&mut g, 128, 64, DType::F32, &dev).unwrap())
            .add(Relu)
            .add(Linear::new(&mut g, 64, 10, DType::F32, &dev).unwrap());
        let mut opt = Optimizer::new(model.parameters(), OptimizerKind::Adam(Adam::default())).unwrap();
        let x = Var::constant(Tensor::randn(&mut g, [batch, 784], DType::F32, &dev).unwrap());
        let labels: Vec<u32> = (0..batch as u32).map(|i| i % 10).collect();
        let y = Var::constant(Tensor::from_vec(labels, [batch], &dev).unwrap());
        let cfg = CrossEntropy::default();
        group.bench_function(format!("b{batch}"), |b| {
            b.iter_custom(|iters| {
                one.install(|| {
                    let start = Instant::now();
                    for _ in 0..iters {
                        opt.zero_grad();
                        let loss = cross_entropy(&model.forward(&x).unwrap(), &y, &cfg).unwrap();
                        loss.backward().unwrap();
                        opt.step().unwrap();
                        black_box(loss);
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();
}

fn lstm_layer(c: &mut Criterion) {
    let one = pool(1);
    let mut group = c.benchmark_group("lstm_layer");
    group.sample_size(10).warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(5));
    let mut g = Generator::new(0);
    let dev = Device::Cpu;
    let lstm = Lstm::new(&mut g, 128, 256, 1, true, DType::F32, &dev).unwrap();
    let x = Var::constant(Tensor::randn(&mut g, [32, 35, 128], DType::F32, &dev).unwrap());
    group.bench_function("b32_s35_i128_h256", |b| {
        b.iter_custom(|iters| {
            one.install(|| {
                let start = Instant::now();
                for _ in 0..iters {
                    lstm.zero_grad();
                    let out = lstm.forward(&x).unwrap();
                    out.sum_all().unwrap().backward().unwrap();
                    black_box(out);
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

fn lm_step(c: &mut Criterion) {
    let one = pool(1);
    let mut group = c.benchmark_group("lm_step");
    group.sample_size(10).warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(8));
    let (lm, windows) = tessera_benches::lm_workload(8);
    let mut trainer = tessera_benches::lm_trainer(&lm);
    let mut next = 0;
    group.bench_function("v5000_e128_h256_s35_b32", |b| {
        b.iter_custom(|iters| {
            one.install(|| {
                let start = Instant::now();
                for _ in 0..iters {
                    let (loss, _) = trainer.train_step(&windows[next % windows.len()]).unwrap();
                    next += 1;
                    black_box(loss);
                }
                start.elapsed()
            })
        })
    });
    group.finish();
}

fn gpt_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("gpt_step");
    group.sample_size(10).warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(6));
    let (gpt, batches) = tessera_benches::gpt_workload(8);
    for threads in tessera_benches::THREADS {
        let pool = pool(threads);
        let mut trainer = tessera_benches::gpt_trainer(&gpt);
        let mut next = 0;
        group.bench_function(format!("t{threads}"), |b| {
            b.iter_custom(|iters| {
                pool.install(|| {
                    let start = Instant::now();
                    for _ in 0..iters {
                        let (loss, _) = trainer.train_step(&batches[next % batches.len()]).unwrap();
                        next += 1;
                        black_box(loss);
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();
}

fn cnn_step(c: &mut Criterion) {
    let mut group = c.benchmark_group("cnn_step");
    group.sample_size(10).warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(6));
    let dev = Device::Cpu;
    let model = tessera_train::models::CnnConfig::grayscale(28, 10, 0).build(&dev).unwrap();
    let mut opt = Optimizer::new(model.parameters(), OptimizerKind::Adam(Adam::default())).unwrap();
    let mut g = Generator::new(1);
    let x = Var::constant(Tensor::rand_uniform(&mut g, 0.0, 1.0, [64, 784], DType::F32, &dev).unwrap());
    let y = Var::constant(Tensor::from_vec((0..64u32).map(|i| i % 10).collect(), [64], &dev).unwrap());
    for threads in tessera_benches::THREADS {
        let pool = pool(threads);
        group.bench_function(format!("t{threads}"), |b| {
            b.iter_custom(|iters| {
                pool.install(|| {
                    let start = Instant::now();
                    for _ in 0..iters {
                        opt.zero_grad();
                        let loss =
                            tessera_nn::loss::sparse_categorical_crossentropy(&model.forward(&x).unwrap(), &y).unwrap();
                        loss.backward().unwrap();
                        opt.step().unwrap();
                        black_box(loss);
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();
}

criterion_group!(benches, mlp_step, lstm_layer, lm_step, gpt_step, cnn_step);
criterion_main!(benches);
