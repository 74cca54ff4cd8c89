//! Training steps of every built-in model, the same workloads as `benches/compare_torch.py` runs
//! in PyTorch (`t1`, `t2`: on a pool of 1 and of 2 threads; the MLP on one):
//! - `mlp_step/b32`, `mlp_step/b256`: Linear(784,128) ReLU Linear(128,64) ReLU Linear(64,10),
//!   cross-entropy on logits with class indices, Adam; one step = zero grads, forward, loss,
//!   backward, optimizer step; random inputs of the right shapes.
//! - `lstm_layer/t1`, `lstm_layer/t2`, `gru_layer/t1`, `gru_layer/t2`: one LSTM (GRU) layer (batch
//!   32, seq 35, input 128, hidden 256, batch-first), forward and backward of the sum of its outputs.
//! - `lm_step/t1`, `lm_step/t2`: one training step of the LSTM language model ([`tessera_benches::lm_workload`]):
//!   embedding, LSTM, dropout, output layer over 5000 words, cross-entropy, backward, clipping,
//!   Adam; the state carried from the previous window as in truncated BPTT.
//! - `gpt_step/t1`, `gpt_step/t2`: one iteration of `tessera train gpt`'s default recipe
//!   ([`tessera_benches::gpt_workload`]) on 1 and 2 threads: forward, cross-entropy, backward,
//!   clipping, AdamW.
//! - `cnn_step/t1`, `cnn_step/t2`: one step of `tessera train cnn`'s convnet (Keras' MNIST
//!   example: two 3x3 convolutions, max pool, dropout, two dense layers, softmax) at batch 64 on
//!   1 and 2 threads: forward, sparse categorical cross-entropy, backward, Adam.
//! - `seq2seq_step/t1`, `seq2seq_step/t2`: one teacher-forced step of the Transformer
//!   encoder-decoder ([`TransformerSeq2seq`], PyTorch's `nn.Transformer`) on 1 and 2 threads:
//!   batch 64, sources of 12..=24 ids right-padded to 24 (vocabulary 64), targets of 12 ids
//!   (vocabulary 16) plus `<bos>`/`<eos>`, d_model 128, 4 heads, feed-forward 512, 2 + 2
//!   pre-LN layers, dropout 0.1, untied output layer; encode, decode, cross-entropy (pad
//!   ignored, label smoothing 0.1), backward, Adam (lr 1e-3). `compare_torch.py` times the same.

//!
//! The workloads are `tessera_benches::workloads`'s; the program runs on the caching allocator,
//! as the `tessera` program does.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::time::{Duration, Instant};
use tessera_benches::pool;
use tessera_benches::workloads::{CnnWorkload, MlpWorkload, RecurrentLayerWorkload, Seq2seqWorkload};
use tessera_core::host_memory::CachingAllocator;

#[global_allocator]
static ALLOCATOR: CachingAllocator = CachingAllocator;

fn mlp_step(c: &mut Criterion) {
    let one = pool(1);
    let mut group = c.benchmark_group("mlp_step");
    group.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    for batch in [32usize, 256] {
        let mut work = MlpWorkload::new(batch);
        group.bench_function(format!("b{batch}"), |b| {
            b.iter_custom(|iters| {
                one.install(|| {
                    let start = Instant::now();
                    for _ in 0..iters {
                        black_box(work.step());
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();
}

fn lstm_layer(c: &mut Criterion) {
    let mut work = RecurrentLayerWorkload::lstm();
    time_steps(c, "lstm_layer", || drop(black_box(work.step())));
}

fn gru_layer(c: &mut Criterion) {
    let mut work = RecurrentLayerWorkload::gru();
    time_steps(c, "gru_layer", || drop(black_box(work.step())));
}

fn lm_step(c: &mut Criterion) {
    let (lm, windows) = tessera_benches::lm_workload(8);
    let mut trainer = tessera_benches::lm_trainer(&lm);
    let mut next = 0;
    time_steps(c, "lm_step", || {
        black_box(trainer.train_step(&windows[next % windows.len()]).unwrap());
        next += 1;
    });
}

fn gpt_step(c: &mut Criterion) {
    let (gpt, batches) = tessera_benches::gpt_workload(8);
    let mut trainer = tessera_benches::gpt_trainer(&gpt);
    let mut next = 0;
    time_steps(c, "gpt_step", || {
        black_box(trainer.train_step(&batches[next % batches.len()]).unwrap());
        next += 1;
    });
}

/// Times `step` as `t1`, `t2`, ... of group `name`, on a pool of each of
/// [`tessera_benches::THREADS`] threads.
fn time_steps(c: &mut Criterion, name: &str, mut step: impl FnMut() + Send) {
    let mut group = c.benchmark_group(name);
    group.sample_size(10).warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(6));
    for threads in tessera_benches::THREADS {
        let pool = pool(threads);
        group.bench_function(format!("t{threads}"), |b| {
            b.iter_custom(|iters| {
                pool.install(|| {
                    // As a training loop would: the pool's other threads spin between kernels.
                    let _warm = tessera_tensor::KeepWarm::new();
                    let start = Instant::now();
                    for _ in 0..iters {
                        step();
                    }
                    start.elapsed()
                })
            })
        });
    }
    group.finish();
}

fn cnn_step(c: &mut Criterion) {
    let mut work = CnnWorkload::new();
    time_steps(c, "cnn_step", || drop(black_box(work.step())));
}

fn seq2seq_step(c: &mut Criterion) {
    let mut work = Seq2seqWorkload::new();
    time_steps(c, "seq2seq_step", || drop(black_box(work.step())));
}

criterion_group!(benches, mlp_step, lstm_layer, gru_layer, lm_step, gpt_step, cnn_step, seq2seq_step);
criterion_main!(benches);
