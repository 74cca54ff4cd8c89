//! Fused scaled-dot-product attention on the device (`kernels/attention.cu`), as
//! [`crate::cpu::attention`]: the operands are made contiguous, then one kernel runs the forward
//! and three (the rows' correction term, dK and dV, dQ) the backward.

use super::buffer::{expect_dtype, CudaBuffer};
use super::copy::contiguous;
use super::launch::{launch, Args, Shape3};
use super::source::ATTENTION;
use crate::plan::{AttentionBackwardPlan, AttentionPlan};
use crate::Result;
use tessera_core::{saturating_product, DType};

/// Widest rows the kernels take (`TS_ATTN_MAX_D`).
const MAX_DIM: usize = 128;
/// Threads per block: four warps, a row each (the kernels' shared arrays hold four).
const THREADS: u32 = 128;

/// The arguments every kernel takes first, in `TS_ATTN_ARGS`' order.
fn head_args(plan: &AttentionPlan, has_mask: bool) -> Args {
    let (seed, first, p) = plan.spec.dropout.map_or((0, 0, 0.0), |d| (d.seed, d.first, d.p));
    Args::new()
        .u64(plan.problems as u64)
        .u64(plan.heads as u64)
        .u64(plan.q_len as u64)
        .u64(plan.kv_len as u64)
        .u64(plan.head_dim as u64)
        .u64(plan.v_dim as u64)
        .i32(plan.spec.causal as i32)
        .f64(plan.scale)
        .i32(has_mask as i32)
        .f64(p)
        .u64(seed)
        .u64(first)
}

/// A block per four rows of `rows` per problem.
pub(super) fn rows_launch(plan: &AttentionPlan, rows: usize) -> Shape3 {
    let units = plan.problems * rows.div_ceil(4);
    Shape3 { grid: units.clamp(1, 1 << 16) as u32, block: THREADS }
}

fn check_width(plan: &AttentionPlan, op: &'static str) -> Result<()> {
    if plan.head_dim > MAX_DIM || plan.v_dim > MAX_DIM {
        let msg = format!("head dims {} and {} exceed the CUDA kernels' {MAX_DIM}", plan.head_dim, plan.v_dim);
        return Err(tessera_core::Error::InvalidArgument { op, msg }.into());
    }
    Ok(())
}

/// The operands, contiguous, and the mask (or a one-byte stand-in the kernels never read).
fn operands(
    plan: &AttentionPlan,
    qkv: [&CudaBuffer; 3],
    mask: Option<&CudaBuffer>,
) -> Result<([CudaBuffer; 3], CudaBuffer)> {
    let dev = qkv[0].device();
    let [q, k, v] = qkv;
    let bufs = [contiguous(q, &plan.q)?, contiguous(k, &plan.k)?, contiguous(v, &plan.v)?];
    let mask = match (mask, &plan.key_padding) {
        (Some(m), Some(l)) => {
            expect_dtype("attention", DType::U8, &[m])?;
            contiguous(m, l)?
        }
        _ => CudaBuffer::alloc(dev, DType::U8, 1)?,
    };
    Ok((bufs, mask))
}

/// The plan's attention: `[out, lse]`, as [`crate::cpu::attention`].
pub fn attention(plan: &AttentionPlan, qkv: [&CudaBuffer; 3], mask: Option<&CudaBuffer>) -> Result<[CudaBuffer; 2]> {
    expect_dtype("attention", plan.dtype, &qkv)?;
    check_width(plan, "attention")?;
    let dev = qkv[0].device().clone();
    let ([q, k, v], m) = operands(plan, qkv, mask)?;
    let out = CudaBuffer::alloc(&dev, plan.dtype, plan.out_shape.elem_count())?;
    if plan.head_dim == 0 && plan.v_dim == 0 {
        // No dims: the log-sum-exp counts the keys each row sees, which the CPU kernel does
        // without walking kv_len keys (that empty k and v do not bound).
        let m = mask.map(CudaBuffer::to_cpu).transpose()?;
        let none = crate::cpu::CpuBuffer::zeros(plan.dtype, 0);
        let [_, lse] = crate::cpu::attention(plan, [&none, &none, &none], m.as_ref())?;
        return Ok([out, CudaBuffer::from_cpu(&dev, &lse)?]);
    }
    let lse = CudaBuffer::alloc(&dev, plan.lse_dtype, plan.problems * plan.q_len)?;
    if plan.problems * plan.q_len > 0 {
        let args = head_args(plan, mask.is_some()).buf(&q).buf(&k).buf(&v).buf(&m).buf(&out).buf(&lse);
        let kernel = format!("attention_{}", plan.dtype.as_str());
        launch(&dev, &ATTENTION, &kernel, rows_launch(plan, plan.q_len), args)?;
    }
    Ok([out, lse])
}

/// The gradients `[dq, dk, dv]`, as [`crate::cpu::attention_backward`].
pub fn attention_backward(
    plan: &AttentionBackwardPlan,
    qkv: [&CudaBuffer; 3],
    mask: Option<&CudaBuffer>,
    out_lse_dout: [&CudaBuffer; 3],
) -> Result<[CudaBuffer; 3]> {
    let f = &plan.forward;
    expect_dtype("attention_backward", f.dtype, &qkv)?;
    check_width(f, "attention_backward")?;
    let [out, lse, d_out] = out_lse_dout;
    expect_dtype("attention_backward", f.dtype, &[out, d_out])?;
    expect_dtype("attention_backward", f.lse_dtype, &[lse])?;
    let dev = qkv[0].device().clone();
    let ([q, k, v], m) = operands(f, qkv, mask)?;
    let (out, lse, d_out) = (contiguous(out, &plan.out)?, contiguous(lse, &plan.lse)?, contiguous(d_out, &plan.d_out)?);
    let rows = f.problems * f.q_len;
    let delta = CudaBuffer::alloc(&dev, f.lse_dtype, rows)?;
    let dq = CudaBuffer::alloc(&dev, f.dtype, rows * f.head_dim)?;
    // Without query rows no kernel writes dK and dV: they are zero.
    // Zero-aware: without query rows the plan's problem count may have saturated.
    let keys =
        |width: usize| super::creation::full(&dev, f.dtype, saturating_product([f.problems, f.kv_len, width]), 0.0);
    let (dk, dv) = (keys(f.head_dim)?, keys(f.v_dim)?);
    let sfx = f.dtype.as_str();
    if rows > 0 {
        let args = Args::new().u64(rows as u64).u64(f.v_dim as u64).buf(&out).buf(&d_out).buf(&delta);
        launch(&dev, &ATTENTION, &format!("attention_delta_{sfx}"), super::launch::elementwise(rows), args)?;
    }
    if rows > 0 && f.kv_len > 0 && f.head_dim.max(f.v_dim) > 0 {
        let args = head_args(f, mask.is_some()).buf(&q).buf(&k).buf(&v).buf(&m).buf(&d_out).buf(&lse).buf(&delta);
        let args = args.buf(&dk).buf(&dv);
        launch(&dev, &ATTENTION, &format!("attention_dkdv_{sfx}"), rows_launch(f, f.kv_len), args)?;
    }
    if rows > 0 && f.head_dim > 0 {
        let args = head_args(f, mask.is_some()).buf(&q).buf(&k).buf(&v).buf(&m).buf(&d_out).buf(&lse).buf(&delta);
        launch(&dev, &ATTENTION, &format!("attention_dq_{sfx}"), rows_launch(f, f.q_len), args.buf(&dq))?;
    }
    Ok([dq, dk, dv])
}
