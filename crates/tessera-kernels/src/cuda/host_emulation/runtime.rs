//! The emulator's own checks (`kernels/host_emulation.h`): that threads of a block really run
//! apart, so that a missing barrier shows; that shuffles and block reductions combine every lane;
//! and that what a GPU leaves undefined (a shuffle from a lane the block lacks, threads stuck at
//! different barriers) fails the launch with a message.

use super::{build, launch, sym};
use crate::cuda::emulator::{self, ThreadOrder};
use crate::cuda::launch::Shape3;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Test kernels, written as the real ones are.
const SOURCE: &str = r#"
#include "common.cuh"

// Each thread stores a mark of its launch, block and index; thread `reader` then counts the
// marks of this block it finds, after a barrier or not.
extern "C" __global__ void marks_seen(int with_barrier, u64 launch, unsigned reader, u64* out) {
    __shared__ u64 seen[1024];
    u64 mark = (launch << 32) | (blockIdx.x << 16);
    seen[threadIdx.x] = mark | threadIdx.x;
    if (with_barrier) __syncthreads();
    if (threadIdx.x == reader) {
        u64 found = 0;
        for (unsigned t = 0; t < blockDim.x; t++) found += seen[t] == (mark | t);
        out[blockIdx.x] = found;
    }
}

// Every thread's block_reduce and warp_reduce of its index + 1.
extern "C" __global__ void reductions(u64* block_sums, u64* warp_sums) {
    u64 v = threadIdx.x + 1;
    block_sums[blockIdx.x * blockDim.x + threadIdx.x] = block_reduce(v, AddOp(), (u64)0);
    warp_sums[blockIdx.x * blockDim.x + threadIdx.x] = warp_reduce(v, AddOp());
}

// One lane of the second warp waits at a barrier while the rest of its warp waits at a shuffle.
extern "C" __global__ void split_waits(float* out) {
    float v = (float)threadIdx.x;
    if (threadIdx.x < 33) __syncthreads();
    else v = __shfl_xor_sync(0xffffffffu, v, 1);
    out[threadIdx.x] = v;
}
"#;

fn lib() -> Option<&'static libloading::Library> {
    let src = std::env::temp_dir().join(format!("tessera-emulator-selftest-{}.cu", std::process::id()));
    std::fs::write(&src, SOURCE).unwrap();
    build("emulator_selftest", &src)
}

/// The message of the panic `f` raises, or `None` when it returns.
fn failure(f: impl FnOnce()) -> Option<String> {
    let err = catch_unwind(AssertUnwindSafe(f)).err()?;
    Some(err.downcast_ref::<String>().cloned().unwrap_or_default())
}

#[test]
fn threads_of_a_block_run_apart_until_a_barrier_in_either_order() {
    let Some(lib) = lib() else { return };
    let f: unsafe extern "C" fn(i32, u64, u32, *mut u64) = sym(lib, "marks_seen");
    let shape = Shape3 { grid: 3, block: 96 };
    let (first, last) = (ThreadOrder::FirstFirst, ThreadOrder::LastFirst);
    // (order, barrier, reader, marks the reader finds): without the barrier, the thread that runs
    // first finds only its own mark, in either order; a reader that runs last finds them all,
    // which is why launches alternate the order.
    let cases = [(first, 1, 0, 96), (last, 1, 95, 96), (first, 0, 0, 1), (last, 0, 95, 1), (last, 0, 0, 96)];
    for (launch_mark, (order, with_barrier, reader, want)) in (1..).zip(cases) {
        let mut out = vec![0u64; 3];
        let p = out.as_mut_ptr();
        // SAFETY: `out` holds one value per block.
        let run = emulator::run_launch_in(order, lib, shape, &|| unsafe { f(with_barrier, launch_mark, reader, p) });
        run.unwrap();
        assert_eq!(out, vec![want; 3], "{order:?}, barrier {with_barrier}, reader {reader}");
    }
}

#[test]
fn block_and_warp_reductions_combine_every_lane() {
    let Some(lib) = lib() else { return };
    let f: unsafe extern "C" fn(*mut u64, *mut u64) = sym(lib, "reductions");
    for block in [32u32, 64, 256, 1024] {
        let n = 2 * block as usize;
        let (mut sums, mut warps) = (vec![0u64; n], vec![0u64; n]);
        let (s, w) = (sums.as_mut_ptr(), warps.as_mut_ptr());
        // SAFETY: both buffers hold one value per thread of the launch.
        launch(lib, Shape3 { grid: 2, block }, || unsafe { f(s, w) });
        let b = block as u64;
        assert!(sums.iter().all(|&v| v == b * (b + 1) / 2), "block {block}: {:?}", &sums[..4]);
        for (t, &v) in warps.iter().enumerate() {
            let first = (t as u64 % b) / 32 * 32;
            assert_eq!(v, (first + 1..=first + 32).sum::<u64>(), "block {block}, thread {t}");
        }
    }
}

#[test]
fn undefined_cooperation_fails_the_launch() {
    let Some(lib) = lib() else { return };
    let f: unsafe extern "C" fn(*mut u64, *mut u64) = sym(lib, "reductions");
    let (mut sums, mut warps) = (vec![0u64; 48], vec![0u64; 48]);
    let (s, w) = (sums.as_mut_ptr(), warps.as_mut_ptr());
    // A block of 48 threads: the second warp has 16 lanes, and lane 0 shuffles with lane 16.
    // SAFETY: both buffers hold one value per thread.
    let message = failure(|| launch(lib, Shape3 { grid: 1, block: 48 }, || unsafe { f(s, w) }));
    let message = message.expect("a shuffle with a missing lane fails");
    assert!(message.contains("a warp shuffle reads lane 16, which the block does not have"), "{message}");

    let g: unsafe extern "C" fn(*mut f32) = sym(lib, "split_waits");
    let mut out = vec![0f32; 64];
    let p = out.as_mut_ptr();
    // SAFETY: `out` holds one value per thread.
    let message = failure(|| launch(lib, Shape3 { grid: 1, block: 64 }, || unsafe { g(p) }));
    let message = message.expect("threads at different barriers deadlock");
    assert!(message.contains("deadlock: 33 threads wait at __syncthreads, 31 at a warp shuffle"), "{message}");

    let message = failure(|| launch(lib, Shape3 { grid: 1, block: 2048 }, || unsafe { g(p) }));
    assert!(message.expect("too many threads").contains("1 to 1024 threads per block"));
}
