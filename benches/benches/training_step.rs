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
//! - `seq2seq_step/t1`, `seq2seq_step/t2`: one teacher-forced step of the Transformer
//!   encoder-decoder ([`TransformerSeq2seq`], PyTorch's `nn.Transformer`) on 1 and 2 threads:
//!   batch 64, sources of 12..=24 ids right-padded to 24 (vocabulary 64), targets of 12 ids
//!   (vocabulary 16) plus `<bos>`/`<eos>`, d_model 128, 4 heads, feed-forward 512, 2 + 2
//!   pre-LN layers, dropout 0.1, untied output layer; encode, decode, cross-entropy (pad
//!   ignored, label smoothing 0.1), backward, Adam (lr 1e-3). `compare_torch.py` times the same.

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::time::{Duration, Instant};
use tessera_autograd::Var;
use tessera_benches::pool;
use tessera_nn::loss::{cross_entropy, CrossEntropy};
use tessera_nn::{Linear, Lstm, Module, Relu, Sequential};
use tessera_tensor::{DType, Device, Generator, Tensor};
use tessera_train::optim::{Adam, Optimizer, OptimizerKind};
use tessera_train::seq2seq::{PadSide, Seq2seq, SourceBatch, TransformerSeq2seq, TransformerSeq2seqConfig};

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
    let dev = Device::Cpu;
    let model = tessera_train::models::CnnConfig::grayscale(28, 10, 0).build(&dev).unwrap();
    let mut opt = Optimizer::new(model.parameters(), OptimizerKind::Adam(Adam::default())).unwrap();
    let mut g = Generator::new(1);
    let x = Var::constant(Tensor::rand_uniform(&mut g, 0.0, 1.0, [64, 784], DType::F32, &dev).unwrap());
    let y = Var::constant(Tensor::from_vec((0..64u32).map(|i| i % 10).collect(), [64], &dev).unwrap());
    time_steps(c, "cnn_step", || {
        opt.zero_grad();
        let loss = tessera_nn::loss::sparse_categorical_crossentropy(&model.forward(&x).unwrap(), &y).unwrap();
        loss.backward().unwrap();
        opt.step().unwrap();
        black_box(loss);
    });
}

/// One batch of `seq2seq_step`: sources, decoder inputs `[64, 13]` and targets `[64 * 13]`.
struct Seq2seqWork {
    source: SourceBatch,
    input: Tensor,
    target: Var,
}

/// `n` batches of pseudo-random ids for `seq2seq_step` (pad 0, bos 1, eos 2; ids from 3): 64
/// sources of 12..=24 tokens (the first of each batch 24 long, so every batch pads to 24) and 64
/// targets of 12 tokens.
fn seq2seq_batches(n: usize) -> Vec<Seq2seqWork> {
    let (batch, src_max, tgt_len, src_vocab, tgt_vocab) = (64usize, 24usize, 12usize, 64u64, 16u64);
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move |bound: u64| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state % bound
    };
    let dev = Device::Cpu;
    (0..n)
        .map(|_| {
            let sources: Vec<Vec<u32>> = (0..batch)
                .map(|r| {
                    let len = if r == 0 { src_max } else { 12 + next(13) as usize };
                    (0..len).map(|_| 3 + next(src_vocab - 3) as u32).collect()
                })
                .collect();
            let refs: Vec<&[u32]> = sources.iter().map(Vec::as_slice).collect();
            let source = SourceBatch::new(&refs, 0, PadSide::Right, &dev).unwrap();
            let (mut input, mut target) = (Vec::new(), Vec::new());
            for _ in 0..batch {
                let t: Vec<u32> = (0..tgt_len).map(|_| 3 + next(tgt_vocab - 3) as u32).collect();
                input.push(1);
                input.extend_from_slice(&t);
                target.extend_from_slice(&t);
                target.push(2);
            }
            let input = Tensor::from_vec(input, [batch, tgt_len + 1], &dev).unwrap();
            let target = Var::constant(Tensor::from_vec(target, [batch * (tgt_len + 1)], &dev).unwrap());
            Seq2seqWork { source, input, target }
        })
        .collect()
}

fn seq2seq_step(c: &mut Criterion) {
    let cfg = TransformerSeq2seqConfig {
        source_vocab: 64,
        target_vocab: 16,
        d_model: 128,
        heads: 4,
        feedforward: 512,
        encoder_layers: 2,
        decoder_layers: 2,
        dropout: 0.1,
        norm_first: true,
        tie_embeddings: false,
        pad: 0,
        seed: 0,
    };
    let model = TransformerSeq2seq::new(&cfg, &Device::Cpu).unwrap();
    let mut opt = Optimizer::new(model.parameters(), OptimizerKind::Adam(Adam::default())).unwrap();
    let batches = seq2seq_batches(8);
    let loss_cfg = CrossEntropy { ignore_index: Some(0), label_smoothing: 0.1, ..CrossEntropy::default() };
    let mut next = 0;
    time_steps(c, "seq2seq_step", || {
        let w = &batches[next % batches.len()];
        next += 1;
        opt.zero_grad();
        let memory = model.encode(&w.source).unwrap();
        let logits = model.decode_teacher(&memory, &w.input).unwrap();
        let (rows, steps) = (w.input.dims()[0], w.input.dims()[1]);
        let logits = logits.reshape([rows * steps, cfg.target_vocab]).unwrap();
        let loss = cross_entropy(&logits, &w.target, &loss_cfg).unwrap();
        loss.backward().unwrap();
        opt.step().unwrap();
        black_box(loss);
    });
}

criterion_group!(benches, mlp_step, lstm_layer, lm_step, gpt_step, cnn_step, seq2seq_step);
criterion_main!(benches);
