//! Sums over a row in eight independent lanes: LLVM vectorises them (a single running sum is a
//! serial chain of adds it may not reorder) and they are more accurate than one running sum.
//! One sum per loop: with two accumulators in one loop LLVM left the lanes scalar. On LayerNorm's
//! rows of 128 (Zen 4), 16 lanes measured the same as 8, and 32 lanes or summing the lanes as a
//! tree measured slower.

use super::unary::FloatMath;

const LANES: usize = 8;

/// `Σ f(a[i], b[i])`: the remainder past the last full group of lanes first, then the lanes.
#[inline(always)]
pub(super) fn sum_lanes<T: FloatMath>(a: &[T], b: &[T], f: impl Fn(T, T) -> T) -> T {
    sum3_lanes(a, b, b, |a, b, _| f(a, b))
}

/// `Σ f(a[i], b[i], c[i])`, summed as [`sum_lanes`].
#[inline(always)]
pub(super) fn sum3_lanes<T: FloatMath>(a: &[T], b: &[T], c: &[T], f: impl Fn(T, T, T) -> T) -> T {
    let mut acc = [T::ZERO; LANES];
    let (ac, bc, cc) = (a.chunks_exact(LANES), b.chunks_exact(LANES), c.chunks_exact(LANES));
    let tail = ac.remainder().iter().zip(bc.remainder()).zip(cc.remainder());
    let tail = tail.fold(T::ZERO, |s, ((&a, &b), &c)| s + f(a, b, c));
    for ((a, b), c) in ac.zip(bc).zip(cc) {
        for l in 0..LANES {
            acc[l] = acc[l] + f(a[l], b[l], c[l]);
        }
    }
    acc.iter().fold(tail, |s, &v| s + v)
}
