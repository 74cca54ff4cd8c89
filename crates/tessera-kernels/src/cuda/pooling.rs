//! 2-d pooling on the device (`kernels/pooling.cu`), as [`crate::cpu::max_pool2d`] and the
//! others: one thread per output element forward; the average's backward gathers per input
//! element, the max's adds atomically at the (checked) indices.

use super::buffer::{expect_dtype, CudaBuffer};
use super::cast::cast;
use super::copy::contiguous;
use super::creation::full;
use super::index::checked_indices;
use super::launch::{elementwise, launch, Args};
use super::source::POOLING;
use crate::plan::{AvgPool2dSpec, PoolBackwardPlan, PoolKind, PoolPlan};
use crate::Result;
use tessera_core::{DType, Layout, Shape};

/// The plane count and both axes, in the kernels' parameter order.
fn axes_args(plan: &PoolPlan) -> Args {
    let words = std::iter::once(plan.planes as u64).chain(plan.axis_args(0)).chain(plan.axis_args(1));
    words.fold(Args::new(), |a, v| a.u64(v))
}

/// An average pooling's divisor rule: whether the padding counts, and the override (0: none).
fn divisor_args(plan: &PoolPlan, args: Args) -> Args {
    match plan.kind {
        PoolKind::Avg(AvgPool2dSpec { count_include_pad, divisor_override, .. }) => {
            args.i32(count_include_pad as i32).u64(divisor_override.unwrap_or(0) as u64)
        }
        _ => args.i32(0).u64(0),
    }
}

/// Max pooling: `[y, indices]`, as [`crate::cpu::max_pool2d`].
pub fn max_pool2d(plan: &PoolPlan, x: &CudaBuffer) -> Result<[CudaBuffer; 2]> {
    expect_dtype("max_pool2d", plan.dtype, &[x])?;
    let dev = x.device().clone();
    let n = plan.planes * plan.plane_out();
    let (y, idx) = (CudaBuffer::alloc(&dev, plan.dtype, n)?, CudaBuffer::alloc(&dev, DType::I64, n)?);
    if n > 0 {
        let xc = contiguous(x, &plan.x)?;
        let args = axes_args(plan).buf(&xc).buf(&y).buf(&idx);
        launch(&dev, &POOLING, &format!("max_pool2d_{}", plan.dtype.as_str()), elementwise(n), args)?;
    }
    Ok([y, idx])
}

/// Average pooling, plain or adaptive, as [`crate::cpu::avg_pool2d`].
pub fn avg_pool2d(plan: &PoolPlan, x: &CudaBuffer) -> Result<CudaBuffer> {
    expect_dtype(plan.kind.name(), plan.dtype, &[x])?;
    let dev = x.device().clone();
    let n = plan.planes * plan.plane_out();
    let y = CudaBuffer::alloc(&dev, plan.dtype, n)?;
    if n > 0 {
        let xc = contiguous(x, &plan.x)?;
        let args = divisor_args(plan, axes_args(plan)).buf(&xc).buf(&y);
        launch(&dev, &POOLING, &format!("avg_pool2d_{}", plan.dtype.as_str()), elementwise(n), args)?;
    }
    Ok(y)
}

/// The input's gradient of max pooling, as [`crate::cpu::max_pool2d_backward`] (an index
/// outside its input plane is the same error).
pub fn max_pool2d_backward(plan: &PoolBackwardPlan, dy: &CudaBuffer, indices: &CudaBuffer) -> Result<CudaBuffer> {
    const OP: &str = "max_pool2d_backward";
    let f = &plan.forward;
    expect_dtype(OP, f.dtype, &[dy])?;
    expect_dtype(OP, DType::I64, &[indices])?;
    let il = plan.indices.as_ref().expect("the plan of a max pooling holds its indices' view");
    let dev = dy.device().clone();
    let (pin, pout) = (f.plane_in(), f.plane_out());
    let idx = checked_indices(OP, indices, il, f.out_shape.rank() - 1, pin)?;
    // Accumulate in the kernels' arithmetic type: f32 for the half types.
    let wide = if matches!(f.dtype, DType::F16 | DType::BF16) { DType::F32 } else { f.dtype };
    let acc = full(&dev, wide, f.planes * pin, 0.0)?;
    let n = f.planes * pout;
    if n > 0 {
        let dyc = contiguous(dy, &plan.dy)?;
        let args = Args::new().u64(n as u64).u64(pin as u64).u64(pout as u64).buf(&dyc).buf(&idx).buf(&acc);
        launch(&dev, &POOLING, &format!("{OP}_{}", f.dtype.as_str()), elementwise(n), args)?;
    }
    if wide == f.dtype {
        Ok(acc)
    } else {
        cast(&acc, &Layout::contiguous(Shape::new(vec![acc.len()])), f.dtype)
    }
}

/// The input's gradient of average pooling, plain or adaptive, as
/// [`crate::cpu::avg_pool2d_backward`].
pub fn avg_pool2d_backward(plan: &PoolBackwardPlan, dy: &CudaBuffer) -> Result<CudaBuffer> {
    let f = &plan.forward;
    expect_dtype(f.kind.backward_name(), f.dtype, &[dy])?;
    let dev = dy.device().clone();
    let n = f.planes * f.plane_in();
    let dx = CudaBuffer::alloc(&dev, f.dtype, n)?;
    if n > 0 {
        let dyc = contiguous(dy, &plan.dy)?;
        let args = divisor_args(f, axes_args(f)).buf(&dyc).buf(&dx);
        launch(&dev, &POOLING, &format!("avg_pool2d_backward_{}", f.dtype.as_str()), elementwise(n), args)?;
    }
    Ok(dx)
}
