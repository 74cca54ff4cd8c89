//! Elementwise ops of one operand (`kernels/unary.cu`).

use super::buffer::CudaBuffer;
use super::launch::{elementwise, launch, sfx, strided, Args};
use super::source::UNARY;
use crate::ops::UnaryOp;
use crate::Result;
use tessera_core::{DType, Error, Layout};

/// Applies `op` to every element selected by `layout`; the same dtype rules as [`crate::cpu::unary`].
pub fn unary(op: UnaryOp, buf: &CudaBuffer, layout: &Layout) -> Result<CudaBuffer> {
    let dtype = buf.dtype();
    if dtype.is_int() && (!op.supports_int() || (op == UnaryOp::Neg && dtype != DType::I64)) {
        let hint = if dtype == DType::I64 {
            " (integer input: cast to a float dtype first)"
        } else {
            " (unsigned integer input)"
        };
        return Err(Error::UnsupportedDType { op: op.name(), dtype, hint }.into());
    }
    let (p0, p1) = match op {
        UnaryOp::Powf(p) => (p, 0.0),
        UnaryOp::Clamp(lo, hi) | UnaryOp::Affine(lo, hi) => (lo, hi),
        _ => (0.0, 0.0),
    };
    let n = layout.elem_count();
    let out = CudaBuffer::alloc(buf.device(), dtype, n)?;
    if n > 0 {
        let args = Args::new().u64(n as u64).view(&strided(layout)?).buf(buf).buf(&out).f64(p0).f64(p1);
        launch(buf.device(), &UNARY, &format!("unary_{}_{}", op.name(), sfx(dtype)), elementwise(n), args)?;
    }
    Ok(out)
}
