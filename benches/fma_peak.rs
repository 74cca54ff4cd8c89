//! The machine's f32 multiply-add peak: what no product can beat, beside which `compare_all.py`
//! puts the rate of the 2048 product and each training step.
//!
//! Each thread runs a loop of fused multiply-adds on registers only (24 independent accumulators
//! of 16 lanes with AVX-512, 12 of 8 lanes with AVX2: enough to keep both FMA pipes of a core busy
//! through the instruction's latency), written in assembly so that the compiler can neither drop
//! nor spill them. On the 2-vCPU Zen 5 of `README.md` this read 288 GFLOP/s on one thread, 64
//! FLOPs a cycle at about 4.5 GHz.

use std::sync::Barrier;
use std::time::Instant;

/// Which loop the CPU runs, and the FLOPs of one of its iterations.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Width {
    /// 24 accumulators of 16 f32 lanes: 768 FLOPs an iteration.
    Avx512,
    /// 12 accumulators of 8 f32 lanes: 192 FLOPs an iteration.
    Avx2,
}

impl Width {
    /// The widest loop the CPU kernels may use (the CPU's widest, or less under
    /// `TESSERA_CPU_ISA`: [`tessera_core::cpu_isa`]); `None` off x86-64 (always the
    /// baseline there) or without AVX2 and FMA.
    pub fn detect() -> Option<Width> {
        use tessera_core::{cpu_isa, CpuIsa};
        match cpu_isa() {
            CpuIsa::Avx512 => Some(Width::Avx512),
            CpuIsa::Avx2 => Some(Width::Avx2),
            CpuIsa::Baseline => None,
        }
    }

    /// Floating-point operations of one iteration (a multiply and an add per lane).
    pub fn flops_per_iteration(self) -> u64 {
        match self {
            Width::Avx512 => 24 * 16 * 2,
            Width::Avx2 => 12 * 8 * 2,
        }
    }

    /// Whether this CPU runs this loop.
    pub fn available(self) -> bool {
        match self {
            Width::Avx512 => Width::detect() == Some(Width::Avx512),
            Width::Avx2 => Width::detect().is_some(),
        }
    }

    /// Runs `iterations` iterations of the loop on this thread.
    fn run(self, iterations: u64) {
        assert!(self.available(), "{self:?}: this CPU lacks the instructions");
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `available` checked that the CPU has the features the loop needs.
        unsafe {
            match self {
                Width::Avx512 => x86::avx512(iterations),
                Width::Avx2 => x86::avx2(iterations),
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = iterations;
    }
}

/// GFLOP/s of `threads` threads each running `iterations` iterations of `width`'s loop at once
/// (the sum of their rates), best of `rounds`. Panics if the CPU lacks the loop's instructions
/// (see [`Width::available`]).
///
/// ```
/// use tessera_benches::fma_peak::{gflops, Width};
/// if let Some(width) = Width::detect() {
///     assert!(gflops(width, 1, 100_000, 1) > 0.0);
/// }
/// ```
pub fn gflops(width: Width, threads: usize, iterations: u64, rounds: usize) -> f64 {
    let flops = (iterations * width.flops_per_iteration()) as f64;
    let round = || {
        let start = Barrier::new(threads);
        std::thread::scope(|s| {
            let runs: Vec<_> = (0..threads)
                .map(|_| {
                    s.spawn(|| {
                        start.wait();
                        let t = Instant::now();
                        width.run(iterations);
                        t.elapsed().as_secs_f64()
                    })
                })
                .collect();
            runs.into_iter().map(|r| flops / r.join().expect("the loop does not panic") / 1e9).sum::<f64>()
        })
    };
    (0..rounds.max(1)).map(|_| round()).fold(0.0, f64::max)
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use std::arch::asm;

    /// `iterations` x 24 `vfmadd231ps` on zmm8..zmm31 from zmm0 and zmm1 (all zeroed first, so
    /// that no subnormal value slows an operation).
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn avx512(iterations: u64) {
        if iterations == 0 {
            return;
        }
        // SAFETY: registers only; every register written is declared clobbered.
        unsafe {
            asm!(
                "vpxord zmm0, zmm0, zmm0", "vpxord zmm1, zmm1, zmm1",
                "vpxord zmm8, zmm8, zmm8", "vpxord zmm9, zmm9, zmm9", "vpxord zmm10, zmm10, zmm10",
                "vpxord zmm11, zmm11, zmm11", "vpxord zmm12, zmm12, zmm12", "vpxord zmm13, zmm13, zmm13",
                "vpxord zmm14, zmm14, zmm14", "vpxord zmm15, zmm15, zmm15", "vpxord zmm16, zmm16, zmm16",
                "vpxord zmm17, zmm17, zmm17", "vpxord zmm18, zmm18, zmm18", "vpxord zmm19, zmm19, zmm19",
                "vpxord zmm20, zmm20, zmm20", "vpxord zmm21, zmm21, zmm21", "vpxord zmm22, zmm22, zmm22",
                "vpxord zmm23, zmm23, zmm23", "vpxord zmm24, zmm24, zmm24", "vpxord zmm25, zmm25, zmm25",
                "vpxord zmm26, zmm26, zmm26", "vpxord zmm27, zmm27, zmm27", "vpxord zmm28, zmm28, zmm28",
                "vpxord zmm29, zmm29, zmm29", "vpxord zmm30, zmm30, zmm30", "vpxord zmm31, zmm31, zmm31",
                "2:",
                "vfmadd231ps zmm8, zmm0, zmm1", "vfmadd231ps zmm9, zmm0, zmm1", "vfmadd231ps zmm10, zmm0, zmm1",
                "vfmadd231ps zmm11, zmm0, zmm1", "vfmadd231ps zmm12, zmm0, zmm1", "vfmadd231ps zmm13, zmm0, zmm1",
                "vfmadd231ps zmm14, zmm0, zmm1", "vfmadd231ps zmm15, zmm0, zmm1", "vfmadd231ps zmm16, zmm0, zmm1",
                "vfmadd231ps zmm17, zmm0, zmm1", "vfmadd231ps zmm18, zmm0, zmm1", "vfmadd231ps zmm19, zmm0, zmm1",
                "vfmadd231ps zmm20, zmm0, zmm1", "vfmadd231ps zmm21, zmm0, zmm1", "vfmadd231ps zmm22, zmm0, zmm1",
                "vfmadd231ps zmm23, zmm0, zmm1", "vfmadd231ps zmm24, zmm0, zmm1", "vfmadd231ps zmm25, zmm0, zmm1",
                "vfmadd231ps zmm26, zmm0, zmm1", "vfmadd231ps zmm27, zmm0, zmm1", "vfmadd231ps zmm28, zmm0, zmm1",
                "vfmadd231ps zmm29, zmm0, zmm1", "vfmadd231ps zmm30, zmm0, zmm1", "vfmadd231ps zmm31, zmm0, zmm1",
                "dec {n}",
                "jnz 2b",
                n = inout(reg) iterations => _,
                out("zmm0") _, out("zmm1") _, out("zmm8") _, out("zmm9") _, out("zmm10") _, out("zmm11") _,
                out("zmm12") _, out("zmm13") _, out("zmm14") _, out("zmm15") _, out("zmm16") _, out("zmm17") _,
                out("zmm18") _, out("zmm19") _, out("zmm20") _, out("zmm21") _, out("zmm22") _, out("zmm23") _,
                out("zmm24") _, out("zmm25") _, out("zmm26") _, out("zmm27") _, out("zmm28") _, out("zmm29") _,
                out("zmm30") _, out("zmm31") _,
                options(nostack, nomem),
            );
        }
    }

    /// `iterations` x 12 `vfmadd231ps` on ymm4..ymm15 from ymm0 and ymm1 (all zeroed first).
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn avx2(iterations: u64) {
        if iterations == 0 {
            return;
        }
        // SAFETY: registers only; every register written is declared clobbered.
        unsafe {
            asm!(
                "vxorps ymm0, ymm0, ymm0", "vxorps ymm1, ymm1, ymm1",
                "vxorps ymm4, ymm4, ymm4", "vxorps ymm5, ymm5, ymm5", "vxorps ymm6, ymm6, ymm6",
                "vxorps ymm7, ymm7, ymm7", "vxorps ymm8, ymm8, ymm8", "vxorps ymm9, ymm9, ymm9",
                "vxorps ymm10, ymm10, ymm10", "vxorps ymm11, ymm11, ymm11", "vxorps ymm12, ymm12, ymm12",
                "vxorps ymm13, ymm13, ymm13", "vxorps ymm14, ymm14, ymm14", "vxorps ymm15, ymm15, ymm15",
                "2:",
                "vfmadd231ps ymm4, ymm0, ymm1", "vfmadd231ps ymm5, ymm0, ymm1", "vfmadd231ps ymm6, ymm0, ymm1",
                "vfmadd231ps ymm7, ymm0, ymm1", "vfmadd231ps ymm8, ymm0, ymm1", "vfmadd231ps ymm9, ymm0, ymm1",
                "vfmadd231ps ymm10, ymm0, ymm1", "vfmadd231ps ymm11, ymm0, ymm1", "vfmadd231ps ymm12, ymm0, ymm1",
                "vfmadd231ps ymm13, ymm0, ymm1", "vfmadd231ps ymm14, ymm0, ymm1", "vfmadd231ps ymm15, ymm0, ymm1",
                "dec {n}",
                "jnz 2b",
                n = inout(reg) iterations => _,
                out("ymm0") _, out("ymm1") _, out("ymm4") _, out("ymm5") _, out("ymm6") _, out("ymm7") _,
                out("ymm8") _, out("ymm9") _, out("ymm10") _, out("ymm11") _, out("ymm12") _, out("ymm13") _,
                out("ymm14") _, out("ymm15") _,
                options(nostack, nomem),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each loop this CPU has runs, on one thread and on two, and reports a finite rate.
    #[test]
    fn every_available_loop_runs_on_one_and_two_threads() {
        for width in [Width::Avx512, Width::Avx2].into_iter().filter(|w| w.available()) {
            for threads in [1, 2] {
                let rate = gflops(width, threads, 1_000_000, 1);
                assert!(rate.is_finite() && rate > 0.0, "{width:?} on {threads} thread(s): {rate}");
                println!("{width:?} on {threads} thread(s): {rate:.1} GFLOP/s");
            }
        }
    }
}
