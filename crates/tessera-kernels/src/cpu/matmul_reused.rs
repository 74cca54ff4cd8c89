//! A right operand reused by many products of a few rows, laid out once for all of them: the
//! LSTM recurrence's `h_{t-1} @ W_hhᵀ` and `d_t @ W_hh`, one weight for every step of a sequence
//! (issue 20, item 3).
//!
//! For f32 on AVX-512 the operand is packed into panels of [`PANEL`] columns, each `k` rows of 32
//! values in a row, and the products run an 8 x 32 register tile (16 accumulators) that reads
//! the left rows in place. gemm tiles a batch of 32 rows as five tiles of 6 and one of 2 (the
//! second at about 60% of the first's rate) and reads this weight unpacked. On one thread of a
//! Zen 5, in a standalone program timing 35-step sequences of the layer's two products, the
//! packed ones ran at 259–267 GFLOP/s against gemm's 207–236; the LSTM layer's whole step took
//! about 3% less time (see "Packed recurrent weights" in
//! `benches/log/zen5-2026-12-06-07-lstm-and-math.md`).
//!
//! On AVX2 (16 registers of 8 lanes) the same panels go half by half through a 6 x 16 tile (12
//! accumulators). Timing 2,000 products of 32 rows on one thread of the Zen 5 held to AVX2
//! (`TESSERA_CPU_ISA=avx2`, gemm built without its AVX-512 kernels), best of three: the forward's
//! `[32, 256] @ [256, 1024]` ran at 106 GFLOP/s packed against gemm's 101 on padded rows, the
//! backward's `[32, 1024] @ [1024, 256]` at 106 against 80 (a 4 x 16 tile: 103 and 97; see
//! `benches/log/zen5-2026-12-07-avx2-cap.md`).
//!
//! Elsewhere (f64, CPUs without AVX2) the operand is kept as rows for gemm: borrowed where
//! its rows already are contiguous, otherwise gathered once into rows padded off multiples of
//! 4 KiB (see [`row_stride`]).
//!
//! In the packed form each output element is one chain of fused multiply-adds over `k` in order,
//! so its bits do not depend on how many rows a product has or how they are split between
//! threads.

use super::matmul::{product, GemmElem};
use super::transpose::transpose_into;
use gemm::Parallelism;
use std::any::TypeId;
use std::borrow::Cow;
use std::mem::MaybeUninit;

/// Columns of one packed panel: two 16-lane registers.
const PANEL: usize = 32;
/// Rows of the left operand per AVX-512 register tile.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const TILE_ROWS: usize = 8;
/// Rows of the left operand per AVX2 register tile (12 accumulators of the 16 registers).
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const TILE_ROWS_AVX2: usize = 6;

/// A `k × n` right operand laid out for repeated products `dst (m × n) = lhs (m × k) · self`.
pub(super) struct ReusedRhs<'a, T: Clone> {
    k: usize,
    n: usize,
    form: Form<'a, T>,
}

enum Form<'a, T: Clone> {
    /// `n.div_ceil(PANEL)` panels of `k` rows of [`PANEL`] values, the last padded with zeros.
    Panels(Vec<T>),
    /// Rows `stride` apart, column `j` of a row at `j`, for gemm.
    Rows(Cow<'a, [T]>, usize),
}

impl<'a, T: GemmElem> ReusedRhs<'a, T> {
    /// The `k × n` operand whose element `(p, j)` is `base[start + p * step]` where
    /// `(start, step) = column(j)`: packed where the packed kernel runs, else kept as rows
    /// (borrowed from `base` when the columns are its consecutive elements).
    ///
    /// Panics if an element lies outside `base` (a caller's bug, not user input).
    pub(super) fn new(base: &'a [T], shape: (usize, usize), column: impl Fn(usize) -> (usize, usize)) -> Self {
        Self::laid_out(base, shape, column, T::packs_reused_rhs())
    }

    /// [`ReusedRhs::new`], packed or kept as rows as `packed` says (packed only where the packed
    /// kernel runs).
    fn laid_out(base: &'a [T], (k, n): (usize, usize), column: impl Fn(usize) -> (usize, usize), packed: bool) -> Self {
        assert!(!packed || T::packs_reused_rhs(), "packed on a CPU or type without the packed kernel");
        let (start, step) = if n > 0 { column(0) } else { (0, 0) };
        let consecutive = k > 0 && n > 0 && (0..n).all(|j| column(j) == (start + j, step));
        let form = if !packed && consecutive {
            Form::Rows(Cow::Borrowed(&base[start..start + (k - 1) * step + n]), step)
        } else {
            let (width, stride) = if packed { (PANEL, PANEL) } else { (n.max(1), row_stride::<T>(n)) };
            let blocks = n.div_ceil(width);
            let len = blocks * k * stride;
            let mut values = Vec::with_capacity(len);
            let slots = &mut values.spare_capacity_mut()[..len];
            gather(base, (k, n), &column, (width, stride), slots);
            if blocks > 0 {
                // The last block's slots past column `n`: zeros.
                let used = n - (blocks - 1) * width;
                for row in slots[(blocks - 1) * k * stride..].chunks_exact_mut(stride) {
                    row[used..].fill(MaybeUninit::new(T::default()));
                }
            }
            // SAFETY: `gather` wrote element (p, j) for every p < k, j < n, and the loop above
            // every slot past column n: all `len` slots.
            unsafe { values.set_len(len) };
            if packed {
                Form::Panels(values)
            } else {
                Form::Rows(Cow::Owned(values), stride)
            }
        };
        ReusedRhs { k, n, form }
    }

    /// `dst (m × n) = lhs (m × k) · self`, `lhs` rows `ldl` apart and `dst` rows `ldd` apart
    /// (both with contiguous columns); every element of `dst` written.
    pub(super) fn product(&self, m: usize, (lhs, ldl): (&[T], usize), (dst, ldd): (&mut [MaybeUninit<T>], usize)) {
        let (k, n) = (self.k, self.n);
        match &self.form {
            Form::Rows(rows, stride) => {
                product([m, n, k], (dst, (ldd, 1)), false, (lhs, (ldl, 1)), (rows, (*stride, 1)), Parallelism::None)
            }
            Form::Panels(panels) => {
                if m * n == 0 {
                    return;
                }
                assert!(
                    (m - 1) * ldl + k <= lhs.len() && (m - 1) * ldd + n <= dst.len(),
                    "packed product out of bounds"
                );
                assert_eq!(TypeId::of::<T>(), TypeId::of::<f32>(), "only f32 operands are packed");
                super::product_flops::count_product(m, n, k);
                #[cfg(target_arch = "x86_64")]
                {
                    let shape = (m, k, n);
                    let lhs = (lhs.as_ptr().cast::<f32>(), ldl);
                    let (panels, dst) = (panels.as_ptr().cast::<f32>(), (dst.as_mut_ptr().cast::<f32>(), ldd));
                    // SAFETY: T is f32 (asserted); panels exist only where `packs_reused_rhs`
                    // found AVX2 (and the instruction set does not change once read); the
                    // assertion above keeps every tile inside `lhs` and `dst`.
                    unsafe {
                        if super::simd::has_avx512() {
                            x86::product(shape, lhs, panels, dst)
                        } else {
                            x86::product_avx2(shape, lhs, panels, dst)
                        }
                    }
                }
            }
        }
    }
}

/// Whether f32 operands are packed on this CPU.
pub(super) fn packs_f32() -> bool {
    cfg!(target_arch = "x86_64") && super::simd::has_avx2()
}

/// Copies element `(p, j)` of the operand (see [`ReusedRhs::new`]) into `out`, laid out as
/// blocks of `width` columns, each `k` rows `stride` apart: `(p, j)` goes to slot
/// `(j / width) * k * stride + p * stride + j % width`. Columns go in runs inside one block whose
/// starts are evenly spaced: consecutive elements are copied row by row, columns of consecutive
/// elements (rows of a matrix seen transposed) through the tiled transpose.
fn gather<T: Copy>(
    base: &[T],
    (k, n): (usize, usize),
    column: impl Fn(usize) -> (usize, usize),
    (width, stride): (usize, usize),
    out: &mut [MaybeUninit<T>],
) {
    if k == 0 {
        return;
    }
    let mut j0 = 0;
    while j0 < n {
        let (start, step) = column(j0);
        let block_end = (j0 / width + 1) * width;
        // Columns whose starts descend or repeat go one at a time (a run of gap 1 and length 1).
        let next = if j0 + 1 < n.min(block_end) { Some(column(j0 + 1).0) } else { None };
        let gap = next.filter(|&s| s > start).map_or(1, |s| s - start);
        let mut end = j0 + 1;
        while end < n.min(block_end) && column(end) == (start + (end - j0) * gap, step) {
            end += 1;
        }
        let (cols, to) = (end - j0, &mut out[(j0 / width) * k * stride + j0 % width..]);
        if gap == 1 {
            for p in 0..k {
                let (to, from) = (&mut to[p * stride..][..cols], as_maybe(&base[start + p * step..][..cols]));
                // A whole panel's row as one fixed-size copy, not a call to memmove.
                match (<&mut [_; PANEL]>::try_from(&mut *to), <&[_; PANEL]>::try_from(from)) {
                    (Ok(to), Ok(from)) => *to = *from,
                    _ => to.copy_from_slice(from),
                }
            }
        } else if step == 1 {
            transpose_into(base, start, (k, cols), gap, to, stride);
        } else {
            for (c, column_start) in (0..cols).map(|c| (c, start + c * gap)) {
                for p in 0..k {
                    to[p * stride + c] = MaybeUninit::new(base[column_start + p * step]);
                }
            }
        }
        j0 = end;
    }
}

/// `values` seen as possibly uninitialised ones, to copy into uninitialised slots.
fn as_maybe<T>(values: &[T]) -> &[MaybeUninit<T>] {
    // SAFETY: `MaybeUninit<T>` has `T`'s layout, and the view is read only.
    unsafe { &*(values as *const [T] as *const [MaybeUninit<T>]) }
}

/// The row stride of `cols` gathered columns: `cols`, or 64 bytes more where rows `cols` apart
/// would be a multiple of 4 KiB apart. gemm reads the rows unpacked, and rows 4 KiB apart all
/// fall in the same few L1 sets: `[32, 256] @ [256, 1024]` f32 on one thread of a Zen 5, best of
/// 7, took 78.9 µs at stride 1024 and 71.9 µs at 1040.
pub(super) fn row_stride<T>(cols: usize) -> usize {
    let bytes = cols * std::mem::size_of::<T>();
    if bytes > 0 && bytes.is_multiple_of(4096) {
        cols + 64 / std::mem::size_of::<T>()
    } else {
        cols
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{PANEL, TILE_ROWS, TILE_ROWS_AVX2};
    use std::arch::x86_64::*;

    /// The packed product (see [`super::ReusedRhs::product`]): panel by panel, each against
    /// every tile of rows.
    #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
    pub(super) unsafe fn product(
        (m, k, n): (usize, usize, usize),
        (lhs, ldl): (*const f32, usize),
        panels: *const f32,
        (dst, ldd): (*mut f32, usize),
    ) {
        for (panel, j0) in (0..n).step_by(PANEL).enumerate() {
            let cols = PANEL.min(n - j0);
            let masks = [cols.min(16), cols.saturating_sub(16)].map(|lanes| ((1u32 << lanes) - 1) as u16);
            // SAFETY (every call): the caller keeps `m` rows of `k` in `lhs` and of `n` in `dst`,
            // and `n.div_ceil(PANEL)` panels of `k` rows in `panels`.
            let b = unsafe { panels.add(panel * k * PANEL) };
            for i0 in (0..m).step_by(TILE_ROWS) {
                let (a, c) = unsafe { (lhs.add(i0 * ldl), dst.add(i0 * ldd + j0)) };
                let (a, c) = ((a, ldl), (c, ldd, masks));
                unsafe {
                    match m - i0 {
                        1 => tile::<1>(k, a, b, c),
                        2 => tile::<2>(k, a, b, c),
                        3 => tile::<3>(k, a, b, c),
                        4 => tile::<4>(k, a, b, c),
                        5 => tile::<5>(k, a, b, c),
                        6 => tile::<6>(k, a, b, c),
                        7 => tile::<7>(k, a, b, c),
                        _ => tile::<TILE_ROWS>(k, a, b, c),
                    }
                }
            }
        }
    }

    /// `ROWS` rows of `a` times one panel, stored through two lane masks (the last panel's
    /// columns past `n` are left alone; a masked-off lane is never touched).
    #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
    #[inline]
    unsafe fn tile<const ROWS: usize>(
        k: usize,
        (a, lda): (*const f32, usize),
        panel: *const f32,
        (c, ldc, masks): (*mut f32, usize, [u16; 2]),
    ) {
        let mut acc = [[_mm512_setzero_ps(); 2]; ROWS];
        for p in 0..k {
            // SAFETY: row p of the panel and element p of each of the tile's rows of `a` lie in
            // their operands (the caller's contract).
            unsafe {
                let b = [_mm512_loadu_ps(panel.add(p * PANEL)), _mm512_loadu_ps(panel.add(p * PANEL + 16))];
                for (i, row) in acc.iter_mut().enumerate() {
                    let av = _mm512_set1_ps(*a.add(i * lda + p));
                    row[0] = _mm512_fmadd_ps(av, b[0], row[0]);
                    row[1] = _mm512_fmadd_ps(av, b[1], row[1]);
                }
            }
        }
        for (i, row) in acc.iter().enumerate() {
            // SAFETY: the unmasked lanes lie in row i of the tile in `dst`; masked-off lanes are
            // not accessed, so the address past them may lie outside it.
            unsafe {
                let at = c.wrapping_add(i * ldc);
                _mm512_mask_storeu_ps(at, masks[0], row[0]);
                _mm512_mask_storeu_ps(at.wrapping_add(16), masks[1], row[1]);
            }
        }
    }

    /// [`product`] on AVX2: each panel half by half (columns 0..16, then 16..32), each half
    /// against every tile of [`TILE_ROWS_AVX2`] rows.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn product_avx2(
        (m, k, n): (usize, usize, usize),
        (lhs, ldl): (*const f32, usize),
        panels: *const f32,
        (dst, ldd): (*mut f32, usize),
    ) {
        const HALF: usize = PANEL / 2;
        let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        let mask = |lanes: usize| _mm256_cmpgt_epi32(_mm256_set1_epi32(lanes as i32), lane);
        for (panel, j0) in (0..n).step_by(PANEL).enumerate() {
            for half in (0..PANEL.min(n - j0)).step_by(HALF) {
                let cols = HALF.min(n - j0 - half);
                let masks = [mask(cols.min(8)), mask(cols.saturating_sub(8))];
                // SAFETY (every call): the caller keeps `m` rows of `k` in `lhs` and of `n` in
                // `dst`, and `n.div_ceil(PANEL)` panels of `k` rows in `panels`.
                let b = unsafe { panels.add(panel * k * PANEL + half) };
                let mut i0 = 0;
                while i0 < m {
                    let rows = avx2_tile_rows(m - i0);
                    let (a, c) = unsafe { (lhs.add(i0 * ldl), dst.add(i0 * ldd + j0 + half)) };
                    let (a, c) = ((a, ldl), (c, ldd, masks));
                    unsafe {
                        match rows {
                            1 => tile_avx2::<1>(k, a, b, c),
                            2 => tile_avx2::<2>(k, a, b, c),
                            3 => tile_avx2::<3>(k, a, b, c),
                            4 => tile_avx2::<4>(k, a, b, c),
                            5 => tile_avx2::<5>(k, a, b, c),
                            _ => tile_avx2::<TILE_ROWS_AVX2>(k, a, b, c),
                        }
                    }
                    i0 += rows;
                }
            }
        }
    }

    /// The rows of the next AVX2 tile when `left` rows remain: [`TILE_ROWS_AVX2`], but never
    /// leaving fewer than 4 behind where two tiles of 4 or more can take them (a tile of fewer
    /// rows has too few accumulators to keep both multiply-add pipes busy): 32 rows as 6, 6, 6,
    /// 6, 4, 4.
    fn avx2_tile_rows(left: usize) -> usize {
        match left {
            0..=TILE_ROWS_AVX2 => left,
            _ if left - TILE_ROWS_AVX2 >= 4 => TILE_ROWS_AVX2,
            _ => 4,
        }
    }

    /// `ROWS` rows of `a` times 16 columns of a panel (rows [`PANEL`] apart), stored through two
    /// lane masks (a masked-off lane is never touched).
    #[target_feature(enable = "avx2,fma")]
    #[inline]
    unsafe fn tile_avx2<const ROWS: usize>(
        k: usize,
        (a, lda): (*const f32, usize),
        half_panel: *const f32,
        (c, ldc, masks): (*mut f32, usize, [__m256i; 2]),
    ) {
        let mut acc = [[_mm256_setzero_ps(); 2]; ROWS];
        for p in 0..k {
            // SAFETY: 16 values of row p of the panel and element p of each of the tile's rows
            // of `a` lie in their operands (the caller's contract).
            unsafe {
                let b = [_mm256_loadu_ps(half_panel.add(p * PANEL)), _mm256_loadu_ps(half_panel.add(p * PANEL + 8))];
                for (i, row) in acc.iter_mut().enumerate() {
                    let av = _mm256_broadcast_ss(&*a.add(i * lda + p));
                    row[0] = _mm256_fmadd_ps(av, b[0], row[0]);
                    row[1] = _mm256_fmadd_ps(av, b[1], row[1]);
                }
            }
        }
        for (i, row) in acc.iter().enumerate() {
            // SAFETY: the unmasked lanes lie in row i of the tile in `dst`; masked-off lanes are
            // not accessed, so the address past them may lie outside it.
            unsafe {
                let at = c.wrapping_add(i * ldc);
                _mm256_maskstore_ps(at, masks[0], row[0]);
                _mm256_maskstore_ps(at.wrapping_add(8), masks[1], row[1]);
            }
        }
    }
}

#[cfg(test)]
mod tests;
