//! Shared helpers for Tessera's criterion benchmarks (`benches/cpu_ops.rs`).
//!
//! The benchmarks themselves live in `benches/`; this library holds what they share: rayon pools
//! of a fixed size, random inputs, the baseline copies that elementwise ops are compared with,
//! the byte and FLOP counts used for throughput, the training-step workloads ([`workloads`]) and
//! the machine's multiply-add peak ([`fma_peak`]). See `README.md` in this folder.

pub mod fma_peak;
pub mod workloads;

use rayon::prelude::*;
use tessera_nn::Module;
use tessera_tensor::{DType, Device, Generator, Result, Tensor};
use tessera_text::{StreamBatch, StreamBatches};
use tessera_train::gpt::{nanogpt_optimizer, Gpt, GptBatch, GptConfig, GptTask};
use tessera_train::lm::{LmTask, LstmLm, LstmLmConfig};
use tessera_train::optim::{Adam, Clip, Optimizer, OptimizerKind};
use tessera_train::Trainer;

/// The thread counts every multithreaded benchmark runs on.
pub const THREADS: [usize; 2] = [1, 2];

/// A rayon pool of exactly `threads` threads; run a benchmark inside `pool.install(..)`.
pub fn pool(threads: usize) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .thread_name(move |i| format!("bench-{threads}t-{i}"))
        .build()
        .expect("building a rayon pool")
}

/// Lets a closed output pipe (`step --flops | head -1`) end the program quietly, as it ends
/// other Unix tools, instead of in a panic of `println!`: Rust starts programs with `SIGPIPE`
/// ignored, so a write to a closed pipe fails, and this restores the default disposition. Call
/// it first in a benchmark program's `main`. Elsewhere than on Unix it does nothing.
pub fn end_quietly_on_closed_pipe() {
    #[cfg(unix)]
    // SAFETY: restoring a signal's default disposition installs no handler code, and it runs
    // before the program starts any thread.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

/// A contiguous f32 tensor of standard normal values, from a fixed seed.
pub fn randn_f32(shape: &[usize], seed: u64) -> Result<Tensor> {
    let mut g = Generator::new(seed);
    Tensor::randn(&mut g, shape.to_vec(), DType::F32, &Device::Cpu)
}

/// Floating-point operations of an `n x n` by `n x n` matrix product (a multiply and an add
/// per inner step).
pub fn matmul_flops(n: usize) -> u64 {
    2 * (n as u64).pow(3)
}

/// The median of `runs` (at least one) timed `n x n` by `n x n` f32 products, after one untimed,
/// in seconds, on the current rayon pool.
pub fn square_product_seconds(n: usize, runs: usize) -> f64 {
    let (a, b) = (randn_f32(&[n, n], 1).expect("operand"), randn_f32(&[n, n], 2).expect("operand"));
    let times = (0..=runs.max(1))
        .map(|_| {
            let start = std::time::Instant::now();
            drop(a.matmul(&b).expect("square product"));
            start.elapsed().as_secs_f64()
        })
        .skip(1)
        .collect();
    median(times)
}

/// The middle value of `values` (the upper of the two middle ones for an even count).
///
/// # Panics
/// When `values` is empty.
pub fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Bytes moved by an f32 op over `elems` elements that reads `reads` buffers and writes `writes`.
pub fn f32_bytes(elems: usize, reads: u64, writes: u64) -> u64 {
    elems as u64 * 4 * (reads + writes)
}

/// A fresh vector holding `src`, copied in parallel chunks on the current rayon pool: the
/// multi-threaded "plain copy" baseline (a `Vec::clone` copies on one thread only).
pub fn par_copy(src: &[f32]) -> Vec<f32> {
    let mut out: Vec<f32> = Vec::with_capacity(src.len());
    let chunk = src.len().div_ceil(rayon::current_num_threads() * 4).max(1 << 14);
    out.spare_capacity_mut()[..src.len()].par_chunks_mut(chunk).zip(src.par_chunks(chunk)).for_each(|(d, s)| {
        for (o, &x) in d.iter_mut().zip(s) {
            o.write(x);
        }
    });
    // SAFETY: the loop above wrote every one of the `src.len()` elements.
    unsafe { out.set_len(src.len()) };
    out
}

/// The language-model workload of issue 8, as `benches/compare_torch.py` runs it in PyTorch:
/// vocabulary 5000, embedding 128, one LSTM layer of 256, dropout 0.2, sequence 35, batch 32,
/// Adam with gradient clipping at norm 0.5. Returns the model and `windows` training windows of
/// pseudo-random ids (the ids do not change the arithmetic).
pub fn lm_workload(windows: usize) -> (LstmLm, Vec<StreamBatch>) {
    lm_workload_on(windows, &Device::Cpu)
}

/// [`lm_workload`] with the model on `device` (the windows' ids go there at each step).
pub fn lm_workload_on(windows: usize, device: &Device) -> (LstmLm, Vec<StreamBatch>) {
    let cfg = LstmLmConfig { vocab: 5000, embed: 128, hidden: 256, layers: 1, dropout: 0.2, seed: 0 };
    let lm = LstmLm::new(&cfg, device).expect("building the LM");
    let ids: Vec<u32> = (0..windows * 32 * 35 + 32).map(|i| ((i * 7919) % 5000) as u32).collect();
    let windows = StreamBatches::new(&ids, 32, 35).expect("cutting windows").collect();
    (lm, windows)
}

/// The trainer of [`lm_workload`]'s model: Adam (PyTorch's defaults) clipping at norm 0.5; its
/// task carries the LSTM state from one `train_step` to the next.
pub fn lm_trainer(lm: &LstmLm) -> Trainer<LmTask<'_>> {
    let opt = Optimizer::new(lm.parameters(), OptimizerKind::Adam(Adam::default())).expect("optimizer");
    Trainer::with_task(LmTask::new(lm), opt.with_clip(Clip::GlobalNorm(0.5)).expect("clip"))
}

/// The GPT of `tessera train gpt`'s default recipe (nanoGPT's CPU recipe: 4 layers, 4 heads,
/// embedding 128, block 64) over the shipped corpus's 79 character ids, and `batches` batches of 12
/// windows of deterministic ids: the workload `benches/gpt_torch.py step` times in PyTorch.
pub fn gpt_workload(batches: usize) -> (Gpt, Vec<GptBatch>) {
    let gpt = Gpt::new(&GptConfig::small(79), &Device::Cpu).expect("building the GPT");
    let (batch_size, block_size) = (12, 64);
    let ids = |b: usize, shift: usize| -> Vec<u32> {
        (0..batch_size * block_size).map(|i| (((b * 7 + i + shift) * 7919) % 79) as u32).collect()
    };
    let batches =
        (0..batches).map(|b| GptBatch { micro: vec![(ids(b, 0), ids(b, 1))], batch_size, block_size }).collect();
    (gpt, batches)
}

/// The trainer of [`gpt_workload`]'s model with the recipe's optimizer: AdamW (0.9, 0.99),
/// weight decay 0.1 on matrices and embeddings, clipping at global norm 1.
pub fn gpt_trainer(gpt: &Gpt) -> Trainer<GptTask<'_>> {
    let opt = nanogpt_optimizer(gpt, 1e-3, 0.99, 0.1, 1.0).expect("optimizer");
    Trainer::with_task(GptTask::new(gpt), opt)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn par_copy_copies_every_element() {
        let src: Vec<f32> = (0..100_003).map(|i| i as f32).collect();
        for t in THREADS {
            assert_eq!(pool(t).install(|| par_copy(&src)), src);
        }
    }

    #[test]
    fn counts() {
        assert_eq!(matmul_flops(2), 16);
        assert_eq!(f32_bytes(10, 2, 1), 120);
    }
}
