//! Experiments behind the diagnoses in `README.md`: where the time of the slow cases goes.
//!
//! - `exp_kernel`: the CPU kernel's `exp_f32` as it was when this was diagnosed (copied from
//!   `tessera-kernels/src/cpu/math.rs`, which has since moved to fused multiply-adds) on
//!   64Ki elements that stay in cache, compiled as the kernel compiles it (AVX2+FMA), against the
//!   same polynomial with the float-to-int step done on the bits (vectorises), and against a
//!   plain copy of the same data. No allocation in the loop: this is compute only.
//! - `fresh_vs_reused`: copying 64 MiB into a freshly allocated vector (glibc maps it anew, so
//!   every 4 KiB page faults on first write) against copying into a reused one.

use criterion::{criterion_group, criterion_main, Criterion, SamplingMode, Throughput};
use std::hint::black_box;
use std::time::Duration;

/// The kernel's `exp_f32` at the time of the diagnosis, verbatim.
#[inline(always)]
fn exp_as_is(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    const ROUND: f32 = 12_582_912.0;
    let xc = x.clamp(-104.0, 88.8);
    let n = (xc * LOG2E + ROUND) - ROUND;
    let r = (xc - n * LN2_HI) - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    let n = n as i32;
    let half = n >> 1;
    let s1 = f32::from_bits(((half + 127) as u32) << 23);
    let s2 = f32::from_bits(((n - half + 127) as u32) << 23);
    let y = p * s1 * s2;
    if x.is_nan() {
        x
    } else {
        y
    }
}

/// The same, with `n` read from the bits of `xc * LOG2E + ROUND` (its low mantissa bits hold
/// `n` in two's complement) instead of the saturating `as i32`, which LLVM scalarises.
#[inline(always)]
fn exp_bits(x: f32) -> f32 {
    const LOG2E: f32 = std::f32::consts::LOG2_E;
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    const ROUND: f32 = 12_582_912.0;
    let xc = x.clamp(-104.0, 88.8);
    let shifted = xc * LOG2E + ROUND;
    let n = shifted - ROUND;
    let r = (xc - n * LN2_HI) - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5
                + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r * (1.0 / 720.0 + r * (1.0 / 5040.0)))))));
    let n = (shifted.to_bits() as i32).wrapping_sub(ROUND.to_bits() as i32);
    let half = n >> 1;
    let s1 = f32::from_bits(((half + 127) as u32) << 23);
    let s2 = f32::from_bits(((n - half + 127) as u32) << 23);
    let y = p * s1 * s2;
    if x.is_nan() {
        x
    } else {
        y
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn map_avx2(src: &[f32], dst: &mut [f32], f: impl Fn(f32) -> f32) {
    for (o, &x) in dst.iter_mut().zip(src) {
        *o = f(x);
    }
}

/// The kernel's AVX2+FMA build of the loop, or the baseline build off x86-64 or without AVX2.
fn map_avx2_checked(src: &[f32], dst: &mut [f32], f: impl Fn(f32) -> f32) {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma") {
        // SAFETY: the CPU has AVX2 and FMA (checked just above).
        return unsafe { map_avx2(src, dst, f) };
    }
    for (o, &x) in dst.iter_mut().zip(src) {
        *o = f(x);
    }
}

fn exp_kernel(c: &mut Criterion) {
    let n = 1 << 16;
    let src: Vec<f32> = (0..n).map(|i| ((i * 7919) % 2000) as f32 * 0.01 - 10.0).collect();
    for (i, &x) in src.iter().enumerate().step_by(97) {
        assert!((exp_bits(x) - exp_as_is(x)).abs() <= 1e-6 * exp_as_is(x), "{i}: {x}");
    }
    let mut dst = vec![0f32; n];
    let mut group = c.benchmark_group("exp_kernel");
    group.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(2));
    group.throughput(Throughput::Elements(n as u64));
    group.bench_function("as_is_avx2", |b| b.iter(|| map_avx2_checked(black_box(&src), &mut dst, exp_as_is)));
    group.bench_function("bits_avx2", |b| b.iter(|| map_avx2_checked(black_box(&src), &mut dst, exp_bits)));
    group.bench_function("copy", |b| b.iter(|| dst.copy_from_slice(black_box(&src))));
    group.finish();
}

fn fresh_vs_reused(c: &mut Criterion) {
    let n = 1 << 24;
    let src = vec![1f32; n];
    let mut reused = vec![0f32; n];
    let mut group = c.benchmark_group("copy_64MiB");
    group.sampling_mode(SamplingMode::Flat).sample_size(10).warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    group.throughput(Throughput::Bytes(8 * n as u64));
    group.bench_function("fresh_vec", |b| b.iter(|| black_box(&src).clone()));
    group.bench_function("reused_vec", |b| b.iter(|| reused.copy_from_slice(black_box(&src))));
    group.finish();
}

criterion_group!(benches, exp_kernel, fresh_vs_reused);
criterion_main!(benches);
