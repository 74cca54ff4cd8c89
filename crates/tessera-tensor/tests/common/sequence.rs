//! What the recurrence suites (`tests/lstm_sequence.rs`, `tests/gru_sequence.rs`) share: inputs
//! on the CPU, a closeness check, and the half-precision check of a kernel that runs in f32.

use super::values;
use tessera_tensor::{DType, Device, Result, Tensor};

/// A CPU tensor of `dims` holding deterministic values in `[lo, hi)`.
pub fn tensor(dims: &[usize], seed: u64, lo: f64, hi: f64) -> Tensor {
    let n = dims.iter().product();
    Tensor::from_vec(values(seed, n, lo, hi), dims.to_vec(), &Device::Cpu).unwrap()
}

/// Same shape, and every element within `tol` relative to `want` (absolute near zero).
pub fn assert_close(what: &str, got: &Tensor, want: &Tensor, tol: f64) {
    assert_eq!(got.dims(), want.dims(), "{what}");
    let (g, w) = (got.to_vec_f64().unwrap(), want.to_vec_f64().unwrap());
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        assert!((a - b).abs() <= tol * (1.0 + b.abs()), "{what}[{i}]: {a} against {b}");
    }
}

/// `run` (a forward and backward, results named by `names`) in f16 and bf16 against `run` in
/// f32 on the same values widened: its first `forward` results bit for bit the f32 ones rounded
/// once, the rest (gradients, from the rounded results) within the dtype's precision.
pub fn assert_half_dtypes_run_in_f32<const I: usize, const O: usize>(
    inputs: &[Tensor; I],
    names: &[&str; O],
    forward: usize,
    run: impl Fn(&[Tensor; I]) -> Result<[Tensor; O]>,
) -> Result<()> {
    for (dtype, tol) in [(DType::F16, 2e-2), (DType::BF16, 1e-1)] {
        let x = inputs.each_ref().map(|t| t.to_dtype(dtype).unwrap());
        let wide = x.each_ref().map(|t| t.to_dtype(DType::F32).unwrap());
        let (want, got) = (run(&wide)?, run(&x)?);
        for (i, ((name, g), w)) in names.iter().zip(&got).zip(&want).enumerate() {
            assert_eq!(g.dtype(), dtype, "{name}");
            if i < forward {
                assert_eq!(g.to_vec_f64()?, w.to_dtype(dtype)?.to_vec_f64()?, "{dtype} {name}");
            } else {
                assert_close(&format!("{dtype} {name}"), g, w, tol);
            }
        }
    }
    Ok(())
}
