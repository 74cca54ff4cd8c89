//! The halves of fused softmax cross-entropy (`kernels/softmax.cu`); `cpu/cross_entropy.rs` is
//! the reference and documents the formulas.

use super::buffer::CudaBuffer;
use super::copy::contiguous;
use super::index::checked_indices;
use super::launch::{elementwise, launch, sfx, strided, Args, Shape3};
use super::source::SOFTMAX;
use crate::cpu::cross_entropy::check_backward;
use crate::Result;
use tessera_core::{Error, Layout};

fn float_only(op: &'static str, buf: &CudaBuffer) -> Result<()> {
    if buf.dtype().is_float() {
        Ok(())
    } else {
        Err(Error::UnsupportedDType { op, dtype: buf.dtype(), hint: " (cast to a float dtype first)" }.into())
    }
}

/// `log(sum(exp(x)))` along the last dim, as [`crate::cpu::logsumexp`].
pub fn logsumexp(buf: &CudaBuffer, layout: &Layout) -> Result<CudaBuffer> {
    float_only("logsumexp", buf)?;
    let Some(&len) = layout.dims().last() else {
        return Err(Error::DimOutOfRange { op: "logsumexp", dim: -1, shape: layout.shape().clone() }.into());
    };
    let rows: usize = layout.dims()[..layout.rank() - 1].iter().product();
    let out = CudaBuffer::alloc(buf.device(), buf.dtype(), rows)?;
    if rows > 0 {
        let block = if len >= 1024 { 512 } else { 128 };
        let shape = Shape3 { grid: rows.min(1 << 16) as u32, block };
        let args = Args::new().u64(rows as u64).u64(len as u64).view(&strided(layout)?).buf(buf).buf(&out);
        launch(buf.device(), &SOFTMAX, &format!("logsumexp_{}", sfx(buf.dtype())), shape, args)?;
    }
    Ok(out)
}

/// The gradient of softmax cross-entropy, as [`crate::cpu::cross_entropy_backward`].
pub fn cross_entropy_backward(
    logits: (&CudaBuffer, &Layout),
    lse: (&CudaBuffer, &Layout),
    target: (&CudaBuffer, &Layout),
    scale: (&CudaBuffer, &Layout),
    smoothing: f64,
) -> Result<CudaBuffer> {
    let op = "cross_entropy_backward";
    let (n, classes) = check_backward(logits, lse, target, scale)?;
    float_only(op, logits.0)?;
    for other in [lse.0, scale.0] {
        if other.dtype() != logits.0.dtype() {
            return Err(Error::DTypeMismatch { op, lhs: logits.0.dtype(), rhs: other.dtype() }.into());
        }
    }
    let targets = checked_indices(op, target.0, target.1, 1, classes)?;
    let (lse, scale) = (contiguous(lse.0, lse.1)?, contiguous(scale.0, scale.1)?);
    let out = CudaBuffer::alloc(logits.0.device(), logits.0.dtype(), n * classes)?;
    if n * classes > 0 {
        let args = Args::new()
            .u64(n as u64)
            .u64(classes as u64)
            .view(&strided(logits.1)?)
            .buf(logits.0)
            .buf(&lse)
            .buf(&targets)
            .buf(&scale)
            .f64(smoothing)
            .buf(&out);
        let kernel = format!("cross_entropy_backward_{}", sfx(logits.0.dtype()));
        launch(logits.0.device(), &SOFTMAX, &kernel, elementwise(n * classes), args)?;
    }
    Ok(out)
}
