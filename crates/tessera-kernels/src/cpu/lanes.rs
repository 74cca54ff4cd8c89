//! Sums and maxima over a row in independent lanes.
//!
//! Sums over a row in eight independent lanes: LLVM vectorises them (a single running sum is a
//! serial chain of adds it may not reorder) and they are more accurate than one running sum.
//! One sum per loop: with two accumulators in one loop LLVM left the lanes scalar. On LayerNorm's
//! rows of 128 (Zen 4), 16 lanes measured the same as 8, and 32 lanes or summing the lanes as a
//! tree measured slower.

use super::unary::FloatMath;

const LANES: usize = 8;

/// The lanes of [`max_lanes`]' main loop: four AVX-512 vectors of `f32`.
const MAX_LANES: usize = 64;

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

/// The largest element of `x` that is not NaN; `-inf` when there is none.
///
/// A maximum is exact in any order, so unlike a sum it can take as many lanes as pay: 64 while
/// whole groups of 64 remain, so that several vectors are compared side by side, then eight, then
/// one at a time. With eight lanes only, an `f32` row on AVX-512 was one half-width vector and a
/// chain of compares each waiting for the one before (a quarter of `cross_entropy`'s log-sum-exp
/// of the LM's 5000-wide rows, Zen 5 `perf`).
#[inline(always)]
pub(super) fn max_lanes<T: FloatMath>(x: &[T]) -> T {
    let neg_inf = T::from_f64(f64::NEG_INFINITY);
    // A NaN is never greater, so it never becomes the maximum.
    let greater = |m: T, v: T| if v > m { v } else { m };
    let (wide, rest) = (x.chunks_exact(MAX_LANES), x.chunks_exact(MAX_LANES).remainder());
    let mut lanes = [neg_inf; MAX_LANES];
    for c in wide {
        for l in 0..MAX_LANES {
            lanes[l] = greater(lanes[l], c[l]);
        }
    }
    let (narrow, tail) = (rest.chunks_exact(LANES), rest.chunks_exact(LANES).remainder());
    let mut few = [neg_inf; LANES];
    for c in lanes.chunks_exact(LANES).chain(narrow) {
        for l in 0..LANES {
            few[l] = greater(few[l], c[l]);
        }
    }
    few.iter().chain(tail).fold(neg_inf, |m, &v| greater(m, v))
}

#[cfg(test)]
mod tests {
    use super::max_lanes;

    #[test]
    fn max_lanes_is_the_largest_value_that_is_not_nan() {
        let mut state = 7u32;
        let mut next = || {
            state = state.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
            (state >> 8) as f32 / (1 << 24) as f32 * 200.0 - 100.0
        };
        for len in 0..300usize {
            let mut row: Vec<f32> = (0..len).map(|_| next()).collect();
            // Special values at positions that fall in the wide lanes, the narrow ones and the tail.
            for (at, v) in [(3, f32::NAN), (70, f32::NAN), (len.saturating_sub(1), f32::NEG_INFINITY)] {
                if at < len && len % 3 == 0 {
                    row[at] = v;
                }
            }
            let want = row.iter().filter(|v| !v.is_nan()).fold(f32::NEG_INFINITY, |m, &v| m.max(v));
            assert_eq!(max_lanes(&row).to_bits(), want.to_bits(), "length {len}");
        }
        assert_eq!(max_lanes(&[f32::NAN; 70]), f32::NEG_INFINITY);
        let mut with_inf = vec![1.0f64; 130];
        with_inf[129] = f64::INFINITY;
        assert_eq!(max_lanes(&with_inf), f64::INFINITY);
    }
}
