//! GPT training steps of `tessera train gpt`'s default recipe ([`tessera_benches::gpt_workload`])
//! on a pool of THREADS threads, printing milliseconds per step: a binary for `perf record`.
//! `cargo run --release -p tessera-benches --example gpt_step -- [STEPS] [THREADS]`

use tessera_core::host_memory::CachingAllocator;

/// As in the `tessera` program: freed buffers are reused, not returned to the system.
#[global_allocator]
static ALLOCATOR: CachingAllocator = CachingAllocator;

fn main() {
    let (steps, threads) = tessera_benches::steps_and_threads();
    let (gpt, batches) = tessera_benches::gpt_workload(steps + 3);
    let mut trainer = tessera_benches::gpt_trainer(&gpt);
    let secs = tessera_benches::seconds_per_step(&batches, 3, threads, |b| {
        trainer.train_step(b).expect("training step");
    });
    println!("{steps} steps on {threads} thread(s): {:.1} ms/step", secs * 1e3);
}
