//! index_select, gather and scatter_add (`kernels/index.cu`). Indices are checked on the device
//! (one small read-back) so that an out-of-range index is an error, as on the CPU.

use super::buffer::{expect_dtype, CudaBuffer};
use super::cast::cast;
use super::copy::copy_strided;
use super::creation::full;
use super::launch::{elementwise, launch, strided, strided_exact, Args};
use super::source::INDEX;
use crate::cpu::CpuBuffer;
use crate::plan::{index_out_of_range, GatherPlan, IndexSelectPlan, ScatterAddPlan};
use crate::Result;
use tessera_core::{DType, Layout};

/// The indices (u32 or i64, checked by the plan) as a contiguous i64 buffer, each checked to lie
/// in `0..size`.
pub(crate) fn checked_indices(
    op: &'static str,
    idx: &CudaBuffer,
    il: &Layout,
    dim: usize,
    size: usize,
) -> Result<CudaBuffer> {
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
                return Err(index_out_of_range(op, all[first[0] as usize], dim, size));
            }
        }
    }
    Ok(wide)
}

/// The slices `idx[j]` along the plan's dim, as [`crate::cpu::index_select`].
pub fn index_select(plan: &IndexSelectPlan, buf: &CudaBuffer, idx: &CudaBuffer) -> Result<CudaBuffer> {
    expect_dtype("index_select", plan.dtype, &[buf])?;
    let indices = checked_indices("index_select", idx, &plan.indices, plan.dim, plan.size)?;
    let n = plan.out_shape.elem_count();
    let out = CudaBuffer::alloc(buf.device(), plan.dtype, n)?;
    if n > 0 {
        let args = Args::new()
            .u64(n as u64)
            .u64(indices.len() as u64)
            .u64(plan.size as u64)
            .u64(plan.inner() as u64)
            .view(&strided(&plan.input)?)
            .buf(buf)
            .buf(&indices)
            .buf(&out);
        launch(buf.device(), &INDEX, &format!("index_select_{}", plan.dtype.as_str()), elementwise(n), args)?;
    }
    Ok(out)
}

/// `out[c] = src[c with c[dim] = idx[c]]`, as [`crate::cpu::gather`].
pub fn gather(plan: &GatherPlan, buf: &CudaBuffer, idx: &CudaBuffer) -> Result<CudaBuffer> {
    expect_dtype("gather", plan.dtype, &[buf])?;
    let indices = checked_indices("gather", idx, &plan.index, plan.dim, plan.size)?;
    let n = plan.index.elem_count();
    let out = CudaBuffer::alloc(buf.device(), plan.dtype, n)?;
    if n > 0 {
        let view = strided_exact(plan.index.dims(), plan.input.strides(), plan.input.offset())?;
        let args = Args::new().u64(n as u64).u64(plan.dim as u64).view(&view).buf(buf).buf(&indices).buf(&out);
        launch(buf.device(), &INDEX, &format!("gather_{}", plan.dtype.as_str()), elementwise(n), args)?;
    }
    Ok(out)
}

/// A copy of `base` with `src` added at `idx` along the plan's dim (atomicAdd), as
/// [`crate::cpu::scatter_add`].
pub fn scatter_add(plan: &ScatterAddPlan, base: &CudaBuffer, idx: &CudaBuffer, src: &CudaBuffer) -> Result<CudaBuffer> {
    expect_dtype("scatter_add", plan.dtype, &[base, src])?;
    let indices = checked_indices("scatter_add", idx, &plan.index, plan.dim, plan.size)?;
    let out = copy_strided(base, &plan.base)?;
    let n = plan.index.elem_count();
    if n > 0 {
        let il = &plan.index;
        let ss = strided_exact(il.dims(), plan.src.strides(), plan.src.offset())?;
        let os = strided_exact(il.dims(), &plan.base.shape().contiguous_strides(), 0)?;
        let args = Args::new().u64(n as u64).u64(plan.dim as u64).view(&ss).view(&os).buf(src).buf(&indices).buf(&out);
        launch(base.device(), &INDEX, &format!("scatter_add_{}", plan.dtype.as_str()), elementwise(n), args)?;
    }
    Ok(out)
}
