//! A process-wide count of the arithmetic the CPU backend's matrix products perform, so that a
//! benchmark can set a training step's time beside the time its products need at the machine's
//! measured GEMM rate (its arithmetic bound).

use std::sync::atomic::{AtomicU64, Ordering};

static PRODUCT_FLOPS: AtomicU64 = AtomicU64::new(0);

/// Adds an `m × k` by `k × n` product's `2 m n k` floating-point operations to the count.
pub(super) fn count_product(m: usize, n: usize, k: usize) {
    // Saturating: a broadcast operand can give a product more flops than a u64 counts.
    let flops = [m, n, k].iter().fold(2u64, |a, &d| a.saturating_mul(d as u64));
    PRODUCT_FLOPS.fetch_add(flops, Ordering::Relaxed);
}

/// Floating-point operations (a multiply-add counts as two) of every matrix product the CPU
/// backend has run in this process so far, on any thread: `matmul` and `matmul_bias`, the
/// convolutions' GEMMs and the attention kernels' tile products (with the blocks a causal mask
/// skips left out). Elementwise ops, reductions and the optimizers are not counted. Read it
/// before and after the work to measure, as `tessera_tensor::product_flops`'s example does.
pub fn product_flops() -> u64 {
    PRODUCT_FLOPS.load(Ordering::Relaxed)
}
