//! Random fills (`kernels/random.cu`): Philox4x32-10 with the CPU's counter layout, so a seeded
//! generator gives the same numbers on either device (up to the last bit of `log`/`cos` in
//! normal samples).

use super::buffer::CudaBuffer;
use super::device::CudaDevice;
use super::launch::{elementwise, launch, sfx, Args};
use super::source::RANDOM;
use crate::Result;
use std::sync::Arc;
use tessera_core::{DType, Philox};

fn fill(
    dev: &Arc<CudaDevice>,
    kernel: &str,
    dtype: DType,
    len: usize,
    rng: &Philox,
    first: u64,
    a: f64,
    b: f64,
) -> Result<CudaBuffer> {
    let out = CudaBuffer::alloc(dev, dtype, len)?;
    if len > 0 {
        let args = Args::new().u64(len as u64).u64(rng.seed()).u64(first).f64(a).f64(b).buf(&out);
        launch(dev, &RANDOM, &format!("{kernel}_{}", sfx(dtype)), elementwise(len), args)?;
    }
    Ok(out)
}

/// Uniform samples in `[lo, hi)`, as [`crate::cpu::uniform`]. Advances `rng` by the same count.
pub fn uniform(
    dev: &Arc<CudaDevice>,
    rng: &mut Philox,
    dtype: DType,
    len: usize,
    lo: f64,
    hi: f64,
) -> Result<CudaBuffer> {
    crate::cpu::creation::check_uniform(dtype, lo, hi)?;
    let per_block = if dtype == DType::F64 { 2 } else { 4 };
    let g = rng.clone();
    let first = rng.take(len.div_ceil(per_block) as u64);
    fill(dev, "uniform", dtype, len, &g, first, lo, hi)
}

/// Normal samples, as [`crate::cpu::normal`] (one block per value, Box-Muller in f64).
pub fn normal(
    dev: &Arc<CudaDevice>,
    rng: &mut Philox,
    dtype: DType,
    len: usize,
    mean: f64,
    std: f64,
) -> Result<CudaBuffer> {
    crate::cpu::creation::check_normal(dtype, mean, std)?;
    let g = rng.clone();
    let first = rng.take(len as u64);
    fill(dev, "normal", dtype, len, &g, first, mean, std)
}

/// 1 with probability `p`, else 0 (float dtypes or u8), as [`crate::cpu::bernoulli`].
pub fn bernoulli(dev: &Arc<CudaDevice>, rng: &mut Philox, dtype: DType, len: usize, p: f64) -> Result<CudaBuffer> {
    crate::cpu::creation::check_bernoulli(dtype, p)?;
    let g = rng.clone();
    let first = rng.take(len.div_ceil(2) as u64);
    fill(dev, "bernoulli", dtype, len, &g, first, p, 0.0)
}

#[cfg(test)]
mod tests {
    use tessera_core::{bf16, Philox};

    /// Values printed by `philox`, `block_to_normal` and `f32_to_bf16` of kernels/random.cu and
    /// kernels/common.cuh compiled as host C++ (g++, with `__device__` defined away): the CUDA
    /// port and the Rust generator agree bit for bit.
    #[test]
    fn kernel_philox_and_bf16_rounding_match_the_host() {
        assert_eq!(Philox::new(0).block(0), [0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8]);
        let b = Philox::new(42).block(123_456_789_012);
        assert_eq!(b, [0x1d81cd8e, 0x81d7f1dc, 0x6ed1c4a9, 0xf1ad3b3c]);
        assert_eq!(Philox::words_to_unit_f64(b[0], b[1]), 0.11526188592128483);
        assert!((Philox::block_to_normal(b) - -0.45155011405601025).abs() < 1e-15);
        let xs = [1.0f32, 1.003_906_2, 1.011_718_8, std::f32::consts::PI, -2.5e-3, 65504.0, 1e38, 3.4e38];
        let want = [0x3f80u16, 0x3f80, 0x3f82, 0x4049, 0xbb24, 0x4780, 0x7e96, 0x7f80];
        for (x, w) in xs.iter().zip(want) {
            assert_eq!(bf16::from_f32(*x).to_bits(), w, "bf16({x})");
        }
    }
}
