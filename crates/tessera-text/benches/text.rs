//! Throughput of GPT-2 encoding, BPE training and Chinese segmentation, with `jieba-rs` measured
//! in the same run for comparison.
//!
//! Set `TESSERA_DATA` to the shared data folder to encode and train on the full
//! `text/shakespeare.txt` (5 MB); without it a 300 KB built-in sample is used.
//! `cargo bench -p tessera-text`

use std::hint::black_box;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use tessera_text::{BpeTrainer, ByteLevelBpe, SegmentMode, Segmenter};

fn english_text() -> String {
    if let Ok(root) = std::env::var("TESSERA_DATA") {
        let path = std::path::Path::new(&root).join("text/shakespeare.txt");
        match tessera_text::io::read_text(&path) {
            Ok(t) => return t,
            Err(e) => eprintln!("cannot read {}: {e}; using the built-in sample", path.display()),
        }
    } else {
        eprintln!("TESSERA_DATA not set: benchmarking on a built-in sample instead of shakespeare.txt");
    }
    "The quick brown fox jumps over the lazy dog; it's 12:30 and we've 3 more miles to go!\n".repeat(3500)
}

fn chinese_text() -> String {
    if let Ok(path) = std::env::var("TESSERA_ZH_TEXT") {
        if let Ok(t) = tessera_text::io::read_text(&path) {
            return t;
        }
        eprintln!("cannot read TESSERA_ZH_TEXT={path}; using the built-in sample");
    }
    include_str!("data/zh_sample.txt").repeat(100)
}

fn gpt2_encoding(c: &mut Criterion) {
    let text = english_text();
    let gpt2 = ByteLevelBpe::gpt2();
    let mut group = c.benchmark_group("gpt2_encode");
    group.sample_size(10).measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("cold_cache", |b| {
        b.iter_batched(|| gpt2.clear_cache(), |_| black_box(gpt2.encode(&text)), BatchSize::PerIteration)
    });
    group.bench_function("warm_cache", |b| b.iter(|| black_box(gpt2.encode(&text))));
    group.finish();
}

fn bpe_training(c: &mut Criterion) {
    let text = english_text();
    let mut group = c.benchmark_group("bpe_train");
    group.sample_size(10).measurement_time(Duration::from_secs(20));
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("vocab_8k", |b| {
        b.iter(|| black_box(BpeTrainer::new(8000).train([text.as_str()]).map(|t| t.vocab_size())))
    });
    group.finish();
}

fn segmentation(c: &mut Criterion) {
    let text = chinese_text();
    let lines: Vec<&str> = text.lines().collect();
    let ours = Segmenter::new();
    let jieba = jieba_rs::Jieba::new();
    let mut group = c.benchmark_group("segment");
    group.sample_size(20).measurement_time(Duration::from_secs(5));
    group.throughput(Throughput::Bytes(text.len() as u64));
    group.bench_function("tessera_default", |b| b.iter(|| lines.iter().map(|l| ours.cut(l).len()).sum::<usize>()));
    group.bench_function("jieba_rs_default", |b| {
        b.iter(|| lines.iter().map(|l| jieba.cut(l, true).len()).sum::<usize>())
    });
    group.bench_function("tessera_search", |b| {
        b.iter(|| lines.iter().map(|l| ours.cut_mode(l, SegmentMode::Search, true).len()).sum::<usize>())
    });
    group.bench_function("jieba_rs_search", |b| {
        b.iter(|| lines.iter().map(|l| jieba.cut_for_search(l, true).len()).sum::<usize>())
    });
    group.finish();
}

criterion_group!(benches, gpt2_encoding, segmentation, bpe_training);
criterion_main!(benches);
