//! index_select, gather and scatter_add (`kernels/index.cu`). Indices are checked on the device
//! (one small read-back) so that an out-of-range index is an error, as on the CPU.

use super::buffer::CudaBuffer;
use super::copy::{cast, copy_strided, full};
use super::launch::{elementwise, launch, sfx, strided, strided_exact, Args};
use super::source::INDEX;
use crate::cpu::index::{check_dim, check_index_shape};
use crate::cpu::CpuBuffer;
use crate::Result;
use tessera_core::{DType, Error, Layout, Shape};

/// The indices as a contiguous i64 buffer, each checked to lie in `0..size`.
pub(crate) fn checked_indices(
    op: &'static str,
    idx: &CudaBuffer,
    il: &Layout,
    dim: usize,
    size: usize,
) -> Result<CudaBuffer> {
    if !matches!(idx.dtype(), DType::U32 | DType::I64) {
        return Err(Error::UnsupportedDType { op, dtype: idx.dtype(), hint: " for indices (use u32 or i64)" }.into());
    }
    let wide = cast(idx, il, DType::I64)?;
    let n = wide.len();
    if n == 0 {
        return Ok(wide);
    }
    // All ones: "no bad position yet".
    let bad = full(idx.device(), DType::I64, 1, -1.0)?;
    let args = Args::new().u64(n as u64).buf(&wide).u64(size as u64).buf(&bad);
    launch(idx.device(), &INDEX, "check_indices", elementwise(n), args)?;
    if let CpuBuffer::I64(first) = bad.to_cpu()? {
        if first[0] != -1 {
            // The error path only: fetch the offending value.
            if let CpuBuffer::I64(all) = wide.to_cpu()? {
                return Err(Error::IndexOutOfRange { op, index: all[first[0] as usize], dim, size }.into());
            }
        }
    }
    Ok(wide)
}

/// Rows `idx` (1-D) of `dim`, as [`crate::cpu::index_select`].
pub fn index_select(
    buf: &CudaBuffer,
    layout: &Layout,
    dim: usize,
    idx: &CudaBuffer,
    il: &Layout,
) -> Result<(CudaBuffer, Shape)> {
    check_dim("index_select", layout, dim)?;
    if il.rank() != 1 {
        return Err(Error::InvalidArgument {
            op: "index_select",
            msg: format!("indices must be 1-D, got shape {}", il.shape()),
        }
        .into());
    }
    let size = layout.dims()[dim];
    let indices = checked_indices("index_select", idx, il, dim, size)?;
    let mut dims = layout.dims().to_vec();
    dims[dim] = indices.len();
    let shape = Shape::new(dims);
    let inner: usize = shape.dims()[dim + 1..].iter().product();
    let n = shape.elem_count();
    let out = CudaBuffer::alloc(buf.device(), buf.dtype(), n)?;
    if n > 0 {
        let args = Args::new()
            .u64(n as u64)
            .u64(indices.len() as u64)
            .u64(size as u64)
            .u64(inner as u64)
            .view(&strided(layout)?)
            .buf(buf)
            .buf(&indices)
            .buf(&out);
        launch(buf.device(), &INDEX, &format!("index_select_{}", sfx(buf.dtype())), elementwise(n), args)?;
    }
    Ok((out, shape))
}

/// `out[c] = src[c with c[dim] = idx[c]]`, as [`crate::cpu::gather`].
pub fn gather(
    buf: &CudaBuffer,
    layout: &Layout,
    dim: usize,
    idx: &CudaBuffer,
    il: &Layout,
) -> Result<(CudaBuffer, Shape)> {
    check_dim("gather", layout, dim)?;
    check_index_shape("gather", il, layout, dim, false)?;
    let indices = checked_indices("gather", idx, il, dim, layout.dims()[dim])?;
    let n = il.elem_count();
    let out = CudaBuffer::alloc(buf.device(), buf.dtype(), n)?;
    if n > 0 {
        let view = strided_exact(il.dims(), layout.strides(), layout.offset())?;
        let args = Args::new().u64(n as u64).u64(dim as u64).view(&view).buf(buf).buf(&indices).buf(&out);
        launch(buf.device(), &INDEX, &format!("gather_{}", sfx(buf.dtype())), elementwise(n), args)?;
    }
    Ok((out, il.shape().clone()))
}

/// A copy of `base` with `src` added at `idx` along `dim` (atomicAdd), as [`crate::cpu::scatter_add`].
pub fn scatter_add(
    base: &CudaBuffer,
    bl: &Layout,
    dim: usize,
    idx: &CudaBuffer,
    il: &Layout,
    src: &CudaBuffer,
    sl: &Layout,
) -> Result<CudaBuffer> {
    check_dim("scatter_add", bl, dim)?;
    if base.dtype() != src.dtype() {
        return Err(Error::DTypeMismatch { op: "scatter_add", lhs: base.dtype(), rhs: src.dtype() }.into());
    }
    check_index_shape("scatter_add", il, sl, dim, true)?;
    check_index_shape("scatter_add", il, bl, dim, false)?;
    let indices = checked_indices("scatter_add", idx, il, dim, bl.dims()[dim])?;
    let out = copy_strided(base, bl)?;
    let n = il.elem_count();
    if n > 0 {
        let ss = strided_exact(il.dims(), sl.strides(), sl.offset())?;
        let os = strided_exact(il.dims(), &bl.shape().contiguous_strides(), 0)?;
        let args = Args::new().u64(n as u64).u64(dim as u64).view(&ss).view(&os).buf(src).buf(&indices).buf(&out);
        launch(base.device(), &INDEX, &format!("scatter_add_{}", sfx(base.dtype())), elementwise(n), args)?;
    }
    Ok(out)
}
