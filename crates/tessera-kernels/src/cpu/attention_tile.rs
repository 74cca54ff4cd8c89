//! The small dense products of one attention tile (at most [`ROWS`] query rows by [`KEYS`] keys)
//! through `gemm`'s micro-kernels, reading keys, values and weights in place through strides,
//! and the row operations of the online softmax, multiversioned so that they vectorise.

use super::simd::multiversion;
use super::unary::FloatMath;
use gemm::Parallelism;

/// Query rows per tile (a tile's rows share each key tile while it is in cache).
pub(super) const ROWS: usize = 32;
/// Keys per tile: the row stride of the score tiles.
pub(super) const KEYS: usize = 64;

/// One thread's scratch for a tile: scores (or weights) and a second score-shaped tile, both
/// `[ROWS, KEYS]`.
pub(super) struct Scratch<T> {
    pub s: Vec<T>,
    pub ds: Vec<T>,
}

impl<T: FloatMath> Scratch<T> {
    pub fn new() -> Self {
        Scratch { s: vec![T::ZERO; ROWS * KEYS], ds: vec![T::ZERO; ROWS * KEYS] }
    }
}

/// The shape and strides of a matrix that starts at its slice's first element.
#[derive(Clone, Copy)]
struct View {
    rows: usize,
    cols: usize,
    row_stride: usize,
    col_stride: usize,
}

/// `dst (+)= lhs · rhs` with `gemm` on the calling thread; `dst` is `[lhs.rows, rhs.cols]` with
/// row stride `dst_stride`, accumulated onto when `accumulate`.
fn gemm_into<T: FloatMath + 'static>(
    dst: &mut [T],
    dst_stride: usize,
    accumulate: bool,
    lhs: (&[T], View),
    rhs: (&[T], View),
) {
    let ((a, la), (b, lb)) = (lhs, rhs);
    let (m, k, n) = (la.rows, la.cols, lb.cols);
    debug_assert_eq!(k, lb.rows);
    if m == 0 || n == 0 {
        return;
    }
    let extent = |v: View| {
        if v.rows == 0 || v.cols == 0 {
            0
        } else {
            (v.rows - 1) * v.row_stride + (v.cols - 1) * v.col_stride + 1
        }
    };
    assert!(a.len() >= extent(la) && b.len() >= extent(lb), "attention tile operands out of range");
    assert!(dst.len() >= (m - 1) * dst_stride + n, "attention tile destination out of range");
    if k == 0 {
        if !accumulate {
            dst.chunks_mut(dst_stride).take(m).for_each(|r| r[..n].fill(T::ZERO));
        }
        return;
    }
    // SAFETY: the asserts above keep every element the strides reach inside its slice.
    unsafe {
        gemm::gemm(
            m,
            n,
            k,
            dst.as_mut_ptr(),
            1,
            dst_stride as isize,
            accumulate,
            a.as_ptr(),
            la.col_stride as isize,
            la.row_stride as isize,
            b.as_ptr(),
            lb.col_stride as isize,
            lb.row_stride as isize,
            T::ONE,
            T::ONE,
            false,
            false,
            false,
            Parallelism::None,
        )
    }
}

/// `s[r][c] = Σ_t a[r][t] b[c][t]` for the rows of `s` (stride [`KEYS`]) and the `kc` rows of `b`;
/// `a` and `b` are row-major of width `w`: a tile of `a bᵀ` (zeros when `w` is 0).
pub(super) fn products<T: FloatMath + 'static>(a: &[T], w: usize, b: &[T], kc: usize, s: &mut [T]) {
    let n = s.len() / KEYS;
    let lhs = View { rows: n, cols: w, row_stride: w, col_stride: 1 };
    let rhs = View { rows: w, cols: kc, row_stride: 1, col_stride: w };
    gemm_into(s, KEYS, false, (a, lhs), (&b[..kc * w], rhs));
}

/// `y[r] += Σ_c coef[r][c] x[c]` over `kc` rows `x[c]` of width `w`, for each row `y[r]`.
pub(super) fn add_rows<T: FloatMath + 'static>(coef: &[T], kc: usize, x: &[T], w: usize, y: &mut [T]) {
    let n = y.len() / w.max(1);
    let lhs = View { rows: n, cols: kc, row_stride: KEYS, col_stride: 1 };
    let rhs = View { rows: kc, cols: w, row_stride: w, col_stride: 1 };
    gemm_into(y, w, true, (coef, lhs), (x, rhs));
}

/// `y[c] += Σ_r coef[r][c] x[r]` over the rows `x[r]` (width `w`), for the `kc` rows `y[c]`.
pub(super) fn add_rows_transposed<T: FloatMath + 'static>(coef: &[T], kc: usize, x: &[T], w: usize, y: &mut [T]) {
    let n = x.len() / w.max(1);
    let lhs = View { rows: kc, cols: n, row_stride: 1, col_stride: KEYS };
    let rhs = View { rows: n, cols: w, row_stride: w, col_stride: 1 };
    gemm_into(y, w, true, (coef, lhs), (x, rhs));
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
