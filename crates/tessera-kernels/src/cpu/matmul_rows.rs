//! f32 products of a few rows by a weight stored `[n, k]` and seen transposed (`x @ Wᵀ`: a decoder
//! step over a few beams or samples, a linear layer at a tiny batch), as dot products of `x`'s
//! rows with `W`'s rows, both read in place.
//!
//! gemm's kernels read the weight in the other order, so for two rows or more they first pack all
//! of it: on a 2-vCPU Zen 4, `[32, 256] @ [1024, 256]ᵀ` took 0.36 ms where the same product with
//! the weight stored `[k, n]` took 0.15, and `[2, 768] @ [50257, 768]ᵀ` (GPT-2's output layer
//! for two samples) 34 ms where one row took 7. Here every weight row is read once per tile of
//! [`ROWS`] rows of `x`, each tile in registers, so the weight streams through once.

use super::matmul::OutPtr;
use super::par;
use rayon::prelude::*;

/// Rows of `x` per register tile.
const ROWS: usize = 4;
/// Rows of `W` (output columns) per register tile.
const COLS: usize = 4;

/// Whether `m` rows by a transposed `[n, k]` weight take this path: from 2 to 8 rows, where it beat
/// gemm when measured on a 2-vCPU Zen 4 at 1 and 2 threads (`benches/log/issue-20-items.md`,
/// "Products of a few rows"). At 2 or 3 rows gemm's time fell from about 0.22 ms to 3 µs between 384 and 128
/// weight rows (for `k` from 256 to 1,024), and this path lost at 128; at 4 rows it lost only at
/// 64 weight rows (5 µs against 4); at 8 it won at every shape tried.
///
/// It also won from 9 to 48 rows where `k` was at least 256, but is not taken there: its sums
/// run in another order than gemm's, and training batches have such sizes. A data-parallel run
/// whose ranks took this path for their half of a batch the single process gave to gemm (64
/// rows, 32 per rank) then drifted from it by 1.7e-5 of the parameters' scale after an epoch of
/// `train mlp`, past the 1e-5 that `tessera/tests/distributed.rs` holds it to (5e-6 with gemm on
/// both sides). Decoding a few sequences at once, the case this path is for, stays below 9 rows.
pub(super) fn takes(m: usize, n: usize) -> bool {
    match m {
        2..=3 => n >= 384,
        4..=7 => n >= 128,
        8 => true,
        _ => false,
    }
}

/// `out[i, j] (+)= Σ_p x[i, p] · w[j, p]` for `i < m`, `j < n`, `p < k`: `x` rows of stride
/// `ldx`, `w` rows of stride `ldw` (both with unit stride along `k`), `out` row-major `m × n`,
/// added onto when `accumulate` (the bias rows). Returns false, doing nothing, where the CPU has
/// neither AVX-512 nor AVX2 with FMA, or the product is empty (gemm then does it).
pub(super) fn rows_by_transposed(
    x: &[f32],
    ldx: usize,
    w: &[f32],
    ldw: usize,
    (m, k, n): (usize, usize, usize),
    out: &mut [std::mem::MaybeUninit<f32>],
    accumulate: bool,
) -> bool {
    let Some(tile) = tile_kernel() else { return false };
    if m == 0 || n == 0 || k == 0 {
        return false;
    }
    assert!(x.len() >= (m - 1) * ldx + k && w.len() >= (n - 1) * ldw + k && out.len() >= m * n);
    super::product_flops::count_product(m, n, k);
    let out_ptr = OutPtr(out.as_mut_ptr().cast::<f32>());
    // Columns `c0..c1` of every row of the output.
    let band = |(c0, c1): (usize, usize)| {
        for j0 in (c0..c1).step_by(COLS) {
            // A tile past the last row or column reads the last one again and drops the result.
            let w_rows: [&[f32]; COLS] = std::array::from_fn(|c| &w[(j0 + c).min(c1 - 1) * ldw..][..k]);
            for i0 in (0..m).step_by(ROWS) {
                let x_rows: [&[f32]; ROWS] = std::array::from_fn(|r| &x[(i0 + r).min(m - 1) * ldx..][..k]);
                let dots = tile(&x_rows, &w_rows);
                for (r, row) in dots.iter().enumerate().take(m - i0) {
                    for (c, &d) in row.iter().enumerate().take(c1 - j0) {
                        // SAFETY: (i0 + r, j0 + c) is inside the m × n output, and bands are
                        // disjoint column ranges.
                        unsafe {
                            let o = out_ptr.get().add((i0 + r) * n + j0 + c);
                            *o = if accumulate { *o + d } else { d };
                        }
                    }
                }
            }
        }
    };
    let threads = rayon::current_num_threads();
    if threads > 1 && m * n * k >= super::matmul::GEMM_PAR_MIN_FLOPS && n >= 2 * COLS {
        par::rearm();
        let width = n.div_ceil(threads).next_multiple_of(COLS);
        (0..n.div_ceil(width)).into_par_iter().for_each(|b| band((b * width, (b * width + width).min(n))));
    } else {
        band((0, n));
    }
    true
}

/// The dot products of [`ROWS`] rows by [`COLS`] rows, all `k` long.
type Tile = fn(&[&[f32]; ROWS], &[&[f32]; COLS]) -> [[f32; COLS]; ROWS];

/// The widest tile kernel this CPU runs.
fn tile_kernel() -> Option<Tile> {
    #[cfg(target_arch = "x86_64")]
    {
        if super::simd::has_avx512() {
            return Some(|x, w| {
                // SAFETY: the CPU has AVX-512F.
                unsafe { x86::tile_avx512(x, w) }
            });
        }
        if super::simd::has_avx2() {
            return Some(|x, w| {
                // SAFETY: the CPU has AVX2 and FMA.
                unsafe { x86::tile_avx2(x, w) }
            });
        }
    }
    None
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{COLS, ROWS};
    use std::arch::x86_64::*;

    /// 16 lanes per register; the last partial group of `k` read with a masked load.
    #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
    pub(super) unsafe fn tile_avx512(x: &[&[f32]; ROWS], w: &[&[f32]; COLS]) -> [[f32; COLS]; ROWS] {
        let k = x[0].len();
        let mut acc = [[_mm512_setzero_ps(); COLS]; ROWS];
        let (xp, wp) = (x.map(<[f32]>::as_ptr), w.map(<[f32]>::as_ptr));
        let mut step = |p: usize, mask: __mmask16| {
            // SAFETY (every load): lanes p + l, l < 16, are read only where the mask is set, that
            // is where p + l < k, the length of every row.
            let mut wv = [_mm512_setzero_ps(); COLS];
            for c in 0..COLS {
                wv[c] = unsafe { _mm512_maskz_loadu_ps(mask, wp[c].add(p)) };
            }
            for r in 0..ROWS {
                let xv = unsafe { _mm512_maskz_loadu_ps(mask, xp[r].add(p)) };
                for c in 0..COLS {
                    acc[r][c] = _mm512_fmadd_ps(xv, wv[c], acc[r][c]);
                }
            }
        };
        let full = k - k % 16;
        for p in (0..full).step_by(16) {
            step(p, 0xffff);
        }
        if full < k {
            step(full, (1u16 << (k - full)) - 1);
        }
        // Loops, not closures: a closure would not inherit this function's target features.
        let mut halves = [_mm256_setzero_ps(); ROWS * COLS];
        for r in 0..ROWS {
            for c in 0..COLS {
                let high = _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(acc[r][c]), 1));
                halves[r * COLS + c] = _mm256_add_ps(_mm512_castps512_ps256(acc[r][c]), high);
            }
        }
        let mut out = [[0f32; COLS]; ROWS];
        for (pair, group) in halves.chunks_exact(8).enumerate() {
            // SAFETY: `out` holds ROWS * COLS = 16 floats, two groups of 8.
            unsafe { _mm256_storeu_ps(out.as_mut_ptr().cast::<f32>().add(8 * pair), sums8(group)) };
        }
        out
    }

    /// Two tiles of 2 × [`COLS`]: 8 of the 16 registers hold sums, so none spills. 8 lanes per
    /// register, the remainder of `k` summed in scalars.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn tile_avx2(x: &[&[f32]; ROWS], w: &[&[f32]; COLS]) -> [[f32; COLS]; ROWS] {
        let k = x[0].len();
        let full = k - k % 8;
        let mut out = [[0f32; COLS]; ROWS];
        for half in 0..ROWS / 2 {
            let xs = [x[2 * half], x[2 * half + 1]];
            let mut acc = [[_mm256_setzero_ps(); COLS]; 2];
            for p in (0..full).step_by(8) {
                // SAFETY: p + 8 <= full <= k, the length of every row.
                let load = |row: &[f32]| unsafe { _mm256_loadu_ps(row.as_ptr().add(p)) };
                let mut wv = [_mm256_setzero_ps(); COLS];
                for c in 0..COLS {
                    wv[c] = load(w[c]);
                }
                for r in 0..2 {
                    let xv = load(xs[r]);
                    for c in 0..COLS {
                        acc[r][c] = _mm256_fmadd_ps(xv, wv[c], acc[r][c]);
                    }
                }
            }
            let mut sums = [0f32; 2 * COLS];
            let group = [acc[0][0], acc[0][1], acc[0][2], acc[0][3], acc[1][0], acc[1][1], acc[1][2], acc[1][3]];
            // SAFETY: `sums` holds 8 floats.
            unsafe { _mm256_storeu_ps(sums.as_mut_ptr(), sums8(&group)) };
            for r in 0..2 {
                for c in 0..COLS {
                    let tail: f32 = (full..k).map(|p| xs[r][p] * w[c][p]).sum();
                    out[2 * half + r][c] = sums[r * COLS + c] + tail;
                }
            }
        }
        out
    }

    /// The sums of eight vectors, in their order, as one vector: two rounds of pairwise adds
    /// within 128-bit halves, then the halves added; far fewer steps than summing each alone.
    #[inline]
    #[target_feature(enable = "avx2")]
    fn sums8(v: &[__m256]) -> __m256 {
        let h01 = _mm256_hadd_ps(v[0], v[1]);
        let h23 = _mm256_hadd_ps(v[2], v[3]);
        let h45 = _mm256_hadd_ps(v[4], v[5]);
        let h67 = _mm256_hadd_ps(v[6], v[7]);
        // Each 128-bit half: the sums of that half of v0..v3 (of v4..v7).
        let (q0, q1) = (_mm256_hadd_ps(h01, h23), _mm256_hadd_ps(h45, h67));
        _mm256_add_ps(_mm256_permute2f128_ps(q0, q1, 0x20), _mm256_permute2f128_ps(q0, q1, 0x31))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each tile kernel this CPU runs, at lengths around its register width.
    #[test]
    fn each_tile_kernel_matches_naive_dot_products() {
        #[cfg(target_arch = "x86_64")]
        {
            let mut kernels: Vec<Tile> = Vec::new();
            if crate::cpu::simd::has_avx512() {
                kernels.push(|x, w| unsafe { x86::tile_avx512(x, w) });
            }
            if crate::cpu::simd::has_avx2() {
                kernels.push(|x, w| unsafe { x86::tile_avx2(x, w) });
            }
            for k in [1, 7, 8, 9, 15, 16, 17, 33, 256] {
                let row = |s: usize| (0..k).map(|p| ((p * 7 + s * 13) % 11) as f32 - 5.0).collect::<Vec<_>>();
                let (xs, ws): (Vec<_>, Vec<_>) =
                    ((0..ROWS).map(row).collect(), (0..COLS).map(|c| row(c + 9)).collect());
                let x: [&[f32]; ROWS] = std::array::from_fn(|r| xs[r].as_slice());
                let w: [&[f32]; COLS] = std::array::from_fn(|c| ws[c].as_slice());
                for tile in &kernels {
                    let got = tile(&x, &w);
                    for r in 0..ROWS {
                        for c in 0..COLS {
                            // Small integers: every sum is exact.
                            let want: f32 = (0..k).map(|p| x[r][p] * w[c][p]).sum();
                            assert_eq!(got[r][c], want, "k {k}, [{r}, {c}]");
                        }
                    }
                }
            }
        }
    }

    /// Every tile edge: rows and columns that are not multiples of the tile, `k` not a multiple
    /// of a register, with and without accumulation, on one thread and two.
    #[test]
    fn matches_naive_dot_products() {
        let mut seed = 1u32;
        let mut next = || {
            seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (seed >> 8) as f32 / (1u32 << 24) as f32 - 0.5
        };
        for (m, k, n) in [(1, 1, 1), (2, 17, 5), (3, 31, 9), (5, 64, 4), (7, 100, 13), (32, 256, 70)] {
            let (ldx, ldw) = (k + 3, k + 1);
            let x: Vec<f32> = (0..m * ldx).map(|_| next()).collect();
            let w: Vec<f32> = (0..n * ldw).map(|_| next()).collect();
            let bias: Vec<f32> = (0..m * n).map(|_| next()).collect();
            for accumulate in [false, true] {
                for threads in [1, 2] {
                    let mut out: Vec<_> = bias.iter().map(|&b| std::mem::MaybeUninit::new(b)).collect();
                    let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                    let ran = pool.install(|| rows_by_transposed(&x, ldx, &w, ldw, (m, k, n), &mut out, accumulate));
                    if !ran {
                        return; // no AVX2 here: gemm does these products
                    }
                    for i in 0..m {
                        for j in 0..n {
                            let dot: f64 = (0..k).map(|p| x[i * ldx + p] as f64 * w[j * ldw + p] as f64).sum();
                            let want = dot + if accumulate { bias[i * n + j] as f64 } else { 0.0 };
                            // SAFETY: every element was written.
                            let got = unsafe { out[i * n + j].assume_init() } as f64;
                            assert!(
                                (got - want).abs() <= 1e-5 * (1.0 + want.abs()),
                                "{m}x{k}x{n} [{i}, {j}]: {got} {want}"
                            );
                        }
                    }
                }
            }
        }
    }
}
