//! The CUDA suites' shared machinery (`tests/cuda.rs`, `tests/cuda_nn_ops.rs`): the GPU (or its
//! dry-run stand-in), inputs built once on the CPU and copied over, the views taken on both
//! devices, and the CPU-vs-GPU comparison.

use std::io::Write;
use std::sync::{Mutex, MutexGuard};
use tessera_tensor::{DType, Device, Result, Tensor};

pub const FLOATS: [DType; 4] = [DType::F32, DType::F64, DType::F16, DType::BF16];
pub const INTS: [DType; 3] = [DType::U8, DType::U32, DType::I64];

/// The GPU, held for the whole test: the tests run one at a time so that the pool counters of
/// `cuda_pool_reuses_blocks_across_steps` see only their own allocations.
pub fn gpu(test: &str) -> Option<(Device, MutexGuard<'static, ()>)> {
    static GPU: Mutex<()> = Mutex::new(());
    if dry_run() {
        return Some((Device::Cpu, GPU.lock().unwrap_or_else(|e| e.into_inner())));
    }
    match Device::cuda(0) {
        Ok(d) => Some((d, GPU.lock().unwrap_or_else(|e| e.into_inner()))),
        Err(e) => {
            // Written to the stderr handle, not with eprintln!, so that libtest's output capture
            // does not hide it: a skipped test must say so.
            let _ = writeln!(std::io::stderr(), "skipped: no CUDA device: {test}: {e}");
            None
        }
    }
}

/// `TESSERA_CUDA_TESTS_DRY_RUN=1` runs the suite with the CPU standing in for the GPU: it checks
/// the tests themselves (views, shapes, expected errors) on a machine without a GPU.
pub fn dry_run() -> bool {
    std::env::var_os("TESSERA_CUDA_TESTS_DRY_RUN").is_some_and(|v| v == "1")
}

/// (atol, rtol) per dtype: f32 ~1e-5, bf16 8e-3 (one ulp), f16 one ulp.
pub fn tol(dtype: DType) -> (f64, f64) {
    match dtype {
        DType::F32 => (1e-5, 1e-5),
        DType::F64 => (1e-12, 1e-10),
        DType::F16 => (1e-3, 1e-3),
        DType::BF16 => (8e-3, 8e-3),
        _ => (0.0, 0.0),
    }
}

/// Deterministic values in `[lo, hi)`.
pub fn values(seed: u64, n: usize, lo: f64, hi: f64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            lo + (hi - lo) * ((s >> 11) as f64 / (1u64 << 53) as f64)
        })
        .collect()
}

/// The same values on the CPU and on the GPU.
pub fn pair(dev: &Device, dtype: DType, dims: &[usize], seed: u64, lo: f64, hi: f64) -> Result<(Tensor, Tensor)> {
    let n = dims.iter().product();
    let cpu = Tensor::from_vec(values(seed, n, lo, hi), dims.to_vec(), &Device::Cpu)?.to_dtype(dtype)?;
    let gpu = cpu.to_device(dev)?;
    Ok((cpu, gpu))
}

pub type View = fn(&Tensor) -> Result<Tensor>;

/// Views of a [5, 7, 6] base: contiguous, transposed, narrowed, expanded, permuted.
pub const VIEWS: [(&str, View); 5] = [
    ("contiguous", |t| Ok(t.clone())),
    ("transposed", |t| t.transpose(0, 2)),
    ("narrowed", |t| t.narrow(1, 2, 4)),
    ("expanded", |t| t.narrow(0, 1, 1)?.expand([3, 7, 6])),
    ("permuted", |t| t.permute(&[1, 2, 0])),
];
pub const BASE: [usize; 3] = [5, 7, 6];

pub fn check(what: &str, dtype: DType, cpu: &Result<Tensor>, gpu: &Result<Tensor>) {
    check_tol(what, tol(dtype), cpu, gpu)
}

pub fn check_tol(what: &str, (atol, rtol): (f64, f64), cpu: &Result<Tensor>, gpu: &Result<Tensor>) {
    let (cpu, gpu) = match (cpu, gpu) {
        (Ok(c), Ok(g)) => (c, g),
        (Err(c), Err(g)) => {
            assert_eq!(c.to_string(), g.to_string(), "{what}: both devices fail, with the same error");
            return;
        }
        (c, g) => panic!("{what}: cpu gave {:?}, gpu gave {:?}", c.as_ref().err(), g.as_ref().err()),
    };
    assert!(gpu.device().is_cuda() || dry_run(), "{what}: result left the GPU");
    assert_eq!(cpu.dims(), gpu.dims(), "{what}: shapes");
    assert_eq!(cpu.dtype(), gpu.dtype(), "{what}: dtypes");
    let (c, g) = (cpu.to_vec_f64().unwrap(), gpu.to_vec_f64().unwrap());
    for (i, (&c, &g)) in c.iter().zip(&g).enumerate() {
        let ok = (c.is_nan() && g.is_nan()) || c == g || (c - g).abs() <= atol + rtol * c.abs();
        assert!(ok, "{what}: element {i}: cpu {c}, gpu {g} (atol {atol}, rtol {rtol})");
    }
}

/// Splits a result of several tensors into one result per tensor (errors repeated), for `check`.
pub fn each<const N: usize>(r: Result<[Tensor; N]>) -> [Result<Tensor>; N] {
    match r {
        Ok(ts) => ts.map(Ok),
        Err(e) => std::array::from_fn(|_| Err(e.clone())),
    }
}
