//! Training steps of one bench workload ([`tessera_benches::workloads::each_training_step`]:
//! `mlp_step/b256`, `lstm_layer`, `gru_layer`, `lm_step`, `gpt_step`, `attention`, `cnn_step`, `seq2seq_step`) on a pool of
//! THREADS threads, printing milliseconds per step: a binary for `perf record`.
//! `cargo run --release -p tessera-benches --example step -- NAME [STEPS] [THREADS]`

use std::time::Instant;
use tessera_core::host_memory::CachingAllocator;

/// As in the `tessera` program: freed buffers are reused, not returned to the system.
#[global_allocator]
static ALLOCATOR: CachingAllocator = CachingAllocator;

fn main() {
    let mut args = std::env::args().skip(1);
    let wanted = args.next().unwrap_or_default();
    let mut number = |default| args.next().and_then(|s| s.parse::<usize>().ok()).unwrap_or(default);
    let (steps, threads) = (number(20), number(1));
    let mut found = false;
    tessera_benches::pool(threads).install(|| {
        tessera_benches::workloads::each_training_step(&mut |name, step| {
            if name != wanted {
                return;
            }
            found = true;
            // As a training loop would: the pool's other threads spin between kernels.
            let _warm = tessera_tensor::KeepWarm::new();
            for _ in 0..3 {
                step();
            }
            let start = Instant::now();
            for _ in 0..steps {
                step();
            }
            let ms = start.elapsed().as_secs_f64() * 1e3 / steps as f64;
            println!("{name}: {steps} steps on {threads} thread(s): {ms:.2} ms/step");
        })
    });
    if !found {
        eprintln!(
            "unknown workload {wanted:?}: mlp_step/b256, lstm_layer, gru_layer, lm_step, gpt_step, attention, cnn_step or seq2seq_step"
        );
        std::process::exit(2);
    }
}
