//! A tiny binary for `valgrind --tool=callgrind`: `add` of two [32, 128] f32 tensors, N times
//! (first argument, default 1000), to count the instructions and allocations of one small op.

use tessera_benches::randn_f32;

fn main() {
    let n: usize = std::env::args().nth(1).and_then(|s| s.parse().ok()).unwrap_or(1000);
    let a = randn_f32(&[32, 128], 1).unwrap();
    let b = randn_f32(&[32, 128], 2).unwrap();
    for _ in 0..n {
        std::hint::black_box(a.add(std::hint::black_box(&b)).unwrap());
    }
}
