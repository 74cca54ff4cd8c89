//! Which SIMD instruction set the CPU kernels use (`tessera-kernels`' ops, `tessera-embed`'s
//! training loops): the widest this CPU has, or less where `TESSERA_CPU_ISA` says so.
//!
//! Capping the instruction set runs the kernels a CPU without AVX-512 (most laptops) or
//! without AVX2 would run, on a machine that has both: to test those copies, or to time them
//! beside PyTorch capped the same way (`ATEN_CPU_CAPABILITY`). The cap covers Tessera's own
//! kernels; the `gemm` crate, which runs the large matrix products, picks its own.

use std::sync::OnceLock;

/// The environment variable that caps the instruction set: `avx512`, `avx2` or `baseline`
/// (SSE2 only), read once, at the first kernel that asks.
pub const ISA_VAR: &str = "TESSERA_CPU_ISA";

/// A SIMD instruction set the CPU kernels are compiled for, narrowest first.
///
/// ```
/// use tessera_core::{cpu_isa, CpuIsa};
/// // Never wider than the CPU: on x86-64 at least SSE2, elsewhere the portable loops.
/// assert!(cpu_isa() <= CpuIsa::Avx512);
/// assert_eq!("avx2".parse::<CpuIsa>(), Ok(CpuIsa::Avx2));
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum CpuIsa {
    /// The target's baseline (SSE2 on x86-64): the portable loops.
    Baseline,
    /// AVX2 with FMA: 256-bit registers.
    Avx2,
    /// AVX-512 F, VL and DQ (with AVX2 and FMA): 512-bit registers.
    Avx512,
}

impl std::fmt::Display for CpuIsa {
    /// The name `TESSERA_CPU_ISA` takes for it.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            CpuIsa::Baseline => "baseline",
            CpuIsa::Avx2 => "avx2",
            CpuIsa::Avx512 => "avx512",
        })
    }
}

/// A `TESSERA_CPU_ISA` value that names no instruction set.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{ISA_VAR}={0:?} names no instruction set (expected avx512, avx2 or baseline)")]
pub struct UnknownIsa(pub String);

impl std::str::FromStr for CpuIsa {
    type Err = UnknownIsa;

    fn from_str(name: &str) -> Result<Self, UnknownIsa> {
        match name.trim().to_ascii_lowercase().as_str() {
            "avx512" | "avx-512" => Ok(CpuIsa::Avx512),
            "avx2" => Ok(CpuIsa::Avx2),
            "baseline" | "sse2" | "scalar" => Ok(CpuIsa::Baseline),
            _ => Err(UnknownIsa(name.to_string())),
        }
    }
}

/// The instruction set the CPU kernels use: the widest this CPU has, capped by `TESSERA_CPU_ISA`.
/// A value that names no instruction set is reported once on stderr and ignored (the kernels
/// have no caller to return it to).
pub fn cpu_isa() -> CpuIsa {
    static ISA: OnceLock<CpuIsa> = OnceLock::new();
    *ISA.get_or_init(|| {
        let detected = detected();
        match std::env::var(ISA_VAR) {
            Ok(value) if !value.is_empty() => match value.parse::<CpuIsa>() {
                Ok(cap) => cap.min(detected),
                Err(e) => {
                    eprintln!("tessera: {e}; using {detected}");
                    detected
                }
            },
            _ => detected,
        }
    })
}

/// The widest instruction set this CPU has.
fn detected() -> CpuIsa {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        if has!("avx2") && has!("fma") {
            if has!("avx512f") && has!("avx512vl") && has!("avx512dq") {
                return CpuIsa::Avx512;
            }
            return CpuIsa::Avx2;
        }
    }
    CpuIsa::Baseline
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_bad_ones_name_themselves() {
        assert_eq!("AVX512".parse::<CpuIsa>(), Ok(CpuIsa::Avx512));
        assert_eq!(" avx2 ".parse::<CpuIsa>(), Ok(CpuIsa::Avx2));
        assert_eq!("baseline".parse::<CpuIsa>(), Ok(CpuIsa::Baseline));
        for isa in [CpuIsa::Baseline, CpuIsa::Avx2, CpuIsa::Avx512] {
            assert_eq!(isa.to_string().parse::<CpuIsa>(), Ok(isa));
        }
        let e = "avx3".parse::<CpuIsa>().unwrap_err();
        assert_eq!(
            e.to_string(),
            "TESSERA_CPU_ISA=\"avx3\" names no instruction set (expected avx512, avx2 or baseline)"
        );
    }

    #[test]
    fn the_isa_in_use_is_never_wider_than_the_cpu_or_the_cap() {
        assert!(cpu_isa() <= detected());
        if let Ok(cap) = std::env::var(ISA_VAR).unwrap_or_default().parse::<CpuIsa>() {
            assert!(cpu_isa() <= cap);
        }
    }
}
