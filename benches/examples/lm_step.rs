//! LM training steps at the issue-8 benchmark size ([`tessera_benches::lm_workload`]) on a pool
//! of THREADS threads, printing tokens per second: a binary for `perf record`.
//! `cargo run --release -p tessera-benches --example lm_step -- [STEPS] [THREADS]`

use tessera_core::host_memory::CachingAllocator;

/// As in the `tessera` program: freed buffers are reused, not returned to the system.
#[global_allocator]
static ALLOCATOR: CachingAllocator = CachingAllocator;

fn main() {
    let (steps, threads) = tessera_benches::steps_and_threads();
    let (lm, windows) = tessera_benches::lm_workload(steps + 3);
    let mut trainer = tessera_benches::lm_trainer(&lm);
    let secs = tessera_benches::seconds_per_step(&windows, 3, threads, |w| {
        trainer.train_step(w).expect("training step");
    });
    println!(
        "{steps} steps on {threads} thread(s): {:.1} ms/step, {:.0} tokens/s",
        secs * 1e3,
        (32 * 35) as f64 / secs
    );
}
