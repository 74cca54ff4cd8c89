//! Two figures of the transformer issue, measured in one process each:
//!
//! - `attention-memory fused|naive [SEQ]`: attention forward + backward at `SEQ` positions
//!   (default 4096), one head, head_dim 64, f32, on the CPU; prints the process's peak resident
//!   memory (VmHWM) before and after. `naive` materialises the `SEQ × SEQ` scores and weights
//!   (matmul, softmax, matmul, as autograd records them); `fused` is the fused op.
//! - `kv-cache [TOKENS]`: generates `TOKENS` (default 256) greedy tokens from a one-token prompt
//!   with nanoGPT's small model (context 512) with the key-value cache and by re-running the
//!   prefix, and prints both times and that the tokens agree.
//!
//! Run with `cargo run --release -p tessera-benches --bin transformer-figures -- ...`.

use std::time::Instant;
use tessera_autograd::Var;
use tessera_tensor::{AttentionSpec, DType, Device, Generator, Tensor};
use tessera_train::gpt::{Gpt, GptConfig, Uncached};
use tessera_train::lm::{generate, Sampling};

/// Peak resident memory of this process so far, in MiB (Linux's VmHWM).
fn peak_rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .unwrap_or(f64::NAN);
    kib / 1024.0
}

fn attention_memory(kind: &str, seq: usize) -> Result<(), Box<dyn std::error::Error>> {
    let mut g = Generator::new(0);
    let mut input = || -> Result<Var, Box<dyn std::error::Error>> {
        Ok(Var::param(Tensor::randn(&mut g, [1, 1, seq, 64], DType::F32, &Device::Cpu)?)?)
    };
    let (q, k, v) = (input()?, input()?, input()?);
    let before = peak_rss_mib();
    let started = Instant::now();
    let out = match kind {
        "fused" => Var::attention(&q, &k, &v, None, &AttentionSpec { causal: true, ..AttentionSpec::default() })?,
        "naive" => {
            let scores = q.matmul(&k.transpose(-1, -2)?)?.scale(1.0 / 8.0)?;
            let i = Tensor::arange(0.0, seq as f64, 1.0, DType::I64, &Device::Cpu)?.reshape([seq, 1])?;
            let j = Tensor::arange(0.0, seq as f64, 1.0, DType::I64, &Device::Cpu)?.reshape([1, seq])?;
            let hidden = Var::constant(j.gt(&i)?.to_dtype(DType::F32)?.scale(-1e30)?);
            scores.add(&hidden)?.softmax(-1)?.matmul(&v)?
        }
        other => return Err(format!("unknown kind {other:?}: fused or naive").into()),
    };
    out.sum_all()?.backward()?;
    let secs = started.elapsed().as_secs_f64();
    let grad = q.grad().ok_or("no gradient")?.square()?.sum_all()?.to_scalar_f64()?;
    println!(
        "{kind} attention, seq {seq}, head_dim 64, f32, causal: forward+backward {secs:.2} s, peak RSS {before:.0} MiB before, {:.0} MiB after (|dq|² = {grad:.4e})",
        peak_rss_mib()
    );
    Ok(())
}

fn kv_cache(tokens: usize) -> Result<(), Box<dyn std::error::Error>> {
    let cfg = GptConfig { block_size: 512, ..GptConfig::small(65) };
    let gpt = Gpt::new(&cfg, &Device::Cpu)?;
    let greedy = Sampling { temperature: 0.0, ..Sampling::default() };
    let started = Instant::now();
    let cached = generate(&gpt, &[0], tokens, &greedy)?;
    let cached_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let rerun = generate(&Uncached(&gpt), &[0], tokens, &greedy)?;
    let rerun_secs = started.elapsed().as_secs_f64();
    println!(
        "{tokens} tokens, 4 layers, 4 heads, width 128: with the KV cache {cached_secs:.3} s, re-running the prefix {rerun_secs:.3} s: {:.1}x; same tokens: {}",
        rerun_secs / cached_secs,
        cached == rerun
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let number = |i: usize, default: usize| args.get(i).and_then(|s| s.parse().ok()).unwrap_or(default);
    match args.first().map(String::as_str) {
        Some("attention-memory") => {
            attention_memory(args.get(1).map(String::as_str).unwrap_or("fused"), number(2, 4096))
        }
        Some("kv-cache") => kv_cache(number(1, 256)),
        _ => Err("usage: transformer-figures attention-memory fused|naive [SEQ] | kv-cache [TOKENS]".into()),
    }
}
