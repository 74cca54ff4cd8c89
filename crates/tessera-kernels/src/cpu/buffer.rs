//! Typed CPU buffers.

use std::borrow::Cow;
use std::mem::MaybeUninit;
use tessera_core::{bf16, f16, DType, Element, Layout};

/// A CPU buffer of one dtype.
#[derive(Debug, Clone, PartialEq)]
pub enum CpuBuffer {
    /// f32 data
    F32(Vec<f32>),
    /// f64 data
    F64(Vec<f64>),
    /// f16 data
    F16(Vec<f16>),
    /// bf16 data
    BF16(Vec<bf16>),
    /// u8 data (also masks)
    U8(Vec<u8>),
    /// u32 data
    U32(Vec<u32>),
    /// i64 data
    I64(Vec<i64>),
}

/// Runs `$body` with `$v` bound to the typed vector of a [`CpuBuffer`], for every dtype.
#[macro_export]
#[doc(hidden)]
macro_rules! dispatch {
    ($buf:expr, $v:ident => $body:expr) => {
        match $buf {
            $crate::cpu::CpuBuffer::F32($v) => $body,
            $crate::cpu::CpuBuffer::F64($v) => $body,
            $crate::cpu::CpuBuffer::F16($v) => $body,
            $crate::cpu::CpuBuffer::BF16($v) => $body,
            $crate::cpu::CpuBuffer::U8($v) => $body,
            $crate::cpu::CpuBuffer::U32($v) => $body,
            $crate::cpu::CpuBuffer::I64($v) => $body,
        }
    };
}
pub(crate) use dispatch;

impl CpuBuffer {
    /// The dtype of the elements.
    pub fn dtype(&self) -> DType {
        match self {
            CpuBuffer::F32(_) => DType::F32,
            CpuBuffer::F64(_) => DType::F64,
            CpuBuffer::F16(_) => DType::F16,
            CpuBuffer::BF16(_) => DType::BF16,
            CpuBuffer::U8(_) => DType::U8,
            CpuBuffer::U32(_) => DType::U32,
            CpuBuffer::I64(_) => DType::I64,
        }
    }

    /// Number of elements in the buffer.
    pub fn len(&self) -> usize {
        dispatch!(self, v => v.len())
    }

    /// Whether the buffer holds no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// A buffer of `len` zeros.
    pub fn zeros(dtype: DType, len: usize) -> Self {
        match dtype {
            DType::F32 => vec![0f32; len].into(),
            DType::F64 => vec![0f64; len].into(),
            DType::F16 => vec![f16::ZERO; len].into(),
            DType::BF16 => vec![bf16::ZERO; len].into(),
            DType::U8 => vec![0u8; len].into(),
            DType::U32 => vec![0u32; len].into(),
            DType::I64 => vec![0i64; len].into(),
        }
    }

    /// The elements as `T`, if that is the buffer's dtype.
    pub fn as_slice<T: CpuElem>(&self) -> Option<&[T]> {
        T::slice(self)
    }

    /// The elements as mutable `T`, if that is the buffer's dtype.
    pub fn as_mut_slice<T: CpuElem>(&mut self) -> Option<&mut [T]> {
        T::slice_mut(self)
    }

    /// The elements selected by `layout`, in row-major order, converted to `f64`.
    pub fn to_f64_vec(&self, layout: &Layout) -> Vec<f64> {
        dispatch!(self, v => strided_values(v, layout).iter().map(|x| x.to_f64()).collect())
    }
}

/// A Rust element type with a [`CpuBuffer`] variant.
pub trait CpuElem: Element {
    /// Wraps a vector.
    fn wrap(v: Vec<Self>) -> CpuBuffer;
    /// Borrows the vector of a buffer of this dtype.
    fn slice(b: &CpuBuffer) -> Option<&[Self]>;
    /// Mutably borrows the vector of a buffer of this dtype.
    fn slice_mut(b: &mut CpuBuffer) -> Option<&mut [Self]>;
}

macro_rules! cpu_elem {
    ($t:ty, $variant:ident) => {
        impl CpuElem for $t {
            fn wrap(v: Vec<Self>) -> CpuBuffer {
                CpuBuffer::$variant(v)
            }
            fn slice(b: &CpuBuffer) -> Option<&[Self]> {
                match b {
                    CpuBuffer::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn slice_mut(b: &mut CpuBuffer) -> Option<&mut [Self]> {
                match b {
                    CpuBuffer::$variant(v) => Some(v),
                    _ => None,
                }
            }
        }
        impl From<Vec<$t>> for CpuBuffer {
            fn from(v: Vec<$t>) -> Self {
                CpuBuffer::$variant(v)
            }
        }
    };
}

cpu_elem!(f32, F32);
cpu_elem!(f64, F64);
cpu_elem!(f16, F16);
cpu_elem!(bf16, BF16);
cpu_elem!(u8, U8);
cpu_elem!(u32, U32);
cpu_elem!(i64, I64);

/// The elements of `data` selected by `layout`, in row-major order: borrowed when the layout is
/// contiguous, gathered into a new vector otherwise.
pub(crate) fn strided_values<'a, T: Copy + Send + Sync>(data: &'a [T], layout: &Layout) -> Cow<'a, [T]> {
    if let Some((start, end)) = layout.contiguous_range() {
        return Cow::Borrowed(&data[start..end]);
    }
    if let Some(transpose) = super::transpose::Transpose::of(layout) {
        return Cow::Owned(transpose.gather(data));
    }
    let (rank, dims, strides) = (layout.rank(), layout.dims(), layout.strides());
    let len = layout.elem_count();
    if len > 0 && strides.iter().all(|&s| s == 0) {
        // One value broadcast (an expanded scalar, such as a gradient's zero base): a fill, not
        // a gather.
        let value = data[layout.offset()];
        return Cow::Owned(super::par::build_vec(len, 1, |_, out| {
            out.iter_mut().for_each(|o| {
                o.write(value);
            })
        }));
    }
    // A large gather is split into rows over the outer dims (the fewest that give 8 rows), each
    // contiguous in the output, which the pool's threads fill: on two threads the copies that
    // make transposed and split-head views contiguous were otherwise serial in every step.
    let outer_rank = (1..rank).find(|&p| dims[..p].iter().product::<usize>() >= 8).unwrap_or(rank.saturating_sub(1));
    if outer_rank == 0 || !super::par::worth_parallel(len) {
        let mut out = Vec::with_capacity(len);
        fill_strided(data, layout, &mut out.spare_capacity_mut()[..len]);
        // SAFETY: `fill_strided` initialised all `len` elements.
        unsafe { out.set_len(len) };
        return Cow::Owned(out);
    }
    let row_starts: Vec<usize> =
        Layout::new(dims[..outer_rank].to_vec().into(), strides[..outer_rank].to_vec(), layout.offset())
            .expect("a prefix of a valid layout is valid")
            .offsets()
            .collect();
    let row_len = len / row_starts.len();
    let (row_dims, row_strides) = (&dims[outer_rank..], &strides[outer_rank..]);
    Cow::Owned(super::par::build_vec(len, row_len, |start, out| {
        for (row, chunk) in out.chunks_mut(row_len).enumerate() {
            let base = row_starts[start / row_len + row];
            let row_layout = Layout::new(row_dims.to_vec().into(), row_strides.to_vec(), base)
                .expect("a suffix of a valid layout, moved to one of its offsets, is valid");
            fill_strided(data, &row_layout, chunk);
        }
    }))
}

/// Writes the elements of `data` selected by `layout` into `out` (as long as the layout), in
/// row-major order.
fn fill_strided<T: Copy>(data: &[T], layout: &Layout, out: &mut [MaybeUninit<T>]) {
    if out.is_empty() {
        return;
    }
    let mut at = 0;
    let blocks = layout.blocks();
    if blocks.block_len() == 1 {
        // Strided innermost dim (a transpose or a broadcast): one tight loop per row, which the
        // general index iterator's per-element carry logic would otherwise dominate.
        let (rank, dims, strides) = (layout.rank(), layout.dims(), layout.strides());
        let (n, step) = (dims[rank - 1], strides[rank - 1]);
        let rows = Layout::new(dims[..rank - 1].to_vec().into(), strides[..rank - 1].to_vec(), layout.offset())
            .expect("a prefix of a valid layout is valid");
        for base in rows.offsets() {
            let row = &mut out[at..at + n];
            if step == 0 {
                row.iter_mut().for_each(|o| {
                    o.write(data[base]);
                });
            } else {
                for (o, &v) in row.iter_mut().zip(data[base..].iter().step_by(step)) {
                    o.write(v);
                }
            }
            at += n;
        }
    } else {
        for (start, len) in blocks {
            write_copy(&mut out[at..at + len], &data[start..start + len]);
            at += len;
        }
    }
}

/// Initialises `dst` with a copy of `src` (one `memcpy`).
///
/// # Panics
/// When the lengths differ (a bug in the caller).
pub(crate) fn write_copy<T: Copy>(dst: &mut [MaybeUninit<T>], src: &[T]) {
    assert_eq!(dst.len(), src.len(), "write_copy of {} elements into {}", src.len(), dst.len());
    // SAFETY: both are `src.len()` long; a `&mut` slice never overlaps a shared one.
    unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), dst.as_mut_ptr().cast::<T>(), src.len()) };
}

/// Whether a value is NaN, for any element type (only floats can be).
#[inline(always)]
#[allow(clippy::eq_op)]
pub(crate) fn is_nan<T: PartialEq>(x: T) -> bool {
    x != x
}

/// Checks that every buffer has the dtype its plan was checked for (a mismatch is a bug in the
/// caller: the plan was made for other operands).
pub(crate) fn expect_dtype(op: &'static str, expected: DType, bufs: &[&CpuBuffer]) -> crate::Result<()> {
    match bufs.iter().find(|b| b.dtype() != expected) {
        Some(b) => Err(crate::Error::PlanMismatch { op, expected, got: b.dtype() }),
        None => Ok(()),
    }
}
