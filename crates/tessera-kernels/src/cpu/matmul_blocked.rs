//! Large f32 products on AVX-512, blocked for a 1 MiB L2: the same sums as gemm, to the bit.
//!
//! gemm blocks a `2048³` product so that 448 packed columns of the right operand fill 0.9 of a
//! 1 MiB L2 while 6 rows of the left one stream past them; on one thread of a Zen 5 it ran at
//! 0.90–0.96x OpenBLAS's speed. This path keeps gemm's 6 x 64 register tile and its split of `k`
//! (so each output element is the same chain of fused multiply-adds, and the bits do not depend
//! on which path or how many threads ran), but turns the blocking round: one packed 64-column
//! sliver (128 KiB at `kc` = 512) against [`BLOCK_ROWS`] rows of the left operand read in place
//! (192 KiB), and each output tile prefetched before its sums land. Criterion's
//! `matmul/t1/2048` on that Zen 5: 68.2–71.0 ms against gemm's 73.7–77.5 (seven and five runs,
//! alternated), numpy's best of 8 71.1–72.2 ms in between; equal to gemm at 1024, slower below
//! in a standalone test, hence [`takes`].

// Elsewhere `takes` is always false, and the blocking constants go unused.
#![cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]

use super::simd::has_avx512;

/// Rows of one register tile, and of the left operand read per kernel call.
const TILE_ROWS: usize = 6;
/// Columns of one register tile: four 16-lane registers.
const TILE_COLS: usize = 64;
/// Output rows computed against one packed sliver before moving to the next sliver: their left
/// operand rows (96 x 512 f32, 192 KiB) stay in L2 beside the sliver (128 KiB).
const BLOCK_ROWS: usize = 96;
/// Columns of the right operand packed at once (at `kc` = 512, 4 MiB: an L3's share).
const BLOCK_COLS: usize = 2048;
/// The smallest `m`, `n` and `k` this path takes: below it gemm was as fast or faster.
const MIN_SIDE: usize = 1024;

/// Whether [`product`] takes `dst (m × n) = lhs (m × k) · rhs (k × n)` with these (row, column)
/// strides: an AVX-512 CPU, every side at least [`MIN_SIDE`], and the output's and the left
/// operand's rows contiguous.
pub(super) fn takes([m, n, k]: [usize; 3], dst_strides: (usize, usize), lhs_strides: (usize, usize)) -> bool {
    m.min(n).min(k) >= MIN_SIDE && dst_strides.1 == 1 && lhs_strides.1 == 1 && has_avx512()
}

/// gemm's depth block for `k` with its `6 x 64` f32 tile on this CPU's caches: the blocks of
/// `k` are `kc` long but the last, as in gemm.
fn depth_block(m: usize, n: usize, k: usize) -> usize {
    // gemm swaps a row-major product into its column-major one: its rows are our columns.
    gemm_common::cache::kernel_params(n, m, k, TILE_COLS, TILE_ROWS, std::mem::size_of::<f32>()).kc.max(1)
}

/// `dst (m × n) = [dst +] lhs (m × k) · rhs (k × n)` where [`takes`] said yes; `false` where it
/// did not (nothing done).
///
/// # Safety
/// Every element the strides reach must lie in its buffer; `dst`'s elements must be writable,
/// initialised when `accumulate`, and touched by no other thread meanwhile.
#[allow(clippy::type_complexity)]
pub(super) unsafe fn product(
    [m, n, k]: [usize; 3],
    (dst, ds): (*mut f32, (usize, usize)),
    accumulate: bool,
    (lhs, ls): (*const f32, (usize, usize)),
    (rhs, rs): (*const f32, (usize, usize)),
) -> bool {
    if !takes([m, n, k], ds, ls) {
        return false;
    }
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `takes` checked AVX-512 and the unit strides; the rest is the caller's contract.
    unsafe {
        x86::product([m, n, k], (dst, ds.0), accumulate, (lhs, ls.0), (rhs, rs), depth_block(m, n, k))
    };
    cfg!(target_arch = "x86_64")
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{BLOCK_COLS, BLOCK_ROWS, TILE_COLS, TILE_ROWS};
    use std::arch::x86_64::*;

    const LANES: usize = 16;
    const VECTORS: usize = TILE_COLS / LANES;

    /// The blocked product (see [`super::product`]) with the left operand's and the output's
    /// rows `ldl` and `ldd` apart and depth blocks of `kc`.
    #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
    pub(super) unsafe fn product(
        [m, n, k]: [usize; 3],
        (dst, ldd): (*mut f32, usize),
        accumulate: bool,
        (lhs, ldl): (*const f32, usize),
        (rhs, rs): (*const f32, (usize, usize)),
        kc: usize,
    ) {
        let sliver_len = kc * TILE_COLS;
        let mut packed = vec![0.0f32; BLOCK_COLS.min(n).div_ceil(TILE_COLS) * sliver_len];
        let mut edge_panel = vec![0.0f32; TILE_ROWS * kc];
        for c0 in (0..n).step_by(BLOCK_COLS) {
            let cols = BLOCK_COLS.min(n - c0);
            let slivers = cols.div_ceil(TILE_COLS);
            for p0 in (0..k).step_by(kc) {
                let depth = kc.min(k - p0);
                // SAFETY: the caller's contract: rows p0.. and columns c0.. of rhs lie in it.
                unsafe { pack_rhs(rhs.add(p0 * rs.0 + c0 * rs.1), rs, depth, cols, &mut packed) };
                let store = p0 == 0 && !accumulate;
                for r0 in (0..m).step_by(BLOCK_ROWS) {
                    let rows = BLOCK_ROWS.min(m - r0);
                    for s in 0..slivers {
                        let sliver = packed[s * depth * TILE_COLS..].as_ptr();
                        let width = TILE_COLS.min(cols - s * TILE_COLS);
                        for t in (0..rows).step_by(TILE_ROWS) {
                            let height = TILE_ROWS.min(rows - t);
                            let (row, col) = (r0 + t, c0 + s * TILE_COLS);
                            // SAFETY: rows row..row + height and the depth block lie in lhs, the
                            // tile's rows and columns in dst (the caller's contract).
                            unsafe {
                                let a = lhs.add(row * ldl + p0);
                                let c = dst.add(row * ldd + col);
                                if height == TILE_ROWS && width == TILE_COLS {
                                    tile(depth, (a, ldl, 1), sliver, (c, ldd), store);
                                } else {
                                    edge_tile(
                                        depth,
                                        (a, ldl),
                                        (height, width),
                                        sliver,
                                        (c, ldd),
                                        store,
                                        &mut edge_panel,
                                    );
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Packs `depth` rows by `cols` columns of the right operand (strides `rs`) into slivers of
    /// [`TILE_COLS`] columns, each `depth` rows of 64 values, the last padded with zeros.
    #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
    unsafe fn pack_rhs(
        src: *const f32,
        (row_stride, col_stride): (usize, usize),
        depth: usize,
        cols: usize,
        packed: &mut [f32],
    ) {
        for (s, sliver) in packed.chunks_exact_mut(depth * TILE_COLS).take(cols.div_ceil(TILE_COLS)).enumerate() {
            let c0 = s * TILE_COLS;
            let width = TILE_COLS.min(cols - c0);
            if width < TILE_COLS {
                sliver.fill(0.0);
            }
            if col_stride == 1 {
                for (p, row) in sliver.chunks_exact_mut(TILE_COLS).enumerate() {
                    // SAFETY: row p, columns c0..c0 + width of the block lie in rhs.
                    let from = unsafe { std::slice::from_raw_parts(src.add(p * row_stride + c0), width) };
                    row[..width].copy_from_slice(from);
                }
            } else {
                // Column after column, each read in order where the columns are contiguous.
                for j in 0..width {
                    for p in 0..depth {
                        // SAFETY: as above.
                        sliver[p * TILE_COLS + j] = unsafe { *src.add(p * row_stride + (c0 + j) * col_stride) };
                    }
                }
            }
        }
    }

    /// One 6 x 64 tile: `depth` steps of six left values (row `i`, step `p` at `a + i * row_step
    /// + p * depth_step`) times one packed row, then stored or added onto the tile at `c`.
    #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
    #[inline]
    unsafe fn tile(
        depth: usize,
        (a, row_step, depth_step): (*const f32, usize, usize),
        sliver: *const f32,
        (c, ldc): (*mut f32, usize),
        store: bool,
    ) {
        if !store {
            // The sums land here after `depth` steps: fetch the tile meanwhile.
            for i in 0..TILE_ROWS {
                for v in 0..VECTORS {
                    // SAFETY: a prefetch does not fault; the address is inside the tile anyway.
                    unsafe { _mm_prefetch::<_MM_HINT_T0>(c.add(i * ldc + v * LANES).cast()) };
                }
            }
        }
        let mut acc = [[_mm512_setzero_ps(); VECTORS]; TILE_ROWS];
        let (mut a, mut b) = (a, sliver);
        for _ in 0..depth {
            // SAFETY (every access): the caller's tile lies in its operands; the prefetch reaches
            // at most 8 packed rows past the sliver, which never faults.
            unsafe {
                let mut bv = [_mm512_setzero_ps(); VECTORS];
                for (v, reg) in bv.iter_mut().enumerate() {
                    *reg = _mm512_loadu_ps(b.add(v * LANES));
                }
                _mm_prefetch::<_MM_HINT_T0>(b.add(8 * TILE_COLS).cast());
                for (i, row) in acc.iter_mut().enumerate() {
                    let av = _mm512_set1_ps(*a.add(i * row_step));
                    for (sum, reg) in row.iter_mut().zip(&bv) {
                        *sum = _mm512_fmadd_ps(av, *reg, *sum);
                    }
                }
                a = a.add(depth_step);
                b = b.add(TILE_COLS);
            }
        }
        for (i, row) in acc.iter().enumerate() {
            for (v, sum) in row.iter().enumerate() {
                // SAFETY: the tile lies in dst.
                unsafe {
                    let at = c.add(i * ldc + v * LANES);
                    let value = if store { *sum } else { _mm512_add_ps(*sum, _mm512_loadu_ps(at)) };
                    _mm512_storeu_ps(at, value);
                }
            }
        }
    }

    /// A tile at the bottom or right edge: the sums taken into a full tile on the stack (a
    /// bottom tile's `height` rows copied into a zero-padded panel first), and `width` columns
    /// of them stored or added.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
    unsafe fn edge_tile(
        depth: usize,
        (a, lda): (*const f32, usize),
        (height, width): (usize, usize),
        sliver: *const f32,
        (c, ldc): (*mut f32, usize),
        store: bool,
        panel: &mut [f32],
    ) {
        let left = if height == TILE_ROWS {
            (a, lda, 1)
        } else {
            let panel = &mut panel[..depth * TILE_ROWS];
            panel.fill(0.0);
            for i in 0..height {
                for p in 0..depth {
                    // SAFETY: row i of the tile lies in lhs.
                    panel[p * TILE_ROWS + i] = unsafe { *a.add(i * lda + p) };
                }
            }
            (panel.as_ptr(), 1, TILE_ROWS)
        };
        let mut sums = [0.0f32; TILE_ROWS * TILE_COLS];
        // SAFETY: the left rows (whole, or in the panel) and `sums` hold a whole tile; the sliver
        // is a packed one.
        unsafe { tile(depth, left, sliver, (sums.as_mut_ptr(), TILE_COLS), true) };
        for i in 0..height {
            for j in 0..width {
                let sum = sums[i * TILE_COLS + j];
                // SAFETY: element (i, j) of the tile lies in dst.
                unsafe {
                    let at = c.add(i * ldc + j);
                    *at = if store { sum } else { *at + sum };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(len: usize, seed: usize) -> Vec<f32> {
        (0..len).map(|i| ((i * 37 + seed) % 101) as f32 / 50.0 - 1.0).collect()
    }

    /// Bit for bit gemm's product, with tiles cut at the bottom and right edges, a depth split
    /// into unequal blocks, two blocks of columns, a transposed right operand and accumulation
    /// onto the output; and each sampled element within f32 rounding of an f64 dot product.
    #[test]
    fn the_blocked_product_gives_gemms_bits_at_every_edge() {
        for ([m, n, k], transposed, accumulate) in
            [([1027, 1093, 1030], false, false), ([1031, 2117, 1024], true, true)]
        {
            let (a, b) = (values(m * k, 1), values(k * n, 2));
            // The right operand as [k, n] rows, or as [n, k] rows seen transposed.
            let rs = if transposed { (1, k) } else { (n, 1) };
            let start = values(m * n, 3);
            let (mut blocked, mut reference) = (start.clone(), start.clone());
            // SAFETY: every matrix lies in its vector with these strides.
            let took = unsafe {
                product([m, n, k], (blocked.as_mut_ptr(), (n, 1)), accumulate, (a.as_ptr(), (k, 1)), (b.as_ptr(), rs))
            };
            assert_eq!(took, has_avx512(), "taken exactly on AVX-512 CPUs");
            if !took {
                continue;
            }
            // SAFETY: as above.
            unsafe {
                gemm::gemm(
                    m,
                    n,
                    k,
                    reference.as_mut_ptr(),
                    1,
                    n as isize,
                    accumulate,
                    a.as_ptr(),
                    1,
                    k as isize,
                    b.as_ptr(),
                    rs.1 as isize,
                    rs.0 as isize,
                    1.0,
                    1.0,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                )
            };
            let differ = blocked.iter().zip(&reference).filter(|(x, y)| x.to_bits() != y.to_bits()).count();
            assert_eq!(differ, 0, "{m}x{n}x{k}: elements that differ from gemm's");
            for s in 0..97 {
                let (i, j) = ((s * 389) % m, (s * 577 + m - 1) % n);
                let terms = (0..k).map(|p| a[i * k + p] as f64 * b[p * rs.0 + j * rs.1] as f64);
                let (dot, size) = terms.fold((0.0, 0.0), |(d, z), t| (d + t, z + t.abs()));
                let expected = dot + if accumulate { start[i * n + j] as f64 } else { 0.0 };
                let got = blocked[i * n + j] as f64;
                assert!((got - expected).abs() <= 1e-5 * (size + 1.0), "({i}, {j}): {got} against {expected}");
            }
        }
    }

    #[test]
    fn small_products_and_strided_rows_are_left_to_gemm() {
        assert!(!takes([1023, 2048, 2048], (2048, 1), (2048, 1)));
        assert!(!takes([2048, 2048, 2048], (1, 2048), (2048, 1)), "a column-major output");
        assert!(!takes([2048, 2048, 2048], (2048, 1), (1, 2048)), "a transposed left operand");
    }
}
