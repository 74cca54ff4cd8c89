//! Element types and comparisons the sequence kernels' tests share.

use crate::cpu::matmul::GemmElem;
use crate::cpu::unary::FloatMath;

/// The kernels' element types, to and from the reference's f64, with the error the comparison
/// allows them.
pub(in crate::cpu) trait Real: GemmElem + FloatMath {
    const TOLERANCE: f64;
    fn of(v: f64) -> Self;
    fn wide(self) -> f64;
}
impl Real for f64 {
    const TOLERANCE: f64 = 1e-12;
    fn of(v: f64) -> f64 {
        v
    }
    fn wide(self) -> f64 {
        self
    }
}
impl Real for f32 {
    const TOLERANCE: f64 = 2e-5;
    fn of(v: f64) -> f32 {
        v as f32
    }
    fn wide(self) -> f64 {
        self as f64
    }
}

pub(in crate::cpu) fn assert_close<T: Real>(what: &str, got: &[T], want: &[f64]) {
    assert_eq!(got.len(), want.len(), "{what}: length");
    for (i, (g, w)) in got.iter().map(|g| g.wide()).zip(want).enumerate() {
        assert!((g - w).abs() <= T::TOLERANCE * (1.0 + w.abs()), "{what}[{i}]: {g} against {w}");
    }
}
