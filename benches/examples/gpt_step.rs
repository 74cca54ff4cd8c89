//! GPT training steps of `tessera train gpt`'s default recipe ([`tessera_benches::gpt_workload`])
//! on a pool of THREADS threads, printing milliseconds per step: a binary for `perf record`.
//! `cargo run --release -p tessera-benches --example gpt_step -- [STEPS] [THREADS]`

use tessera_core::host_memory::CachingAllocator;

/// As in the `tessera` program: freed buffers are reused, not returned to the system.
#[global_allocator]
static ALLOCATOR: CachingAllocator = CachingAllocator;

use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1).map(|s| s.parse::<usize>().ok());
    let steps = args.next().flatten().unwrap_or(20);
    let threads = args.next().flatten().unwrap_or(1);
    let (gpt, batches) = tessera_benches::gpt_workload(steps + 3);
    let mut trainer = tessera_benches::gpt_trainer(&gpt);
    tessera_benches::pool(threads).install(|| {
        let mut start = Instant::now();
        for (i, b) in batches.iter().enumerate() {
            if i == 3 {
                start = Instant::now();
            }
            trainer.train_step(b).expect("training step");
        }
        let secs = start.elapsed().as_secs_f64();
        println!("{steps} steps on {threads} thread(s): {:.1} ms/step", secs * 1e3 / steps as f64);
    });
}
