//! Minor page faults, fresh host memory and time per training step of every bench workload, with
//! the caching allocator keeping freed blocks (its default) and with caching off
//! (`set_cache_limit(0)`, every freed block back to the system allocator): issue 20's before and
//! after. `cargo run --release -p tessera-benches --example step_memory -- [STEPS] [THREADS]`

use std::time::Instant;
use tessera_core::host_memory::{self, CachingAllocator, DEFAULT_CACHE_LIMIT_BYTES};

#[global_allocator]
static ALLOCATOR: CachingAllocator = CachingAllocator;

/// The process's minor page faults so far (field 10 of `/proc/self/stat`), or 0 where it cannot
/// be read.
fn minor_faults() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name (which may hold spaces): state is the first, minflt the 8th.
    stat.rsplit_once(')').and_then(|(_, rest)| rest.split_whitespace().nth(7)?.parse().ok()).unwrap_or(0)
}

fn main() {
    tessera_benches::end_quietly_on_closed_pipe();
    let mut args = std::env::args().skip(1);
    let steps: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(10);
    let threads: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(1);
    println!("{steps} steps after 3 warm-up steps, {threads} thread(s); per step:");
    println!(
        "{:<14} {:>8} {:>12} {:>10} {:>12} {:>10} {:>11}",
        "workload", "cache", "minor faults", "fresh MiB", "reused MiB", "ms", "peak MiB"
    );
    tessera_benches::pool(threads).install(|| {
        tessera_benches::workloads::each_training_step(&mut |name, step| {
            for (label, limit) in [("off", 0), ("on", DEFAULT_CACHE_LIMIT_BYTES)] {
                host_memory::set_cache_limit(limit);
                for _ in 0..3 {
                    step();
                }
                host_memory::reset_peak();
                let (before, faults, start) = (host_memory::stats(), minor_faults(), Instant::now());
                for _ in 0..steps {
                    step();
                }
                let secs = start.elapsed().as_secs_f64();
                let (after, faults) = (host_memory::stats(), minor_faults() - faults);
                let per_step = |bytes: u64| bytes as f64 / steps as f64 / (1 << 20) as f64;
                println!(
                    "{name:<14} {label:>8} {:>12.0} {:>10.1} {:>12.1} {:>10.1} {:>11.1}",
                    faults as f64 / steps as f64,
                    per_step(after.fresh_bytes - before.fresh_bytes),
                    per_step(after.reused_bytes - before.reused_bytes),
                    secs * 1e3 / steps as f64,
                    after.peak_in_use_bytes as f64 / (1 << 20) as f64,
                );
            }
        })
    });
}
