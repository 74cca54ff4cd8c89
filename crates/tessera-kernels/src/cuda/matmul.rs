//! Matmul through cuBLAS: one strided-batched GEMM (`cublasGemmStridedBatchedEx`) per call.
//!
//! Row-major C = A B is column-major Cᵀ = Bᵀ Aᵀ, so the operands are passed swapped. A view is
//! read in place when its matrix strides are (ld, 1) or (1, ld) and its batch dims collapse to one
//! stride (0 for broadcast); otherwise it is first copied contiguous. f32 computes in f32 (no
//! TF32), f16/bf16 in f32, f64 in f64.

use super::buffer::CudaBuffer;
use super::copy::copy_strided;
use super::launch::strided_views;
use crate::cpu::MatmulShape;
use crate::{Error, Result};
use cudarc::cublas::{result as blas, sys};
use std::ffi::c_void;
use tessera_core::{DType, Layout, Shape};

/// One operand as cuBLAS reads it.
struct Operand {
    buf: CudaBuffer,
    offset: usize,
    transposed: bool,
    ld: usize,
    batch_stride: usize,
}

fn operand(buf: &CudaBuffer, layout: &Layout, batch: &[usize]) -> Result<Operand> {
    let r = layout.rank();
    let (rows, cols) = (layout.dims()[r - 2], layout.dims()[r - 1]);
    let mut full_dims = batch.to_vec();
    full_dims.extend([rows, cols]);
    let full = layout.broadcast_as(&Shape::new(full_dims.clone()))?;
    let b = batch.len();
    let (rs, cs) = (full.strides()[b], full.strides()[b + 1]);
    let batch_stride = if b == 0 {
        Some(0)
    } else {
        let part = Layout::new(Shape::from(&full.dims()[..b]), full.strides()[..b].to_vec(), 0)?;
        let v = strided_views(&[&part])?;
        (v[0].rank == 1).then_some(v[0].strides[0] as usize)
    };
    let plain = (cs == 1 || cols == 1) && (rs >= cols || rows == 1);
    let transposed = (rs == 1 || rows == 1) && (cs >= rows || cols == 1);
    match batch_stride {
        Some(bs) if plain => Ok(Operand {
            buf: buf.clone(),
            offset: full.offset(),
            transposed: false,
            ld: if rows == 1 { cols } else { rs }.max(1),
            batch_stride: bs,
        }),
        Some(bs) if transposed => Ok(Operand {
            buf: buf.clone(),
            offset: full.offset(),
            transposed: true,
            ld: if cols == 1 { rows } else { cs }.max(1),
            batch_stride: bs,
        }),
        _ => {
            let copy = copy_strided(buf, &full)?;
            Ok(Operand { buf: copy, offset: 0, transposed: false, ld: cols.max(1), batch_stride: rows * cols })
        }
    }
}

fn int(v: usize, what: &str) -> Result<i32> {
    i32::try_from(v).map_err(|_| Error::Cuda { op: "matmul", msg: format!("{what} {v} exceeds cuBLAS's 32-bit limit") })
}

/// Batched matmul with broadcast batch dims, as [`crate::cpu::matmul`].
pub fn matmul(lhs: &CudaBuffer, ll: &Layout, rhs: &CudaBuffer, rl: &Layout) -> Result<(CudaBuffer, Shape)> {
    if lhs.dtype() != rhs.dtype() {
        return Err(tessera_core::Error::DTypeMismatch { op: "matmul", lhs: lhs.dtype(), rhs: rhs.dtype() }.into());
    }
    let s = MatmulShape::new(ll, rl)?;
    let out_shape = s.out_shape();
    let dtype = lhs.dtype();
    let (data_type, compute) = match dtype {
        DType::F32 => (sys::cudaDataType::CUDA_R_32F, sys::cublasComputeType_t::CUBLAS_COMPUTE_32F),
        DType::F64 => (sys::cudaDataType::CUDA_R_64F, sys::cublasComputeType_t::CUBLAS_COMPUTE_64F),
        DType::F16 => (sys::cudaDataType::CUDA_R_16F, sys::cublasComputeType_t::CUBLAS_COMPUTE_32F),
        DType::BF16 => (sys::cudaDataType::CUDA_R_16BF, sys::cublasComputeType_t::CUBLAS_COMPUTE_32F),
        other => {
            return Err(tessera_core::Error::UnsupportedDType {
                op: "matmul",
                dtype: other,
                hint: " (cast to a float dtype first)",
            }
            .into())
        }
    };
    let count: usize = s.batch.iter().product();
    let (m, k, n) = (s.m, s.k, s.n);
    if count * m * n == 0 {
        return Ok((CudaBuffer::alloc(lhs.device(), dtype, 0)?, out_shape));
    }
    if k == 0 {
        return Ok((super::copy::full(lhs.device(), dtype, count * m * n, 0.0)?, out_shape));
    }
    let a = operand(lhs, ll, &s.batch)?;
    let b = operand(rhs, rl, &s.batch)?;
    let out = CudaBuffer::alloc(lhs.device(), dtype, count * m * n)?;
    let esize = dtype.size_in_bytes() as u64;
    let op = |t: bool| if t { sys::cublasOperation_t::CUBLAS_OP_T } else { sys::cublasOperation_t::CUBLAS_OP_N };
    let (one32, zero32, one64, zero64) = (1f32, 0f32, 1f64, 0f64);
    let (alpha, beta): (*const c_void, *const c_void) = if dtype == DType::F64 {
        (&one64 as *const f64 as _, &zero64 as *const f64 as _)
    } else {
        (&one32 as *const f32 as _, &zero32 as *const f32 as _)
    };
    let dev = lhs.device().clone();
    dev.bind()?;
    dev.with_blas(|handle| {
        // SAFETY: pointers address live device buffers holding the operands as described by
        // (op, ld, batch stride); alpha/beta live on this stack frame until the call returns
        // (host pointer mode); the handle runs on the device's stream.
        unsafe {
            blas::gemm_strided_batched_ex(
                *handle.handle(),
                op(b.transposed),
                op(a.transposed),
                int(n, "n")?,
                int(m, "m")?,
                int(k, "k")?,
                alpha,
                (b.buf.ptr() + b.offset as u64 * esize) as *const c_void,
                data_type,
                int(b.ld, "ldb")?,
                b.batch_stride as i64,
                (a.buf.ptr() + a.offset as u64 * esize) as *const c_void,
                data_type,
                int(a.ld, "lda")?,
                a.batch_stride as i64,
                beta,
                out.ptr() as *mut c_void,
                data_type,
                int(n, "ldc")?,
                (m * n) as i64,
                int(count, "batch")?,
                compute,
                sys::cublasGemmAlgo_t::CUBLAS_GEMM_DEFAULT,
            )
        }
        .map_err(|e| Error::Cuda { op: "cublasGemmStridedBatchedEx", msg: format!("{e:?}") })
    })?;
    Ok((out, out_shape))
}
