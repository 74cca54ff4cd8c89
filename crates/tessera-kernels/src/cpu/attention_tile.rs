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

/// `dst (+)= factor · lhs · rhs` with `gemm` on the calling thread; `dst` is
/// `[lhs.rows, rhs.cols]` with row stride `dst_stride`, accumulated onto when `accumulate`.
fn gemm_into<T: FloatMath + 'static>(
    dst: &mut [T],
    dst_stride: usize,
    accumulate: bool,
    lhs: (&[T], View),
    rhs: (&[T], View),
    factor: T,
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
    super::product_flops::count_product(m, n, k);
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
            factor,
            false,
            false,
            false,
            Parallelism::None,
        )
    }
}

/// `s[r][c] = factor · Σ_t a[r][t] b[c][t]` for the rows of `s` (stride [`KEYS`]) and the `kc`
/// rows of `b`; `a` and `b` are given with their row strides, each row's `w` values contiguous: a
/// tile of `a bᵀ`, scaled in the product's last step (zeros when `w` is 0).
pub(super) fn products<T: FloatMath + 'static>(
    a: (&[T], usize),
    w: usize,
    b: (&[T], usize),
    kc: usize,
    factor: T,
    s: &mut [T],
) {
    let n = s.len() / KEYS;
    let lhs = View { rows: n, cols: w, row_stride: a.1, col_stride: 1 };
    let rhs = View { rows: w, cols: kc, row_stride: 1, col_stride: b.1 };
    gemm_into(s, KEYS, false, (a.0, lhs), (b.0, rhs), factor);
}

/// `buf` cut into `count` consecutive parts of `len` elements (the last one shorter when `len`
/// does not divide it): `count` empty parts when `len` is 0, so that zipping the parts of several
/// outputs, one of them empty (a zero width), still visits every problem or tile.
pub(super) fn parts<T>(buf: &mut [T], len: usize, count: usize) -> impl Iterator<Item = &mut [T]> {
    let (chunks, empty) = if len == 0 { (None, count) } else { (Some(buf.chunks_mut(len)), 0) };
    chunks.into_iter().flatten().chain(std::iter::repeat_with(<&mut [T]>::default).take(empty))
}

/// `y[r] += Σ_c coef[r][c] x[c]` over `kc` rows `x[c]` of width `w` (given with their row
/// stride), for each row `y[r]` (contiguous).
pub(super) fn add_rows<T: FloatMath + 'static>(coef: &[T], kc: usize, x: (&[T], usize), w: usize, y: &mut [T]) {
    let n = y.len() / w.max(1);
    let lhs = View { rows: n, cols: kc, row_stride: KEYS, col_stride: 1 };
    let rhs = View { rows: kc, cols: w, row_stride: x.1, col_stride: 1 };
    gemm_into(y, w, true, (coef, lhs), (x.0, rhs), T::ONE);
}

/// `y[c] += Σ_r coef[r][c] x[r]` over the rows `x[r]` of the coefficient tile (width `w`, given
/// with their row stride), for the `kc` rows `y[c]` (contiguous).
pub(super) fn add_rows_transposed<T: FloatMath + 'static>(
    coef: &[T],
    kc: usize,
    x: (&[T], usize),
    w: usize,
    y: &mut [T],
) {
    let n = coef.len() / KEYS;
    let lhs = View { rows: kc, cols: n, row_stride: 1, col_stride: KEYS };
    let rhs = View { rows: n, cols: w, row_stride: x.1, col_stride: 1 };
    gemm_into(y, w, true, (coef, lhs), (x.0, rhs), T::ONE);
}

/// `row[c] = exp(row[c] - shift)` (0 where `row[c]` is `-inf`; flushed to 0 where the result
/// would be a subnormal f32), and returns the row's sum.
#[inline(always)]
fn exp_shifted<T: FloatMath>(row: &mut [T], shift: T) -> T {
    for x in row.iter_mut() {
        *x = (*x - shift).exp_flushed();
    }
    lanes_fold(row, T::ZERO, |a, x| a + x)
}

/// `row`'s values folded into `init` by `f` over sixteen independent lanes (a single running
/// value would serialise the loop), then the lanes halved pairwise: four vector steps rather than
/// sixteen dependent scalar ones, which cost a short row (a causal tile's 32 keys) as much as
/// its whole pass.
#[inline(always)]
fn lanes_fold<T: FloatMath>(row: &[T], init: T, f: impl Fn(T, T) -> T) -> T {
    let mut lanes = [init; 16];
    let chunks = row.chunks_exact(16);
    let rest = chunks.remainder().iter().fold(init, |a, &x| f(a, x));
    for c in chunks {
        for (l, &x) in lanes.iter_mut().zip(c) {
            *l = f(*l, x);
        }
    }
    let mut width = 16;
    while width > 1 {
        width /= 2;
        for i in 0..width {
            lanes[i] = f(lanes[i], lanes[i + width]);
        }
    }
    f(rest, lanes[0])
}

/// `row *= a`.
#[inline(always)]
fn scale<T: FloatMath>(row: &mut [T], a: T) {
    row.iter_mut().for_each(|x| *x = *x * a);
}

multiversion! {
    /// One key tile of the forward's online softmax. For each row `r` of the score tile `s` (row
    /// stride [`KEYS`], `kc` keys, masked scores `-inf`): the running maximum `m[r]` and sum of
    /// exponentials `l[r]` take the tile in, the row's output so far (`dv` wide in `out`) is
    /// rescaled to the new maximum, and the scores become their exponentials relative to it.
    fn online_softmax<T>(s: &mut [T], kc: usize, m: &mut [T], l: &mut [T], out: &mut [T], dv: usize)
    where T: FloatMath
    {
        let neg_inf = T::from_f64(f64::NEG_INFINITY);
        let n = m.len();
        let rows = s.chunks_exact_mut(KEYS).zip(m.iter_mut().zip(l.iter_mut())).zip(parts(out, dv, n));
        for ((row, (m, l)), out) in rows {
            let row = &mut row[..kc];
            let row_max = lanes_fold(row, neg_inf, |a, x| if x > a { x } else { a });
            let m_new = if row_max > *m { row_max } else { *m };
            if m_new == neg_inf {
                row.fill(T::ZERO);
                continue;
            }
            let sum = exp_shifted(row, m_new);
            // A row's first unmasked tile has nothing before it to rescale (its output and sum
            // are 0), and for a short sequence it is the only tile.
            *l = if *m == neg_inf {
                sum
            } else {
                let rescale = (*m - m_new).exp();
                scale(out, rescale);
                *l * rescale + sum
            };
            *m = m_new;
        }
    }
}

multiversion! {
    /// The forward's last step for a tile's rows: each output row (`dv` wide) divided by its sum
    /// of exponentials `l`, and the row's log-sum-exp `m + ln l` into `lse` (left as it is, `-inf`,
    /// where every key was masked).
    fn finish_rows<T>(out: &mut [T], dv: usize, m: &[T], l: &[T], lse: &mut [T])
    where T: FloatMath
    {
        for (((out, &m), &l), lse) in parts(out, dv, m.len()).zip(m).zip(l).zip(lse.iter_mut()) {
            if l > T::ZERO {
                scale(out, T::ONE / l);
                *lse = m + l.ln();
            }
        }
    }
}

multiversion! {
    /// The backward's weights of a score tile (row stride [`KEYS`], `kc` keys): each row's
    /// scores become `exp(score - lse)` (0 for a row whose keys were all masked, `lse` `-inf`).
    fn weights_from_lse<T>(s: &mut [T], kc: usize, lse: &[T])
    where T: FloatMath
    {
        let neg_inf = T::from_f64(f64::NEG_INFINITY);
        for (row, &l) in s.chunks_exact_mut(KEYS).zip(lse) {
            if l == neg_inf {
                row[..kc].fill(T::ZERO);
            } else {
                exp_shifted(&mut row[..kc], l);
            }
        }
    }
}

multiversion! {
    /// The softmax's gradient of a tile's rows, scaled: `ds[c] = scale · p[c] (dp[c] - delta)`
    /// with `dp` given in `ds` and `delta` per row (row stride [`KEYS`], `kc` keys).
    fn softmax_grad<T>(p: &[T], ds: &mut [T], kc: usize, delta: &[T], scale: T)
    where T: FloatMath
    {
        for ((prow, drow), &delta) in p.chunks_exact(KEYS).zip(ds.chunks_exact_mut(KEYS)).zip(delta) {
            for (d, &p) in drow[..kc].iter_mut().zip(&prow[..kc]) {
                *d = scale * (p * (*d - delta));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_below_the_floor_and_masked_ones_are_zero_and_the_rest_exact() {
        let row = [0.0f32, f32::NEG_INFINITY, -100.0, -85.0, 1.0, -3.5];
        let mut s = vec![0.0f32; KEYS];
        s[..row.len()].copy_from_slice(&row);
        weights_from_lse(&mut s, row.len(), &[0.5]);
        for (i, &x) in row.iter().enumerate() {
            let want = if x - 0.5 < -86.0 { 0.0 } else { ((x - 0.5) as f64).exp() };
            assert!((s[i] as f64 - want).abs() <= 1e-6 * want, "{x}: {} vs {want}", s[i]);
        }
        assert!(s[3] > 0.0 && s[3] < 1e-36, "exp(-85.5) is a normal f32, kept");
        let mut all_masked = vec![f32::NEG_INFINITY; KEYS];
        weights_from_lse(&mut all_masked, 4, &[f32::NEG_INFINITY]);
        assert_eq!(all_masked[..4], [0.0; 4]);
    }

    #[test]
    fn online_softmax_over_two_tiles_equals_one_softmax() {
        let scores: Vec<f32> = (0..2 * KEYS).map(|i| ((i * 37 % 101) as f32 * 0.173).sin() * 6.0).collect();
        let v: Vec<f32> = (0..2 * KEYS).map(|i| (i as f32 * 0.31).cos()).collect();
        let (mut m, mut l, mut out, mut lse) = ([f32::NEG_INFINITY], [0.0f32], [0.0f32], [f32::NEG_INFINITY]);
        for half in scores.chunks(KEYS).zip(v.chunks(KEYS)) {
            let mut s = half.0.to_vec();
            online_softmax(&mut s, KEYS, &mut m, &mut l, &mut out, 1);
            out[0] += s.iter().zip(half.1).map(|(w, x)| w * x).sum::<f32>();
        }
        finish_rows(&mut out, 1, &m, &l, &mut lse);
        let max = scores.iter().fold(f64::NEG_INFINITY, |a, &x| a.max(x as f64));
        let sum: f64 = scores.iter().map(|&x| (x as f64 - max).exp()).sum();
        let want: f64 = scores.iter().zip(&v).map(|(&x, &y)| (x as f64 - max).exp() / sum * y as f64).sum();
        assert!((out[0] as f64 - want).abs() < 1e-5, "{} vs {want}", out[0]);
        assert!((lse[0] as f64 - (max + sum.ln())).abs() < 1e-5, "{} vs {}", lse[0], max + sum.ln());
    }
}
