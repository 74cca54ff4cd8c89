//! With the caching allocator installed, the training steps of the bench workloads (MLP, LSTM and
//! GRU layers, LSTM language model, GPT, convnet, Transformer seq2seq) take no fresh host memory
//! once warmed up (issue 20): every block a step asks for is one an earlier step freed.

use tessera_core::host_memory::{self, CachingAllocator};

#[global_allocator]
static ALLOCATOR: CachingAllocator = CachingAllocator;

#[test]
fn training_steps_take_no_fresh_memory_once_warm() {
    let mut fresh = Vec::new();
    tessera_benches::pool(1).install(|| {
        tessera_benches::workloads::each_training_step(&mut |name, step| {
            for _ in 0..3 {
                step();
            }
            let before = host_memory::stats();
            for _ in 0..3 {
                step();
            }
            let after = host_memory::stats();
            assert!(after.reused_allocations > before.reused_allocations, "{name}: nothing went through the cache");
            fresh.push((
                name,
                after.fresh_allocations - before.fresh_allocations,
                after.fresh_bytes - before.fresh_bytes,
            ));
        })
    });
    let grew: Vec<_> = fresh.iter().filter(|(_, allocations, _)| *allocations > 0).collect();
    assert!(grew.is_empty(), "fresh blocks (workload, count, bytes) over 3 steps after 3 warm-up steps: {grew:?}");
}
