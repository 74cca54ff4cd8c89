//! Matmul through cuBLAS: one strided-batched GEMM (`cublasGemmStridedBatchedEx`) per call.
//!
//! Row-major C = A B is column-major Cᵀ = Bᵀ Aᵀ, so the operands are passed swapped. A view is
//! read in place when its matrix strides are (ld, 1) or (1, ld) and its batch dims collapse to one
//! stride (0 for broadcast); otherwise it is first copied contiguous. f32 computes in f32 (no
//! TF32), f16/bf16 in f32, f64 in f64.

use super::buffer::{expect_dtype, CudaBuffer};
use super::copy::copy_strided;
use super::emulator::Gemm;
use super::launch::strided_views;
use crate::plan::MatmulPlan;
use crate::{Error, Result};
use cudarc::cublas::{result as blas, sys};
use std::ffi::c_void;
use tessera_core::{DType, Layout, Shape};

/// How cuBLAS reads one operand: in place from `offset` (elements), or from a contiguous copy of
/// the broadcast view `full` (then `offset` is 0, `transposed` false, `ld` the column count).
#[derive(Debug, Clone, PartialEq)]
struct OperandRead {
    copy: Option<Layout>,
    offset: usize,
    transposed: bool,
    ld: usize,
    batch_stride: usize,
}

/// Decides how to pass the matrix view `layout` (broadcast over `batch`): a row-major matrix with
/// strides (ld, 1) is read as is, one with strides (1, ld) with op T, and the batch dims must
/// collapse to one stride (0 when broadcast). Anything else is copied contiguous first.
fn operand_read(layout: &Layout, batch: &[usize]) -> Result<OperandRead> {
    let r = layout.rank();
    let (rows, cols) = (layout.dims()[r - 2], layout.dims()[r - 1]);
    let mut full_dims = batch.to_vec();
    full_dims.extend([rows, cols]);
    let full = layout.broadcast_as(&Shape::new(full_dims))?;
    let b = batch.len();
    let (rs, cs) = (full.strides()[b], full.strides()[b + 1]);
    let batch_stride = if tessera_core::saturating_product(batch.iter().copied()) <= 1 {
        Some(0)
    } else {
        let part = Layout::new(Shape::from(&full.dims()[..b]), full.strides()[..b].to_vec(), 0)?;
        strided_views(&[&part]).ok().filter(|v| v[0].rank == 1).map(|v| v[0].strides[0] as usize)
    };
    let plain = (cs == 1 || cols == 1) && (rs >= cols || rows == 1);
    let transposed = (rs == 1 || rows == 1) && (cs >= rows || cols == 1);
    Ok(match batch_stride {
        Some(bs) if plain => OperandRead {
            copy: None,
            offset: full.offset(),
            transposed: false,
            ld: if rows == 1 { cols } else { rs }.max(1),
            batch_stride: bs,
        },
        Some(bs) if transposed => OperandRead {
            copy: None,
            offset: full.offset(),
            transposed: true,
            ld: if cols == 1 { rows } else { cs }.max(1),
            batch_stride: bs,
        },
        _ => OperandRead { copy: Some(full), offset: 0, transposed: false, ld: cols.max(1), batch_stride: rows * cols },
    })
}

/// One operand ready for cuBLAS.
struct Operand {
    buf: CudaBuffer,
    read: OperandRead,
}

fn operand(buf: &CudaBuffer, layout: &Layout, batch: &[usize]) -> Result<Operand> {
    let read = operand_read(layout, batch)?;
    let buf = match &read.copy {
        Some(full) => copy_strided(buf, full)?,
        None => buf.clone(),
    };
    Ok(Operand { buf, read })
}

fn int(v: usize, what: &str) -> Result<i32> {
    i32::try_from(v).map_err(|_| Error::Cuda { op: "matmul", msg: format!("{what} {v} exceeds cuBLAS's 32-bit limit") })
}

/// Row-major `C = A B` in cuBLAS's column-major terms, `Cᵀ = Bᵀ Aᵀ`: the operands swapped, each
/// read as its [`OperandRead`] says from the buffer at address `base`; `count` products of
/// `m x n` at `out`, added to what is there when `accumulate`.
fn column_major(
    dtype: DType,
    [m, k, n]: [usize; 3],
    count: usize,
    (a, a_base): (&OperandRead, u64),
    (b, b_base): (&OperandRead, u64),
    out: u64,
    accumulate: bool,
) -> Gemm {
    let esize = dtype.size_in_bytes() as u64;
    let at = |r: &OperandRead, base: u64| (base + r.offset as u64 * esize, r.ld, r.batch_stride);
    Gemm {
        dtype,
        transposed: (b.transposed, a.transposed),
        m: n,
        n: m,
        k,
        a: at(b, b_base),
        b: at(a, a_base),
        c: (out, n, m * n),
        count,
        accumulate,
    }
}

/// The plan's `lhs @ rhs` (+ `bias` rows), as [`crate::cpu::matmul`]: cuBLAS accumulates
/// (beta = 1) onto the bias rows when there are some.
pub fn matmul(plan: &MatmulPlan, lhs: &CudaBuffer, rhs: &CudaBuffer, bias: Option<&CudaBuffer>) -> Result<CudaBuffer> {
    let op = if plan.bias.is_some() { "matmul_bias" } else { "matmul" };
    expect_dtype(op, plan.dtype, &[lhs, rhs])?;
    let s = &plan.shape;
    // The output's initial value: the bias rows, or nothing (beta = 0).
    let init = match (bias, &plan.bias) {
        (Some(b), Some(bl)) => {
            expect_dtype(op, plan.dtype, &[b])?;
            let rows = Layout::new(Shape::new(vec![s.count() * s.m, s.n]), vec![0, bl.strides()[0]], bl.offset())?;
            Some(copy_strided(b, &rows)?)
        }
        _ => None,
    };
    let (ll, rl) = (&plan.lhs, &plan.rhs);
    let dtype = plan.dtype;
    let (data_type, compute) = match dtype {
        DType::F32 => (sys::cudaDataType::CUDA_R_32F, sys::cublasComputeType_t::CUBLAS_COMPUTE_32F),
        DType::F64 => (sys::cudaDataType::CUDA_R_64F, sys::cublasComputeType_t::CUBLAS_COMPUTE_64F),
        DType::F16 => (sys::cudaDataType::CUDA_R_16F, sys::cublasComputeType_t::CUBLAS_COMPUTE_32F),
        DType::BF16 => (sys::cudaDataType::CUDA_R_16BF, sys::cublasComputeType_t::CUBLAS_COMPUTE_32F),
        _ => unreachable!("the plan admits float dtypes only"),
    };
    let (count, len) = (s.count(), s.out_elem_count());
    let (m, k, n) = (s.m, s.k, s.n);
    if len == 0 {
        return CudaBuffer::alloc(lhs.device(), dtype, 0);
    }
    if k == 0 {
        return init.map_or_else(|| super::creation::full(lhs.device(), dtype, len, 0.0), Ok);
    }
    let a = operand(lhs, ll, &s.batch)?;
    let b = operand(rhs, rl, &s.batch)?;
    let beta_one = init.is_some();
    let out = match init {
        Some(b) => b,
        None => CudaBuffer::alloc(lhs.device(), dtype, len)?,
    };
    let g = column_major(dtype, [m, k, n], count, (&a.read, a.buf.ptr()), (&b.read, b.buf.ptr()), out.ptr(), beta_one);
    let op = |t: bool| if t { sys::cublasOperation_t::CUBLAS_OP_T } else { sys::cublasOperation_t::CUBLAS_OP_N };
    let (one32, zero32, one64, zero64) = (1f32, 0f32, 1f64, 0f64);
    let (alpha, beta): (*const c_void, *const c_void) = match (dtype == DType::F64, beta_one) {
        (true, false) => (&one64 as *const f64 as _, &zero64 as *const f64 as _),
        (true, true) => (&one64 as *const f64 as _, &one64 as *const f64 as _),
        (false, false) => (&one32 as *const f32 as _, &zero32 as *const f32 as _),
        (false, true) => (&one32 as *const f32 as _, &one32 as *const f32 as _),
    };
    let dev = lhs.device().clone();
    if dev.is_emulated() {
        // SAFETY: the same operands, leading dims and strides cuBLAS would read, in host memory.
        unsafe { g.run_on_host() };
        return Ok(out);
    }
    dev.bind()?;
    dev.with_blas(|handle| {
        // SAFETY: pointers address live device buffers holding the operands as described by
        // (op, ld, batch stride); alpha/beta live on this stack frame until the call returns
        // (host pointer mode); the handle runs on the device's stream.
        unsafe {
            blas::gemm_strided_batched_ex(
                *handle.handle(),
                op(g.transposed.0),
                op(g.transposed.1),
                int(g.m, "n")?,
                int(g.n, "m")?,
                int(g.k, "k")?,
                alpha,
                g.a.0 as *const c_void,
                data_type,
                int(g.a.1, "ldb")?,
                g.a.2 as i64,
                g.b.0 as *const c_void,
                data_type,
                int(g.b.1, "lda")?,
                g.b.2 as i64,
                beta,
                g.c.0 as *mut c_void,
                data_type,
                int(g.c.1, "ldc")?,
                g.c.2 as i64,
                int(g.count, "batch")?,
                compute,
                sys::cublasGemmAlgo_t::CUBLAS_GEMM_DEFAULT,
            )
        }
        .map_err(|e| Error::Cuda { op: "cublasGemmStridedBatchedEx", msg: format!("{e:?}") })
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cpu::{self, CpuBuffer};
    use crate::plan::Arg;

    /// The host side of `matmul` (operand reads, operand swap, leading dims, batch strides) fed
    /// to the emulator's model of cuBLAS gives the CPU reference's product, for plain, transposed,
    /// narrowed, expanded and broadcast-batched views.
    #[test]
    fn gemm_parameters_reproduce_the_cpu_product() {
        let data = |n: usize, seed: u64| -> Vec<f64> {
            (0..n).map(|i| ((i as u64 * 7 + seed * 13) % 17) as f64 - 8.0).collect()
        };
        let c = |dims: &[usize]| Layout::contiguous(Shape::new(dims.to_vec()));
        let cases: Vec<(Layout, Layout)> = vec![
            (c(&[4, 3]), c(&[3, 5])),
            (c(&[3, 4]).transpose(0, 1).unwrap(), c(&[5, 3]).transpose(0, 1).unwrap()),
            (c(&[2, 4, 3]), c(&[3, 5])),
            (c(&[1, 3]), c(&[3, 1])),
            (c(&[4, 6]).narrow(1, 1, 3).unwrap(), c(&[3, 7]).narrow(1, 2, 5).unwrap()),
            (c(&[4, 3]).unsqueeze(0).unwrap().broadcast_as(&Shape::new(vec![3, 4, 3])).unwrap(), c(&[3, 3, 5])),
            (c(&[2, 1, 4, 3]), c(&[3, 3, 5]).transpose(1, 2).unwrap().transpose(1, 2).unwrap()),
            (c(&[3, 2, 4, 3]).permute(&[1, 0, 2, 3]).unwrap(), c(&[3, 5])),
            (c(&[5, 3]).unsqueeze(1).unwrap().broadcast_as(&Shape::new(vec![5, 4, 3])).unwrap(), c(&[3, 2])),
        ];
        for (ll, rl) in cases {
            let (a, b) = (data(ll.required_len(), 1), data(rl.required_len(), 2));
            let plan = MatmulPlan::new(Arg::new(DType::F64, &ll), Arg::new(DType::F64, &rl), None).unwrap();
            let want = cpu::matmul(&plan, &CpuBuffer::F64(a.clone()), &CpuBuffer::F64(b.clone()), None).unwrap();
            let (s, shape) = (&plan.shape, plan.out_shape());
            let (pa, pb) = (operand_read(&ll, &s.batch).unwrap(), operand_read(&rl, &s.batch).unwrap());
            let read = |p: &OperandRead, src: &[f64]| -> Vec<f64> {
                match &p.copy {
                    Some(full) => {
                        cpu::copy_strided(&CpuBuffer::F64(src.to_vec()), full).as_slice::<f64>().unwrap().to_vec()
                    }
                    None => src.to_vec(),
                }
            };
            let count = s.batch.iter().product::<usize>().max(1);
            let (rb, ra) = (read(&pb, &b), read(&pa, &a));
            let mut got = vec![0.0; count * s.m * s.n];
            let (ab, bb, out) = (ra.as_ptr() as u64, rb.as_ptr() as u64, got.as_mut_ptr() as u64);
            let gemm = column_major(DType::F64, [s.m, s.k, s.n], count, (&pa, ab), (&pb, bb), out, false);
            // SAFETY: the reads hold every element their leading dims and strides reach (the
            // test's claim), and `got` the whole output.
            unsafe { gemm.run_on_host() };
            let what = format!("{} x {} (reads {pa:?} {pb:?})", ll.shape(), rl.shape());
            assert_eq!(&got[..shape.elem_count()], want.as_slice::<f64>().unwrap(), "{what}");
            // cuBLAS's rules: the leading dim covers the stored matrix's first (column-major) dim.
            assert!(pb.ld >= if pb.transposed { s.k } else { s.n }.max(1), "ldb {what}");
            assert!(pa.ld >= if pa.transposed { s.m } else { s.k }.max(1), "lda {what}");
        }
    }
}
