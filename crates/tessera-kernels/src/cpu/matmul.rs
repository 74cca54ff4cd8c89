//! Matrix multiplication through the `gemm` crate: 2-D and batched with broadcast batch dims,
//! reading transposed and other strided views in place.

use super::buffer::{expect_dtype, strided_values, write_copy, CpuBuffer};
pub(super) use super::gemm_elem::GemmElem;
use super::half::Half;
use super::{matmul_bias, matmul_blocked, matmul_rows, par};
use crate::plan::{MatmulPlan, MatmulShape};
use crate::Result;
use gemm::Parallelism;
use rayon::prelude::*;
use std::any::TypeId;
use std::mem::MaybeUninit;
use tessera_core::{bf16, f16, Layout, Shape};

/// Below this many multiply-adds per matrix product, gemm runs on the calling thread.
pub(super) const GEMM_PAR_MIN_FLOPS: usize = 96 * 96 * 96;
/// A parallel product of at least this many rows (else columns) per thread is split into bands
/// of rows (columns), one per thread.
const BAND_MIN: usize = 128;

/// The output's first element, shared by the threads that write disjoint blocks of it.
#[derive(Clone, Copy)]
pub(super) struct OutPtr<T>(pub(super) *mut T);
// SAFETY: only used to hand disjoint blocks of one output to the pool's threads (see `batched`
// and `matmul_rows`).
unsafe impl<T: Send> Send for OutPtr<T> {}
// SAFETY: as above.
unsafe impl<T: Send> Sync for OutPtr<T> {}
impl<T> OutPtr<T> {
    pub(super) fn get(self) -> *mut T {
        self.0
    }
}

/// The plan's `lhs @ rhs`, accumulated onto the `bias` rows when the plan has one (no separate
/// pass or temporary adds it). f32 and f64 go through gemm directly; f16 and bf16 are widened to
/// f32, multiplied there (so they accumulate in f32) and rounded once.
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
            via_f32(plan, a, b, bias.and_then(|(c, l)| Some((c.as_slice::<f16>()?, l)))).into()
        }
        (CpuBuffer::BF16(a), CpuBuffer::BF16(b)) => {
            via_f32(plan, a, b, bias.and_then(|(c, l)| Some((c.as_slice::<bf16>()?, l)))).into()
        }
        _ => unreachable!("the plan admits one float dtype"),
    })
}

/// A half-precision product through f32: operands widened, multiplied, the result rounded back.
fn via_f32<T: Half>(plan: &MatmulPlan, a: &[T], b: &[T], bias: Option<(&[T], &Layout)>) -> Vec<T> {
    let (ll, rl, s) = (&plan.lhs, &plan.rhs, &plan.shape);
    let a32 = T::widen(&strided_values(a, ll));
    let b32 = T::widen(&strided_values(b, rl));
    let c32 = bias.map(|(c, l)| T::widen(&strided_values(c, l)));
    let (cl, cr) = (Layout::contiguous(ll.shape().clone()), Layout::contiguous(rl.shape().clone()));
    let bias_layout = Layout::contiguous(Shape::new(vec![s.n]));
    let c32 = c32.as_ref().map(|v| (v.as_slice(), &bias_layout));
    T::narrow(&batched(&a32, &cl, &b32, &cr, s, c32))
}

/// Whether a right operand that is a `[k, n]` weight seen transposed (stored `[n, k]`) is better
/// made contiguous by the tiled transpose before gemm, for `m` rows. gemm packs a transposed
/// operand on every call, and where its rows lie a multiple of 2 KiB apart that packing ran at 1
/// to 2 GB/s (the rows share L1 sets). Copied first, `[m, 1024] @ [256, 1024]ᵀ` took 0.31x to
/// 0.88x of gemm's time from 16 to 768 rows and `[768, 512] @ [128, 512]ᵀ` (the GPT MLP's down
/// projection) 0.92x, on a 2-vCPU Zen 4. Copying lost where the weight was wide (`n > k`: 512 x
/// 2048 from 256 rows on), very narrow (`n` of 10) or past 8 MiB (the transpose itself slowed
/// down), so those stay with gemm. gemm packs the same values either way: the product is the
/// same to the bit.
fn repack_first(rl: &Layout, m: usize) -> bool {
    let (&[k, n], &[row_stride, col_stride]) = (rl.dims(), rl.strides()) else { return false };
    m >= 2 && row_stride == 1 && col_stride.is_multiple_of(512) && k >= n && n >= 64 && k * n <= 1 << 21
}

/// Where one operand's matrices live: per-batch offsets and the row and column strides.
struct Operand<'a, T: Clone> {
    data: std::borrow::Cow<'a, [T]>,
    offsets: Vec<usize>,
    row_stride: usize,
    col_stride: usize,
}

impl<'a, T: Copy + Send + Sync> Operand<'a, T> {
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
pub(super) fn batched<T: GemmElem>(
    a: &[T],
    ll: &Layout,
    b: &[T],
    rl: &Layout,
    s: &MatmulShape,
    bias: Option<(&[T], &Layout)>,
) -> Vec<T> {
    let (m, k, n) = (s.m, s.k, s.n);
    // Zero-aware and saturating: an empty product's other dims may overflow when multiplied;
    // a non-empty one that large was refused as out of memory before it came here.
    let (count, len) = (s.count(), s.out_elem_count());
    let bias = bias.map(|(v, l)| strided_values(v, l));
    let mut out = Vec::with_capacity(len);
    if len == 0 {
        return out;
    }
    let spare = &mut out.spare_capacity_mut()[..len];
    let mut lhs = Operand::new(a, ll, &s.batch);
    let mut rhs = Operand::new(b, rl, &s.batch);
    // A broadcast right operand (a linear layer's weight) under a left operand whose matrices
    // follow each other row after row: one product of count * m rows.
    let fold = count > 1
        && rhs.offsets.iter().all(|&o| o == rhs.offsets[0])
        && lhs.offsets.iter().enumerate().all(|(i, &o)| o == lhs.offsets[0] + i * m * lhs.row_stride);
    let (m, count) = if fold { (count * m, 1) } else { (m, count) };
    // A bias on an output much larger than the operands joins the product as an inner term
    // (`matmul_bias.rs`); any other is written into the rows first for gemm to add onto.
    let mut k = k;
    let as_term = bias.is_some() && count == 1 && k > 0 && matmul_bias::takes(m, k, n);
    let bias = match bias {
        Some(row) if as_term => {
            let left = matmul_bias::lhs_with_ones((&lhs.data, lhs.offsets[0], (lhs.row_stride, lhs.col_stride)), m, k);
            let right = (&*rhs.data, rhs.offsets[0], (rhs.row_stride, rhs.col_stride));
            let (right, (rs, cs)) = matmul_bias::rhs_with_bias(right, (k, n), &row);
            lhs = Operand { data: left.into(), offsets: vec![0], row_stride: k + 1, col_stride: 1 };
            rhs = Operand { data: right.into(), offsets: vec![0], row_stride: rs, col_stride: cs };
            k += 1;
            None
        }
        other => other,
    };
    // gemm adds the product onto the bias rows; without them it writes every element itself,
    // zeros when k is 0 (`read_dst` false), so the output is not zero-filled first.
    let read_dst = bias.is_some();
    if let Some(row) = &bias {
        par::fill_uninit(spare, n, |_, rows| {
            for dst in rows.chunks_mut(n) {
                write_copy(dst, row);
            }
        });
    }
    // A few rows by a weight stored [n, k] and seen transposed: dot products that read it in place.
    if count == 1 && matmul_rows::takes(m, n) && lhs.col_stride == 1 && rhs.row_stride == 1 {
        let (x, w) = (&lhs.data[lhs.offsets[0]..], &rhs.data[rhs.offsets[0]..]);
        if T::rows_by_transposed(x, lhs.row_stride, w, rhs.col_stride, (m, k, n), spare, read_dst) {
            // SAFETY: the kernel wrote (or added onto the bias rows in) every element.
            unsafe { out.set_len(len) };
            return out;
        }
    }
    let repacked;
    if !as_term && repack_first(rl, m) {
        repacked = strided_values(b, rl).into_owned();
        rhs = Operand::new(&repacked, &Layout::contiguous(rl.shape().clone()), &s.batch);
    }
    // Saturating: k is not bounded by any buffer when an operand is a broadcast view.
    let flops = m.saturating_mul(n).saturating_mul(k);
    let inner_par = flops >= GEMM_PAR_MIN_FLOPS && rayon::current_num_threads() > 1;
    let batch_par = !inner_par
        && count > 1
        && count.saturating_mul(flops) >= GEMM_PAR_MIN_FLOPS
        && rayon::current_num_threads() > 1;
    if inner_par || batch_par {
        par::rearm();
    }
    let dst = OutPtr(spare.as_mut_ptr().cast::<T>());
    // Rows `r0..r0 + rows` and columns `c0..c0 + cols` of product `i`, written into `out`.
    let block = |i: usize, (r0, rows): (usize, usize), (c0, cols): (usize, usize), par: Parallelism| {
        super::product_flops::count_product(rows, cols, s.k);
        // SAFETY: every offset plus stride combination stays inside its buffer (the layouts were
        // validated when their tensors were built); the block lies inside product `i`'s m * n
        // elements of `out`, and concurrent calls are given disjoint blocks; gemm reads the
        // destination only with `read_dst`, when it was initialised above.
        unsafe {
            gemm_raw(
                [rows, cols, k],
                (dst.get().add(i * m * n + r0 * n + c0), (n, 1)),
                read_dst,
                (lhs.data.as_ptr().add(lhs.offsets[i] + r0 * lhs.row_stride), (lhs.row_stride, lhs.col_stride)),
                (rhs.data.as_ptr().add(rhs.offsets[i] + c0 * rhs.col_stride), (rhs.row_stride, rhs.col_stride)),
                par,
            )
        }
    };
    let threads = rayon::current_num_threads();
    // `len` split into one band per thread, each a multiple of 16 long: (start, length) pairs.
    let bands = |len: usize| {
        let width = len.div_ceil(threads).next_multiple_of(16);
        (0..len.div_ceil(width)).map(move |b| (b * width, width.min(len - b * width)))
    };
    // Each band packs all of the operand it does not split: split the larger side, so that the
    // smaller operand is the one packed once per thread.
    let row_bands = m >= BAND_MIN * threads && (m >= n || n < BAND_MIN * threads);
    if inner_par && count == 1 && row_bands {
        // One band of rows per thread, each a serial gemm: balanced, where gemm's own split of
        // these shapes kept one thread waiting for the other.
        let bands: Vec<_> = bands(m).collect();
        par::spin_bands(bands.len(), |b| block(0, bands[b], (0, n), Parallelism::None));
    } else if inner_par && count == 1 && n >= BAND_MIN * threads {
        // More columns than rows (an output layer over a large vocabulary, a weight's gradient
        // of `in_features` rows): bands of columns.
        let bands: Vec<_> = bands(n).collect();
        par::spin_bands(bands.len(), |b| block(0, (0, m), bands[b], Parallelism::None));
    } else if inner_par || count == 1 {
        let par = if inner_par { Parallelism::Rayon(0) } else { Parallelism::None };
        (0..count).for_each(|i| block(i, (0, m), (0, n), par));
    } else if batch_par {
        (0..count).into_par_iter().for_each(|i| block(i, (0, m), (0, n), Parallelism::None));
    } else {
        (0..count).for_each(|i| block(i, (0, m), (0, n), Parallelism::None));
    }
    // SAFETY: the bias rows or gemm (which writes all of its m * n block when it does not read
    // it) initialised every element.
    unsafe { out.set_len(len) };
    out
}

/// `dst (m × n) = [dst +] lhs (m × k) · rhs (k × n)`, each matrix given by its first element
/// and its (row, column) strides. `dst` may start uninitialised unless `accumulate`.
#[allow(clippy::type_complexity)]
pub(super) fn product<T: GemmElem>(
    [m, n, k]: [usize; 3],
    (dst, ds): (&mut [MaybeUninit<T>], (usize, usize)),
    accumulate: bool,
    (lhs, ls): (&[T], (usize, usize)),
    (rhs, rs): (&[T], (usize, usize)),
    par: Parallelism,
) {
    let last = |(r, c): (usize, usize), rows: usize, cols: usize| (rows.max(1) - 1) * r + (cols.max(1) - 1) * c;
    if m * n == 0 {
        return;
    }
    assert!(
        last(ds, m, n) < dst.len() && (k == 0 || (last(ls, m, k) < lhs.len() && last(rs, k, n) < rhs.len())),
        "matrix product out of bounds"
    );
    super::product_flops::count_product(m, n, k);
    // SAFETY: the assertion above keeps every element gemm touches inside its slice; gemm reads
    // the destination only when `accumulate`, and writes every element of it otherwise.
    unsafe {
        gemm_raw([m, n, k], (dst.as_mut_ptr().cast::<T>(), ds), accumulate, (lhs.as_ptr(), ls), (rhs.as_ptr(), rs), par)
    }
}

/// gemm's `dst (m × n) = [dst +] lhs (m × k) · rhs (k × n)`, each matrix given by its first
/// element and its (row, column) strides: the `gemm::gemm` call that `batched` and [`product`]
/// share. Large serial f32 products take [`matmul_blocked`] instead, which sums the same way.
///
/// # Safety
/// Every element the strides reach must lie in its buffer; `dst`'s elements must be writable,
/// initialised when `accumulate`, and touched by no other thread meanwhile.
#[allow(clippy::type_complexity)]
unsafe fn gemm_raw<T: GemmElem>(
    [m, n, k]: [usize; 3],
    (dst, ds): (*mut T, (usize, usize)),
    accumulate: bool,
    (lhs, ls): (*const T, (usize, usize)),
    (rhs, rs): (*const T, (usize, usize)),
    par: Parallelism,
) {
    if matches!(par, Parallelism::None) && TypeId::of::<T>() == TypeId::of::<f32>() {
        let (dst, lhs, rhs) = (dst.cast::<f32>(), lhs.cast::<f32>(), rhs.cast::<f32>());
        // SAFETY: T is f32; the caller's contract, passed on.
        if unsafe { matmul_blocked::product([m, n, k], (dst, ds), accumulate, (lhs, ls), (rhs, rs)) } {
            return;
        }
    }
    // SAFETY: the caller's contract.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst,
            ds.1 as isize,
            ds.0 as isize,
            accumulate,
            lhs,
            ls.1 as isize,
            ls.0 as isize,
            rhs,
            rs.1 as isize,
            rs.0 as isize,
            T::ONE,
            T::ONE,
            false,
            false,
            false,
            par,
        )
    }
}

/// `s` seen as possibly uninitialised, for [`product`]'s destination.
pub(super) fn as_uninit<T>(s: &mut [T]) -> &mut [MaybeUninit<T>] {
    // SAFETY: `MaybeUninit<T>` has `T`'s layout, and only initialised values are written back.
    unsafe { &mut *(s as *mut [T] as *mut [MaybeUninit<T>]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The claim `repack_first` rests on: gemm gives the same bits for a weight it packs from the
    /// transposed view as for the weight made contiguous first, on 1 and 2 threads. The weight
    /// here is too narrow (32 columns) to be repacked, so the view reaches gemm's own packing.
    #[test]
    fn gemm_gives_the_same_bits_through_a_view_or_a_copy_of_the_weight() {
        let (m, k, n) = (40, 512, 32);
        let a: Vec<f32> = (0..m * k).map(|i| ((i * 37 % 101) as f32 - 50.0) / 7.0).collect();
        let w: Vec<f32> = (0..n * k).map(|i| ((i * 53 % 97) as f32 - 48.0) / 11.0).collect();
        let ll = Layout::contiguous(Shape::new(vec![m, k]));
        let view = Layout::contiguous(Shape::new(vec![n, k])).transpose(0, 1).unwrap();
        assert!(!repack_first(&view, m));
        let s = MatmulShape::new("matmul", &ll, &view).unwrap();
        let copied = strided_values(&w, &view).into_owned();
        let contiguous = Layout::contiguous(view.shape().clone());
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let (through_view, through_copy) = pool
                .install(|| (batched(&a, &ll, &w, &view, &s, None), batched(&a, &ll, &copied, &contiguous, &s, None)));
            let same = through_view.iter().zip(&through_copy).filter(|(x, y)| x.to_bits() == y.to_bits()).count();
            assert_eq!(same, m * n, "{threads} threads");
        }
    }
}
