//! Transposed matrices made contiguous: the gather behind `strided_values` for a layout whose
//! last two dims are a matrix seen transposed, in square tiles, 4-byte elements through AVX
//! shuffles.

use std::mem::MaybeUninit;
use tessera_core::Layout;

/// A layout whose last two dims are a transposed matrix: rows of stride 1, columns of a larger
/// stride (`w.t()` of a row-major weight, the key of attention seen as `kᵀ`). Gathered row by row,
/// each output row would read one element from each of `cols` cache lines and, for a matrix
/// larger than the cache, fetch every line again for the next row; gathered in square tiles, each
/// line fetched is used for a whole tile's rows.
pub(super) struct Transpose {
    /// The offset of each matrix (one per index of the leading dims).
    matrices: Vec<usize>,
    rows: usize,
    cols: usize,
    col_stride: usize,
}

/// The side of the square tiles a transpose is copied in. Each of a tile's columns is a different
/// source line; with a source row stride of a multiple of 4 KiB (a weight of 1,024 columns) they
/// all fall in one set of an 8-way L1 cache, so 16-wide tiles evicted their own lines (the LSTM's
/// 256 x 1,024 `W_hhᵀ` took 2.2x longer than with 8; 16 rows by 8 columns was slower still on
/// small matrices, Zen 3).
const TRANSPOSE_TILE: usize = 8;

/// How many output rows a band takes: two tiles' worth where AVX moves 4-byte elements, so that
/// the 64 bytes of each source line fetched are all used before the band moves on (with lines
/// 4 KiB apart, the second half was otherwise evicted before the next band came for it:
/// `[1024, 1088]` from its transpose took 431 µs in bands of 8 rows, Zen 4), one tile's worth
/// otherwise.
fn band_rows<T>() -> usize {
    if tile8::available::<T>() {
        2 * TRANSPOSE_TILE
    } else {
        TRANSPOSE_TILE
    }
}

impl Transpose {
    pub(super) fn of(layout: &Layout) -> Option<Transpose> {
        let (rank, dims, strides) = (layout.rank(), layout.dims(), layout.strides());
        if rank < 2 || strides[rank - 2] != 1 || strides[rank - 1] <= 1 || dims[rank - 2] < 2 || dims[rank - 1] < 2 {
            return None;
        }
        let prefix = Layout::new(dims[..rank - 2].to_vec().into(), strides[..rank - 2].to_vec(), layout.offset())
            .expect("a prefix of a valid layout is valid");
        Some(Transpose {
            matrices: prefix.offsets().collect(),
            rows: dims[rank - 2],
            cols: dims[rank - 1],
            col_stride: strides[rank - 1],
        })
    }

    /// The matrices row-major, in bands of whole rows that the pool's threads fill.
    pub(super) fn gather<T: Copy + Send + Sync>(&self, data: &[T]) -> Vec<T> {
        let (rows, cols, band_rows) = (self.rows, self.cols, band_rows::<T>());
        super::par::build_vec(self.matrices.len() * rows * cols, cols, |start, out| {
            let first = start / cols;
            let mut done = 0;
            while done < out.len() / cols {
                let (matrix, row) = ((first + done) / rows, (first + done) % rows);
                let band = band_rows.min(rows - row).min(out.len() / cols - done);
                let dst = &mut out[done * cols..(done + band) * cols];
                copy_band(data, self.matrices[matrix] + row, (band, cols), self.col_stride, dst, cols);
                done += band;
            }
        })
    }
}

/// The `[rows, cols]` matrix whose element `(r, c)` is `data[base + r + c * col_stride]` (a block
/// of a matrix stored transposed), written into `dst` row by row, `dst_stride` apart:
/// `dst[r * dst_stride + c]`. Serial, in bands as [`Transpose`] gathers them.
///
/// # Panics
/// If either block reaches past its slice, or `dst_stride < cols`.
pub(crate) fn transpose_into<T: Copy>(
    data: &[T],
    base: usize,
    (rows, cols): (usize, usize),
    col_stride: usize,
    dst: &mut [MaybeUninit<T>],
    dst_stride: usize,
) {
    if rows == 0 || cols == 0 {
        return;
    }
    assert!(
        base + rows - 1 + (cols - 1) * col_stride < data.len()
            && dst_stride >= cols
            && (rows - 1) * dst_stride + cols <= dst.len(),
        "transpose_into: a [{rows}, {cols}] block outside its buffers"
    );
    for r0 in (0..rows).step_by(band_rows::<T>()) {
        let band = band_rows::<T>().min(rows - r0);
        copy_band(data, base + r0, (band, cols), col_stride, &mut dst[r0 * dst_stride..], dst_stride);
    }
}

/// Rows `base..base + band` (stride 1 in `data`, columns `col_stride` apart) into `dst`, rows
/// `dst_stride` apart, tile by tile: the whole tiles through AVX where it moves these elements,
/// the rest one element at a time. The caller keeps both blocks inside their slices.
fn copy_band<T: Copy>(
    data: &[T],
    base: usize,
    (band, cols): (usize, usize),
    col_stride: usize,
    dst: &mut [MaybeUninit<T>],
    dst_stride: usize,
) {
    let whole = (band / TRANSPOSE_TILE * TRANSPOSE_TILE, cols / TRANSPOSE_TILE * TRANSPOSE_TILE);
    let (tiled_rows, tiled_cols) = if tile8::available::<T>() { whole } else { (0, 0) };
    if tiled_rows > 0 && tiled_cols > 0 {
        assert!(base + tiled_rows - 1 + (tiled_cols - 1) * col_stride < data.len(), "source tiles inside the slice");
        assert!((tiled_rows - 1) * dst_stride + tiled_cols <= dst.len(), "destination tiles inside the slice");
        // SAFETY: the assertions keep the tiles (rows `base..base + tiled_rows` of columns
        // `0..tiled_cols`, and their places in `dst`) inside both slices; `available` checked
        // the element size and the CPU.
        unsafe {
            let (src, out) = (data.as_ptr().add(base), dst.as_mut_ptr().cast::<T>());
            tile8::transpose(src, col_stride, out, dst_stride, (tiled_rows, tiled_cols));
        }
    }
    for c0 in (0..cols).step_by(TRANSPOSE_TILE) {
        let c1 = (c0 + TRANSPOSE_TILE).min(cols);
        let first_row = if c1 <= tiled_cols { tiled_rows } else { 0 };
        for r in first_row..band {
            let out = &mut dst[r * dst_stride + c0..r * dst_stride + c1];
            for (o, c) in out.iter_mut().zip(c0..c1) {
                o.write(data[base + r + c * col_stride]);
            }
        }
    }
}

/// The 8 x 8 tile of 4-byte elements in AVX registers: eight loads, three rounds of shuffles,
/// eight stores, where the scalar tile takes 64 loads and 64 stores.
mod tile8 {
    /// Whether the tiles below move `T`: 4 bytes wide, on a CPU with AVX.
    pub(super) fn available<T>() -> bool {
        #[cfg(target_arch = "x86_64")]
        return size_of::<T>() == 4 && crate::cpu::simd::has_avx2();
        #[cfg(not(target_arch = "x86_64"))]
        false
    }

    /// Transposes the `rows x cols` block (both multiples of 8) tile by tile: element `(r, c)` is
    /// `src[r + c * src_stride]` and goes to `dst[r * dst_stride + c]`.
    ///
    /// # Safety
    /// [`available`] must hold for `T`, and every element named above must lie inside `src`'s
    /// and `dst`'s allocations.
    pub(super) unsafe fn transpose<T>(
        src: *const T,
        src_stride: usize,
        dst: *mut T,
        dst_stride: usize,
        (rows, cols): (usize, usize),
    ) {
        #[cfg(target_arch = "x86_64")]
        for c0 in (0..cols).step_by(8) {
            for r0 in (0..rows).step_by(8) {
                // SAFETY: the caller's bounds; `available` checked the element size and AVX.
                unsafe {
                    let (from, to) = (src.add(r0 + c0 * src_stride), dst.add(r0 * dst_stride + c0));
                    tile(from.cast::<f32>(), src_stride, to.cast::<f32>(), dst_stride);
                }
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = (src, src_stride, dst, dst_stride, rows, cols);
    }

    /// One tile: `dst[r * dst_stride + c] = src[c * src_stride + r]` for `r, c` in `0..8`.
    /// The values are only moved, never computed on, so any 4-byte pattern comes through.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx")]
    unsafe fn tile(src: *const f32, src_stride: usize, dst: *mut f32, dst_stride: usize) {
        use std::arch::x86_64::*;
        // SAFETY: the caller's bounds cover the eight rows read and written.
        unsafe {
            let row = |i: usize| _mm256_loadu_ps(src.add(i * src_stride));
            let (r0, r1, r2, r3, r4, r5, r6, r7) = (row(0), row(1), row(2), row(3), row(4), row(5), row(6), row(7));
            // Pairs of rows interleaved, then pairs of pairs: each 128-bit half then holds four
            // elements of one output row.
            let (t0, t1) = (_mm256_unpacklo_ps(r0, r1), _mm256_unpackhi_ps(r0, r1));
            let (t2, t3) = (_mm256_unpacklo_ps(r2, r3), _mm256_unpackhi_ps(r2, r3));
            let (t4, t5) = (_mm256_unpacklo_ps(r4, r5), _mm256_unpackhi_ps(r4, r5));
            let (t6, t7) = (_mm256_unpacklo_ps(r6, r7), _mm256_unpackhi_ps(r6, r7));
            let (s0, s1) = (_mm256_shuffle_ps::<0x44>(t0, t2), _mm256_shuffle_ps::<0xee>(t0, t2));
            let (s2, s3) = (_mm256_shuffle_ps::<0x44>(t1, t3), _mm256_shuffle_ps::<0xee>(t1, t3));
            let (s4, s5) = (_mm256_shuffle_ps::<0x44>(t4, t6), _mm256_shuffle_ps::<0xee>(t4, t6));
            let (s6, s7) = (_mm256_shuffle_ps::<0x44>(t5, t7), _mm256_shuffle_ps::<0xee>(t5, t7));
            // The low halves make output rows 0..4, the high halves rows 4..8.
            let out = [
                _mm256_permute2f128_ps::<0x20>(s0, s4),
                _mm256_permute2f128_ps::<0x20>(s1, s5),
                _mm256_permute2f128_ps::<0x20>(s2, s6),
                _mm256_permute2f128_ps::<0x20>(s3, s7),
                _mm256_permute2f128_ps::<0x31>(s0, s4),
                _mm256_permute2f128_ps::<0x31>(s1, s5),
                _mm256_permute2f128_ps::<0x31>(s2, s6),
                _mm256_permute2f128_ps::<0x31>(s3, s7),
            ];
            for (r, v) in out.into_iter().enumerate() {
                _mm256_storeu_ps(dst.add(r * dst_stride), v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::buffer::strided_values;
    use tessera_core::{Layout, Shape};

    /// Each element type through every tile path: 4-byte ones (AVX tiles where the band is 8 rows
    /// and at least 8 columns remain, scalar for the rest), others scalar; shapes with and without
    /// whole tiles, a batch of matrices, and a column stride beyond the row count.
    fn check<T: Copy + Send + Sync + PartialEq + std::fmt::Debug>(data: &[T]) {
        let layouts = [
            Layout::new(Shape::new(vec![8, 8]), vec![1, 8], 0),
            Layout::new(Shape::new(vec![17, 23]), vec![1, 17], 0),
            Layout::new(Shape::new(vec![64, 40]), vec![1, 70], 3),
            Layout::new(Shape::new(vec![3, 16, 9]), vec![160, 1, 16], 1),
        ];
        for layout in layouts.map(Result::unwrap) {
            let want: Vec<T> = layout.offsets().map(|o| data[o]).collect();
            assert_eq!(strided_values(data, &layout).into_owned(), want, "{layout:?}");
        }
    }

    #[test]
    fn transposes_move_every_element_type_bit_for_bit() {
        let bits: Vec<u32> = (0..3000u32).map(|i| i.wrapping_mul(0x9e37_79b9)).collect();
        check(&bits);
        // Any bit pattern read as f32, NaN payloads and signalling NaNs included, comes through.
        let floats: Vec<f32> = bits.iter().map(|&b| f32::from_bits(b)).collect();
        let want: Vec<u32> =
            Layout::new(Shape::new(vec![17, 23]), vec![1, 17], 0).unwrap().offsets().map(|o| bits[o]).collect();
        let layout = Layout::new(Shape::new(vec![17, 23]), vec![1, 17], 0).unwrap();
        let got: Vec<u32> = strided_values(&floats, &layout).iter().map(|v| v.to_bits()).collect();
        assert_eq!(got, want);
        check(&bits.iter().map(|&b| b as u8).collect::<Vec<_>>());
        check(&bits.iter().map(|&b| b as i64).collect::<Vec<_>>());
    }

    /// A block of a transposed matrix into rows further apart than its width, as the LSTM's
    /// banded weight takes it: 4-byte elements (tiles and the scalar rest) and 8-byte ones,
    /// every slot outside the block left alone.
    #[test]
    fn transpose_into_writes_a_block_with_any_row_stride() {
        fn check<T: Copy + PartialEq + std::fmt::Debug>(data: &[T], fill: T) {
            let (base, rows, cols, col_stride, dst_stride) = (5, 19, 13, 40, 30);
            let mut dst = vec![std::mem::MaybeUninit::new(fill); (rows - 1) * dst_stride + cols + 4];
            super::transpose_into(data, base, (rows, cols), col_stride, &mut dst[2..], dst_stride);
            // SAFETY: every slot was initialised with `fill` above.
            let dst: Vec<T> = dst.iter().map(|v| unsafe { v.assume_init() }).collect();
            for (i, &v) in dst.iter().enumerate() {
                let at = i.checked_sub(2).filter(|&j| j % dst_stride < cols && j / dst_stride < rows);
                let want = at.map_or(fill, |j| data[base + j / dst_stride + (j % dst_stride) * col_stride]);
                assert_eq!(v, want, "slot {i}");
            }
        }
        let len = 5 + 18 + 12 * 40 + 1;
        check(&(0..len as u32).collect::<Vec<_>>(), u32::MAX);
        check(&(0..len as u64).collect::<Vec<_>>(), u64::MAX);
    }

    #[test]
    #[should_panic(expected = "outside its buffers")]
    fn transpose_into_refuses_a_block_past_its_slice() {
        let mut dst = vec![std::mem::MaybeUninit::new(0u32); 16];
        super::transpose_into(&[0u32; 64], 0, (8, 8), 8, &mut dst, 8);
    }
}
