//! Both halves of cross-entropy for rows narrower than one exponential block (a 10-class
//! classifier's logits). Row by row, every exponential of such a row went through the scalar
//! tail of `row_lse` and `row_grad`; here the shifted logits of many rows are laid side by side
//! and exponentiated in one vector loop, then each row is finished on its own. The arithmetic and
//! its order per element are those of the row-by-row kernels, so the results are the same bits.

use super::super::simd::multiversion;
use super::super::unary::FloatMath;
use std::mem::MaybeUninit;

/// Rows narrower than this take the kernels of this file.
pub(super) const NARROW: usize = 64;

/// Elements exponentiated together (whole rows of fewer than [`NARROW`] elements).
const GROUP: usize = 256;

multiversion! {
    /// `log(sum(exp(x)))` of each `row`-element row of `x` into `out` (one per row), for
    /// `0 < row < NARROW`. Special values as `row_lse`: an all `-inf` row gives `-inf`, a
    /// `+inf` gives `+inf` (NaN if the row holds a NaN), and a NaN anywhere else gives NaN.
    fn lse<T>(x: &[T], row: usize, out: &mut [T]) where T: FloatMath
    {
        let neg_inf = T::from_f32(f32::NEG_INFINITY);
        let per = GROUP / row;
        let (mut buf, mut shift) = ([T::ZERO; GROUP], [T::ZERO; GROUP]);
        for (rows, out) in x.chunks(per * row).zip(out.chunks_mut(per)) {
            for (r, xr) in rows.chunks_exact(row).enumerate() {
                // A NaN is never greater, so it does not become the maximum (as in `row_lse`).
                let max = xr.iter().fold(neg_inf, |m, &v| if v > m { v } else { m });
                // An all -inf row: shifting by 0 keeps the sum 0 and the result -inf.
                shift[r] = if max == neg_inf { T::ZERO } else { max };
                for (b, &v) in buf[r * row..][..row].iter_mut().zip(xr) {
                    *b = v - shift[r];
                }
            }
            for b in &mut buf[..rows.len()] {
                *b = b.exp_flushed();
            }
            for (r, o) in out.iter_mut().enumerate() {
                let xr = &rows[r * row..][..row];
                *o = if shift[r] == T::from_f32(f32::INFINITY) {
                    // exp(inf - inf) is NaN: the result is infinite, or NaN if any element is.
                    if xr.iter().any(|&v| super::super::buffer::is_nan(v)) { T::from_f32(f32::NAN) } else { shift[r] }
                } else {
                    buf[r * row..][..row].iter().fold(T::ZERO, |s, &e| s + e).ln() + shift[r]
                };
            }
        }
    }
}

multiversion! {
    /// `exp(x - lse[r]) * scale[r] - scale[r] * uniform` for every element of each `row`-element
    /// row `r` of `x`, written to `out` (as long as `x`), for `0 < row < NARROW`.
    fn grad<T>(x: &[T], row: usize, lse: &[T], scale: &[T], uniform: T, out: &mut [MaybeUninit<T>])
    where T: FloatMath
    {
        for (r, (o, xr)) in out.chunks_mut(row).zip(x.chunks(row)).enumerate() {
            for (o, &v) in o.iter_mut().zip(xr) {
                o.write(v - lse[r]);
            }
        }
        // SAFETY: the loop above wrote every element of `out` (rows of `row` cover both slices).
        let out = unsafe { &mut *(out as *mut [MaybeUninit<T>] as *mut [T]) };
        for e in out.iter_mut() {
            *e = e.exp_flushed();
        }
        for (r, o) in out.chunks_mut(row).enumerate() {
            for e in o {
                *e = *e * scale[r] - scale[r] * uniform;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows of every narrow width, enough of them to fill several groups, with the special rows
    /// `row_lse` handles (all -inf, a +inf, a NaN, both): each result the same bits as the
    /// row-by-row kernels give.
    #[test]
    fn same_bits_as_row_by_row() {
        let (inf, nan) = (f32::INFINITY, f32::NAN);
        for row in 1..NARROW {
            let rows = 2 * GROUP / row + 3;
            let mut x: Vec<f32> = (0..rows * row).map(|i| (i as f32 * 0.37).sin() * 9.0).collect();
            x[row..2 * row].fill(-inf);
            x[2 * row] = inf;
            x[3 * row + row / 2] = nan;
            x[4 * row] = inf;
            x[4 * row + row - 1] = nan;
            x[5 * row + row / 3] = -inf;
            let mut got = vec![0f32; rows];
            lse(&x, row, &mut got);
            let want: Vec<f32> = x.chunks(row).map(|r| super::super::row_lse(r, &[])).collect();
            let bits = |v: &[f32]| v.iter().map(|e| e.to_bits()).collect::<Vec<_>>();
            assert_eq!(bits(&got), bits(&want), "lse, rows of {row}");

            let scale: Vec<f32> = (0..rows).map(|r| 0.5 + r as f32 / 7.0).collect();
            let uniform = 0.01;
            let mut out = vec![MaybeUninit::uninit(); x.len()];
            grad(&x, row, &want, &scale, uniform, &mut out);
            let got: Vec<f32> = out.iter().map(|e| unsafe { e.assume_init() }).collect();
            let mut expected = vec![MaybeUninit::uninit(); x.len()];
            for (r, (o, xr)) in expected.chunks_mut(row).zip(x.chunks(row)).enumerate() {
                super::super::row_grad(xr, o, want[r], scale[r], scale[r] * uniform);
            }
            let expected: Vec<f32> = expected.iter().map(|e| unsafe { e.assume_init() }).collect();
            assert_eq!(bits(&got), bits(&expected), "grad, rows of {row}");
        }
    }
}
