//! Random fills (`kernels/random.cu`): Philox4x32-10 with the CPU's counter layout, so a seeded
//! generator gives the same numbers on either device (up to the last bit of `log`/`cos` in
//! normal samples).

use super::buffer::{expect_dtype, CudaBuffer};
use super::device::CudaDevice;
use super::launch::{elementwise, launch, strided, Args};
use super::source::RANDOM;
use crate::plan::{DropoutPlan, RandomPlan};
use crate::Result;
use std::sync::Arc;

/// The plan's fill, as [`crate::cpu::random`]: the same values from the same counters.
pub fn random(dev: &Arc<CudaDevice>, plan: &RandomPlan) -> Result<CudaBuffer> {
    let out = CudaBuffer::alloc(dev, plan.dtype, plan.len)?;
    if plan.len > 0 {
        let (a, b) = plan.dist.params();
        let args = Args::new().u64(plan.len as u64).u64(plan.seed).u64(plan.first).f64(a).f64(b).buf(&out);
        let kernel = format!("{}_{}", plan.dist.name(), plan.dtype.as_str());
        launch(dev, &RANDOM, &kernel, elementwise(plan.len), args)?;
    }
    Ok(out)
}

/// The plan's dropout of `x`, as [`crate::cpu::dropout`]: the same mask from the same counters.
pub fn dropout(plan: &DropoutPlan, x: &CudaBuffer) -> Result<CudaBuffer> {
    expect_dtype("dropout", plan.dtype, &[x])?;
    let n = plan.input.elem_count();
    let out = CudaBuffer::alloc(x.device(), plan.dtype, n)?;
    if n > 0 {
        let mask = plan.mask;
        let args = Args::new()
            .u64(n as u64)
            .u64(mask.seed)
            .u64(mask.first)
            .f64(mask.p)
            .f64(mask.scale())
            .view(&strided(&plan.input)?)
            .buf(x)
            .buf(&out);
        // One thread per Philox block of four elements.
        launch(x.device(), &RANDOM, &format!("dropout_{}", plan.dtype.as_str()), elementwise(n.div_ceil(4)), args)?;
    }
    Ok(out)
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
