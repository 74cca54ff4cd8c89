//! LM training steps at the issue-8 benchmark size ([`tessera_benches::lm_workload`]) on one
//! thread, printing tokens per second: a binary for `perf record`.
//! `cargo run --release -p tessera-benches --example lm_step -- [STEPS]`

use tessera_core::host_memory::CachingAllocator;

/// As in the `tessera` program: freed buffers are reused, not returned to the system.
#[global_allocator]
static ALLOCATOR: CachingAllocator = CachingAllocator;

use std::time::Instant;

fn main() {
    let steps: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(20);
    let (lm, windows) = tessera_benches::lm_workload(steps + 3);
    let mut trainer = tessera_benches::lm_trainer(&lm);
    tessera_benches::pool(1).install(|| {
        let mut start = Instant::now();
        for (i, w) in windows.iter().enumerate() {
            if i == 3 {
                start = Instant::now();
            }
            trainer.train_step(w).expect("training step");
        }
        let secs = start.elapsed().as_secs_f64();
        let tokens = (windows.len() - 3) * 32 * 35;
        println!(
            "{} steps: {:.1} ms/step, {:.0} tokens/s",
            windows.len() - 3,
            secs * 1e3 / (windows.len() - 3) as f64,
            tokens as f64 / secs
        );
    });
}
