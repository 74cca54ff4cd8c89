//! The small dense products of one attention tile (at most [`ROWS`] query rows by [`KEYS`] keys),
//! shaped so that every inner loop runs over contiguous memory and vectorises: keys and values
//! are transposed into the tile first, and each product is a sequence of `y += a x` rows.

use super::simd::multiversion;
use super::unary::FloatMath;

/// Query rows per tile (a tile's rows share each key tile while it is in cache).
pub(super) const ROWS: usize = 32;
/// Keys per tile: the row stride of the score tiles.
pub(super) const KEYS: usize = 64;

/// One thread's scratch for a tile: scores (or weights) and a second score-shaped tile, both
/// `[ROWS, KEYS]`, and the tile's keys and values transposed, `[width, KEYS]`.
pub(super) struct Scratch<T> {
    pub s: Vec<T>,
    pub ds: Vec<T>,
    pub kt: Vec<T>,
    pub vt: Vec<T>,
}

impl<T: FloatMath> Scratch<T> {
    pub fn new(head_dim: usize, v_dim: usize) -> Self {
        Scratch {
            s: vec![T::ZERO; ROWS * KEYS],
            ds: vec![T::ZERO; ROWS * KEYS],
            kt: vec![T::ZERO; head_dim * KEYS],
            vt: vec![T::ZERO; v_dim * KEYS],
        }
    }
}

/// `dst[t * KEYS + c] = src[c * width + t]` for the `src.len() / width` rows of `src`.
pub(super) fn transpose<T: Copy>(src: &[T], width: usize, dst: &mut [T]) {
    for (c, row) in src.chunks_exact(width.max(1)).enumerate() {
        for (t, &x) in row.iter().enumerate() {
            dst[t * KEYS + c] = x;
        }
    }
}

multiversion! {
    /// `s[r][c] = Σ_t a[r][t] bt[t][c]` for the `n` rows of `a` (width `w`) and `kc` columns of
    /// the transposed tile `bt`; rows of `s` have stride [`KEYS`].
    fn products<T>(a: &[T], w: usize, bt: &[T], kc: usize, s: &mut [T])
    where T: FloatMath
    {
        for (ar, sr) in a.chunks_exact(w.max(1)).zip(s.chunks_exact_mut(KEYS)) {
            let sr = &mut sr[..kc];
            sr.fill(T::ZERO);
            for (&x, br) in ar.iter().zip(bt.chunks_exact(KEYS)) {
                for (y, &b) in sr.iter_mut().zip(&br[..kc]) {
                    *y = *y + x * b;
                }
            }
        }
    }
}

multiversion! {
    /// `y[r] += Σ_c coef[r][c] x[c]` over `kc` rows `x[c]` of width `w`, for each row `y[r]`.
    fn add_rows<T>(coef: &[T], kc: usize, x: &[T], w: usize, y: &mut [T])
    where T: FloatMath
    {
        for (cr, yr) in coef.chunks_exact(KEYS).zip(y.chunks_exact_mut(w.max(1))) {
            for (&a, xr) in cr[..kc].iter().zip(x.chunks_exact(w.max(1))) {
                if a != T::ZERO {
                    for (y, &x) in yr.iter_mut().zip(xr) {
                        *y = *y + a * x;
                    }
                }
            }
        }
    }
}

multiversion! {
    /// `y[c] += Σ_r coef[r][c] x[r]` over the rows `x[r]` (width `w`), for the `kc` rows `y[c]`.
    fn add_rows_transposed<T>(coef: &[T], kc: usize, x: &[T], w: usize, y: &mut [T])
    where T: FloatMath
    {
        for (cr, xr) in coef.chunks_exact(KEYS).zip(x.chunks_exact(w.max(1))) {
            for (&a, yr) in cr[..kc].iter().zip(y.chunks_exact_mut(w.max(1))) {
                if a != T::ZERO {
                    for (y, &x) in yr.iter_mut().zip(xr) {
                        *y = *y + a * x;
                    }
                }
            }
        }
    }
}

multiversion! {
    /// `row[c] = exp(row[c] - shift)` (0 where `row[c]` is `-inf`), and returns the row's sum.
    fn exp_shifted<T>(row: &mut [T], shift: T) -> T
    where T: FloatMath
    {
        let neg_inf = T::from_f64(f64::NEG_INFINITY);
        for x in row.iter_mut() {
            // Masked entries take exp(0) and are then zeroed: exp(-inf) would go through the
            // subnormal range, where each multiply costs a microcode assist.
            let masked = *x == neg_inf;
            let e = (if masked { T::ZERO } else { *x - shift }).exp();
            *x = if masked { T::ZERO } else { e };
        }
        // Eight partial sums: a single running sum would serialise the loop.
        let mut lanes = [T::ZERO; 8];
        let chunks = row.chunks_exact(8);
        let rest = chunks.remainder().iter().fold(T::ZERO, |a, &x| a + x);
        for c in chunks {
            for (l, &x) in lanes.iter_mut().zip(c) {
                *l = *l + x;
            }
        }
        lanes.iter().fold(rest, |a, &x| a + x)
    }
}

multiversion! {
    /// The softmax's gradient of one row: `ds[c] = p[c] (dp[c] - delta)`.
    fn softmax_grad<T>(p: &[T], dp: &mut [T], delta: T)
    where T: FloatMath
    {
        for (d, &p) in dp.iter_mut().zip(p) {
            *d = p * (*d - delta);
        }
    }
}

/// The largest value of `row` (`-inf` for an empty row).
pub(super) fn max<T: FloatMath>(row: &[T]) -> T {
    row.iter().fold(T::from_f64(f64::NEG_INFINITY), |m, &x| if x > m { x } else { m })
}

/// `row *= a`.
pub(super) fn scale<T: FloatMath>(row: &mut [T], a: T) {
    row.iter_mut().for_each(|x| *x = *x * a);
}
