//! Matrix multiplication through the `gemm` crate: 2-D and batched with broadcast batch dims,
//! reading transposed and other strided views in place.

use super::buffer::{expect_dtype, strided_values, CpuBuffer};
use super::unary::map;
use crate::plan::{MatmulPlan, MatmulShape};
use crate::Result;
use gemm::Parallelism;
use rayon::prelude::*;
use tessera_core::{bf16, f16, Layout, Shape};

/// Below this many multiply-adds per matrix product, gemm runs on the calling thread.
const GEMM_PAR_MIN_FLOPS: usize = 96 * 96 * 96;

/// The plan's `lhs @ rhs`, accumulated onto the `bias` rows when the plan has one (no separate
/// pass or temporary adds it). f32, f64 and f16 go through gemm directly; bf16 computes in f32.
pub fn matmul(plan: &MatmulPlan, lhs: &CpuBuffer, rhs: &CpuBuffer, bias: Option<&CpuBuffer>) -> Result<CpuBuffer> {
    let op = if plan.bias.is_some() { "matmul_bias" } else { "matmul" };
    expect_dtype(op, plan.dtype, &[lhs, rhs])?;
    if let Some(b) = bias {
        expect_dtype(op, plan.dtype, &[b])?;
    }
    let (ll, rl, s) = (&plan.lhs, &plan.rhs, &plan.shape);
    let bias = bias.zip(plan.bias.as_ref());
    Ok(match (lhs, rhs) {
        (CpuBuffer::F32(a), CpuBuffer::F32(b)) => {
            batched(a, ll, b, rl, s, bias.map(|(c, l)| (c.as_slice::<f32>().unwrap_or(&[]), l))).into()
        }
        (CpuBuffer::F64(a), CpuBuffer::F64(b)) => {
            batched(a, ll, b, rl, s, bias.map(|(c, l)| (c.as_slice::<f64>().unwrap_or(&[]), l))).into()
        }
        (CpuBuffer::F16(a), CpuBuffer::F16(b)) => {
            batched(a, ll, b, rl, s, bias.map(|(c, l)| (c.as_slice::<f16>().unwrap_or(&[]), l))).into()
        }
        (CpuBuffer::BF16(a), CpuBuffer::BF16(b)) => {
            let a32 = map(&strided_values(a, ll), bf16::to_f32);
            let b32 = map(&strided_values(b, rl), bf16::to_f32);
            let c32 = bias.and_then(|(c, l)| c.as_slice::<bf16>().map(|v| map(&strided_values(v, l), bf16::to_f32)));
            let (cl, cr) = (Layout::contiguous(ll.shape().clone()), Layout::contiguous(rl.shape().clone()));
            let bias_layout = Layout::contiguous(Shape::new(vec![s.n]));
            let c32 = c32.as_ref().map(|v| (v.as_slice(), &bias_layout));
            map(&batched(&a32, &cl, &b32, &cr, s, c32), bf16::from_f32).into()
        }
        _ => unreachable!("the plan admits one float dtype"),
    })
}

/// Element types gemm multiplies natively.
trait GemmElem: Copy + Send + Sync + 'static {
    const ZERO: Self;
    const ONE: Self;
}
impl GemmElem for f32 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
}
impl GemmElem for f64 {
    const ZERO: Self = 0.0;
    const ONE: Self = 1.0;
}
impl GemmElem for f16 {
    const ZERO: Self = f16::ZERO;
    const ONE: Self = f16::ONE;
}

/// Where one operand's matrices live: per-batch offsets and the row and column strides.
struct Operand<'a, T: Clone> {
    data: std::borrow::Cow<'a, [T]>,
    offsets: Vec<usize>,
    row_stride: usize,
    col_stride: usize,
}

impl<'a, T: Copy> Operand<'a, T> {
    fn new(data: &'a [T], layout: &Layout, batch: &[usize]) -> Self {
        let r = layout.rank();
        let (rs, cs) = (layout.strides()[r - 2], layout.strides()[r - 1]);
        // gemm reads any positive strides; a broadcast (zero-stride) matrix dim is copied out.
        let (data, layout) = if (rs == 0 && layout.dims()[r - 2] > 1) || (cs == 0 && layout.dims()[r - 1] > 1) {
            (
                std::borrow::Cow::Owned(strided_values(data, layout).into_owned()),
                Layout::contiguous(layout.shape().clone()),
            )
        } else {
            (std::borrow::Cow::Borrowed(data), layout.clone())
        };
        let mut bshape = batch.to_vec();
        bshape.extend(&layout.dims()[r - 2..]);
        let full = layout.broadcast_as(&Shape::new(bshape)).expect("batch dims broadcast (checked by the plan)");
        let b = batch.len();
        let batch_layout = Layout::new(Shape::from(&full.dims()[..b]), full.strides()[..b].to_vec(), full.offset())
            .expect("prefix of a valid layout");
        Operand {
            data,
            offsets: batch_layout.offsets().collect(),
            row_stride: full.strides()[b],
            col_stride: full.strides()[b + 1],
        }
    }
}

/// The product, accumulated onto `bias` rows when given (`[n]`, any layout).
fn batched<T: GemmElem>(
    a: &[T],
    ll: &Layout,
    b: &[T],
    rl: &Layout,
    s: &MatmulShape,
    bias: Option<(&[T], &Layout)>,
) -> Vec<T> {
    let (m, k, n) = (s.m, s.k, s.n);
    let count: usize = s.batch.iter().product();
    let bias = bias.map(|(v, l)| strided_values(v, l));
    let mut out = match &bias {
        Some(row) => {
            let mut out = Vec::with_capacity(count * m * n);
            for _ in 0..count * m {
                out.extend_from_slice(row);
            }
            out
        }
        None => vec![T::ZERO; count * m * n],
    };
    if m * n == 0 {
        return out;
    }
    let read_dst = bias.is_some();
    let lhs = Operand::new(a, ll, &s.batch);
    let rhs = Operand::new(b, rl, &s.batch);
    // A broadcast right operand (a linear layer's weight) under a left operand whose matrices
    // follow each other row after row: one product of count * m rows.
    let fold = count > 1
        && rhs.offsets.iter().all(|&o| o == rhs.offsets[0])
        && lhs.offsets.iter().enumerate().all(|(i, &o)| o == lhs.offsets[0] + i * m * lhs.row_stride);
    let (m, count) = if fold { (count * m, 1) } else { (m, count) };
    let flops = m * n * k;
    let inner_par = flops >= GEMM_PAR_MIN_FLOPS && rayon::current_num_threads() > 1;
    let one = |i: usize, dst: &mut [T], par: Parallelism| {
        // SAFETY: every offset plus stride combination stays inside its buffer (the layouts were
        // validated when their tensors were built), and `dst` holds exactly m * n elements.
        unsafe {
            gemm::gemm(
                m,
                n,
                k,
                dst.as_mut_ptr(),
                1,
                n as isize,
                read_dst,
                lhs.data.as_ptr().add(lhs.offsets[i]),
                lhs.col_stride as isize,
                lhs.row_stride as isize,
                rhs.data.as_ptr().add(rhs.offsets[i]),
                rhs.col_stride as isize,
                rhs.row_stride as isize,
                T::ONE,
                T::ONE,
                false,
                false,
                false,
                par,
            )
        }
    };
    if inner_par || count == 1 {
        let par = if inner_par { Parallelism::Rayon(0) } else { Parallelism::None };
        for (i, dst) in out.chunks_mut(m * n).enumerate() {
            one(i, dst, par);
        }
    } else if count * flops >= GEMM_PAR_MIN_FLOPS {
        out.par_chunks_mut(m * n).enumerate().for_each(|(i, dst)| one(i, dst, Parallelism::None));
    } else {
        for (i, dst) in out.chunks_mut(m * n).enumerate() {
            one(i, dst, Parallelism::None);
        }
    }
    out
}
