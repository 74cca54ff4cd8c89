//! Broadcast binary ops, comparisons and `where` (`kernels/binary.cu`).

use super::buffer::CudaBuffer;
use super::launch::{elementwise, launch, sfx, strided_views, Args};
use super::source::BINARY;
use crate::ops::{BinaryOp, CmpOp};
use crate::Result;
use tessera_core::{broadcast_shapes, DType, Error, Layout, Shape};

fn same_dtype(op: &'static str, a: &CudaBuffer, b: &CudaBuffer) -> Result<()> {
    if a.dtype() != b.dtype() {
        return Err(Error::DTypeMismatch { op, lhs: a.dtype(), rhs: b.dtype() }.into());
    }
    Ok(())
}

fn broadcast_pair(op: &'static str, ll: &Layout, rl: &Layout) -> Result<(Shape, Layout, Layout)> {
    let shape = broadcast_shapes(ll.shape(), rl.shape(), op)?;
    Ok((shape.clone(), ll.broadcast_as(&shape)?, rl.broadcast_as(&shape)?))
}

fn zip(
    kernel: String,
    a: &CudaBuffer,
    ll: &Layout,
    b: &CudaBuffer,
    rl: &Layout,
    out_dtype: DType,
) -> Result<CudaBuffer> {
    let n = ll.elem_count();
    let out = CudaBuffer::alloc(a.device(), out_dtype, n)?;
    if n > 0 {
        let v = strided_views(&[ll, rl])?;
        let args = Args::new().u64(n as u64).view(&v[0]).view(&v[1]).buf(a).buf(b).buf(&out);
        launch(a.device(), &BINARY, &kernel, elementwise(n), args)?;
    }
    Ok(out)
}

/// `op(lhs, rhs)` after broadcasting; the same rules and errors as [`crate::cpu::binary`].
pub fn binary(
    op: BinaryOp,
    lhs: &CudaBuffer,
    ll: &Layout,
    rhs: &CudaBuffer,
    rl: &Layout,
) -> Result<(CudaBuffer, Shape)> {
    same_dtype(op.name(), lhs, rhs)?;
    let (shape, ll, rl) = broadcast_pair(op.name(), ll, rl)?;
    let dtype = lhs.dtype();
    if dtype.is_int() {
        if op == BinaryOp::Pow {
            return Err(Error::UnsupportedDType { op: "pow", dtype, hint: " (cast to a float dtype first)" }.into());
        }
        if op == BinaryOp::Div {
            // Integer division by zero is an error, as on the CPU: check the divisor on the host.
            let divisor = super::copy::copy_strided(rhs, &rl)?.to_cpu()?;
            let flat = Layout::contiguous(Shape::new(vec![divisor.len()]));
            if divisor.to_f64_vec(&flat).contains(&0.0) {
                return Err(Error::InvalidArgument {
                    op: "div",
                    msg: format!("integer division by zero ({dtype} divisor)"),
                }
                .into());
            }
        }
    }
    let out = zip(format!("binary_{}_{}", op.name(), sfx(dtype)), lhs, &ll, rhs, &rl, dtype)?;
    Ok((out, shape))
}

/// `op(lhs, rhs)` after broadcasting: a `u8` mask.
pub fn compare(op: CmpOp, lhs: &CudaBuffer, ll: &Layout, rhs: &CudaBuffer, rl: &Layout) -> Result<(CudaBuffer, Shape)> {
    same_dtype(op.name(), lhs, rhs)?;
    let (shape, ll, rl) = broadcast_pair(op.name(), ll, rl)?;
    let out = zip(format!("cmp_{}_{}", op.name(), sfx(lhs.dtype())), lhs, &ll, rhs, &rl, DType::U8)?;
    Ok((out, shape))
}

/// `mask ? on_true : on_false`, all three broadcast; the mask must be `u8`.
pub fn where_cond(
    mask: &CudaBuffer,
    ml: &Layout,
    on_true: &CudaBuffer,
    tl: &Layout,
    on_false: &CudaBuffer,
    fl: &Layout,
) -> Result<(CudaBuffer, Shape)> {
    if mask.dtype() != DType::U8 {
        return Err(Error::UnsupportedDType {
            op: "where",
            dtype: mask.dtype(),
            hint: " for the mask (expected u8, as comparisons give)",
        }
        .into());
    }
    same_dtype("where", on_true, on_false)?;
    let shape = broadcast_shapes(ml.shape(), tl.shape(), "where")?;
    let shape = broadcast_shapes(&shape, fl.shape(), "where")?;
    let (ml, tl, fl) = (ml.broadcast_as(&shape)?, tl.broadcast_as(&shape)?, fl.broadcast_as(&shape)?);
    let n = shape.elem_count();
    let out = CudaBuffer::alloc(mask.device(), on_true.dtype(), n)?;
    if n > 0 {
        let v = strided_views(&[&ml, &tl, &fl])?;
        let args = Args::new()
            .u64(n as u64)
            .view(&v[0])
            .view(&v[1])
            .view(&v[2])
            .buf(mask)
            .buf(on_true)
            .buf(on_false)
            .buf(&out);
        launch(mask.device(), &BINARY, &format!("where_{}", sfx(on_true.dtype())), elementwise(n), args)?;
    }
    Ok((out, shape))
}
