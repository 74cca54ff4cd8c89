//! Training steps of one bench workload ([`tessera_benches::workloads::each_training_step`]:
//! `mlp_step/b32`, `mlp_step/b256`, `lstm_layer`, `gru_layer`, `lm_step`, `gpt_step`, `attention`,
//! `cnn_step`, `seq2seq_step`), or `matmul/N` (one `N x N` by `N x N` f32 product a step), on a
//! pool of THREADS threads, printing milliseconds per step and the rate its matrix products
//! reached: a binary for `perf record`, and the Tessera side of `compare_paired.py`'s rounds.
//! `cargo run --release -p tessera-benches --example step -- NAME [STEPS] [THREADS] [--bound]`
//!
//! With `--flops` in place of a name it prints, for every workload, the floating-point operations
//! of one step's matrix products (`name flops` per line), from which `compare_all.py` puts each
//! step beside its arithmetic bound; with `--fma-peak`, the machine's f32 multiply-add peak on 1
//! and 2 threads (`threads gflops` per line, nothing where the CPU has no loop for it; see
//! `tessera_benches::fma_peak`).
//!
//! With `--bound` after THREADS it also times, right after the steps and on the same pool, the
//! `2048 x 2048` product that the arithmetic bound takes its rate from (median of five), and
//! prints the step against that bound: both then see the same state of a shared host, which
//! drifts by 10-25% over minutes.

use std::time::Instant;
use tessera_core::host_memory::CachingAllocator;
use tessera_tensor::product_flops;

/// As in the `tessera` program: freed buffers are reused, not returned to the system.
#[global_allocator]
static ALLOCATOR: CachingAllocator = CachingAllocator;

/// The side of the square product whose rate makes the arithmetic bound (as `compare_all.py`'s
/// bound table, which takes criterion's `matmul/tT/2048`).
const BOUND_SIDE: usize = 2048;

fn main() {
    tessera_benches::end_quietly_on_closed_pipe();
    let mut args = std::env::args().skip(1);
    let wanted = args.next().unwrap_or_default();
    if wanted == "--flops" {
        tessera_benches::pool(1).install(|| {
            tessera_benches::workloads::each_training_step(&mut |name, step| {
                step();
                let before = product_flops();
                step();
                println!("{name} {}", product_flops() - before);
            })
        });
        return;
    }
    if wanted == "--fma-peak" {
        if let Some(width) = tessera_benches::fma_peak::Width::detect() {
            for threads in tessera_benches::THREADS {
                // About half a second a round at 300 GFLOP/s a thread; the first also lets the
                // clock settle.
                println!("{threads} {:.1}", tessera_benches::fma_peak::gflops(width, threads, 200_000_000, 3));
            }
        }
        return;
    }
    let mut number = |default| args.next().and_then(|s| s.parse::<usize>().ok()).unwrap_or(default);
    let (steps, threads) = (number(20), number(1));
    let with_bound = args.next().is_some_and(|a| a == "--bound");
    let mut found = false;
    tessera_benches::pool(threads).install(|| {
        if let Some(side) = wanted.strip_prefix("matmul/") {
            let Some(n) = side.parse::<usize>().ok().filter(|&n| n > 0) else { return };
            found = true;
            let a = tessera_benches::randn_f32(&[n, n], 1).expect("operand");
            let b = tessera_benches::randn_f32(&[n, n], 2).expect("operand");
            time_steps(&wanted, steps, threads, with_bound, &mut || drop(a.matmul(&b).expect("square product")));
            return;
        }
        tessera_benches::workloads::each_training_step(&mut |name, step| {
            if name == wanted {
                found = true;
                time_steps(name, steps, threads, with_bound, step);
            }
        })
    });
    if !found {
        eprintln!(
            "unknown workload {wanted:?}: mlp_step/b32, mlp_step/b256, lstm_layer, gru_layer, lm_step, gpt_step, \
             attention, cnn_step, seq2seq_step, matmul/N (one N x N product a step), --flops or --fma-peak"
        );
        std::process::exit(2);
    }
}

/// Runs `step` three times untimed, then `steps` times, and prints the mean time a step and the
/// rate its matrix products reached; with `with_bound`, also the step against its arithmetic
/// bound (see the module's doc).
fn time_steps(name: &str, steps: usize, threads: usize, with_bound: bool, step: &mut dyn FnMut()) {
    // As a training loop would: the pool's other threads spin between kernels.
    let _warm = tessera_tensor::KeepWarm::new();
    for _ in 0..3 {
        step();
    }
    let (start, flops) = (Instant::now(), product_flops());
    for _ in 0..steps {
        step();
    }
    let secs = start.elapsed().as_secs_f64() / steps as f64;
    let flops = (product_flops() - flops) as f64 / steps as f64;
    println!(
        "{name}: {steps} steps on {threads} thread(s): {:.4} ms/step; products {:.3} GFLOP/step, {:.1} GFLOP/s \
         over the whole step",
        secs * 1e3,
        flops / 1e9,
        flops / secs / 1e9
    );
    if with_bound {
        let product = tessera_benches::square_product_seconds(BOUND_SIDE, 5);
        let rate = tessera_benches::matmul_flops(BOUND_SIDE) as f64 / product;
        println!(
            "bound: {BOUND_SIDE} product {:.2} ms = {:.1} GFLOP/s; step {:.3} ms at that rate, {:.2}x bound",
            product * 1e3,
            rate / 1e9,
            flops / rate * 1e3,
            secs * rate / flops
        );
    }
}
