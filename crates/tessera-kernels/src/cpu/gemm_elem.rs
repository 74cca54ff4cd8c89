//! The element types the matrix products take (f32 and f64, those gemm multiplies natively),
//! with the hooks through which f32 reaches its own kernels.

use super::{matmul_reused, matmul_rows};
use std::mem::MaybeUninit;

/// Element types gemm multiplies natively.
pub(super) trait GemmElem: Copy + Default + Send + Sync + 'static {
    const ONE: Self;

    /// Whether [`matmul_reused::ReusedRhs`] packs operands of this type for its own kernel on
    /// this CPU (else it hands them to gemm).
    fn packs_reused_rhs() -> bool {
        false
    }

    /// [`matmul_rows::rows_by_transposed`] where this type has it; false (nothing done) where not.
    fn rows_by_transposed(
        _x: &[Self],
        _ldx: usize,
        _w: &[Self],
        _ldw: usize,
        _mkn: (usize, usize, usize),
        _out: &mut [MaybeUninit<Self>],
        _accumulate: bool,
    ) -> bool {
        false
    }
}
impl GemmElem for f32 {
    const ONE: Self = 1.0;

    fn packs_reused_rhs() -> bool {
        matmul_reused::packs_f32()
    }

    fn rows_by_transposed(
        x: &[f32],
        ldx: usize,
        w: &[f32],
        ldw: usize,
        mkn: (usize, usize, usize),
        out: &mut [MaybeUninit<f32>],
        accumulate: bool,
    ) -> bool {
        matmul_rows::rows_by_transposed(x, ldx, w, ldw, mkn, out, accumulate)
    }
}
impl GemmElem for f64 {
    const ONE: Self = 1.0;
}
