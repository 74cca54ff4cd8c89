//! Whole-slice conversions between the half types and f32, for the kernels that compute f16 and
//! bf16 in f32. For f16, `half`'s slice conversions use the F16C instructions (checked once per
//! call); its one-value conversions check the CPU on every call, which made f16 conversions about
//! 40% of an f16 GPT step's time (`perf`, AMD EPYC).

use super::par;
use super::unary::map;
use half::slice::HalfFloatSliceExt;
use std::mem::MaybeUninit;
use tessera_core::{bf16, f16};

/// Elements converted per stack block.
const BLOCK: usize = 1024;

/// A half-precision type: whole slices widen to f32 and narrow back (rounding to nearest even).
pub(crate) trait Half: Copy + Default + Send + Sync + 'static {
    /// `xs` as f32.
    fn widen(xs: &[Self]) -> Vec<f32>;
    /// `xs` rounded to this type.
    fn narrow(xs: &[f32]) -> Vec<Self>;
}

/// `xs` converted block by block through a stack buffer by `convert`, on the pool when large.
fn blocks<S: Copy + Sync, D: Copy + Default + Send>(xs: &[S], convert: impl Fn(&[S], &mut [D]) + Sync) -> Vec<D> {
    par::build_vec(xs.len(), 64, |start, out: &mut [MaybeUninit<D>]| {
        let src = &xs[start..start + out.len()];
        let mut buf = [D::default(); BLOCK];
        for (o, s) in out.chunks_mut(BLOCK).zip(src.chunks(BLOCK)) {
            let b = &mut buf[..s.len()];
            convert(s, b);
            for (o, &v) in o.iter_mut().zip(b.iter()) {
                o.write(v);
            }
        }
    })
}

impl Half for f16 {
    fn widen(xs: &[Self]) -> Vec<f32> {
        blocks(xs, |s: &[f16], d: &mut [f32]| s.convert_to_f32_slice(d))
    }
    fn narrow(xs: &[f32]) -> Vec<Self> {
        blocks(xs, |s: &[f32], d: &mut [f16]| d.convert_from_f32_slice(s))
    }
}

/// bf16 converts with shifts and a rounding add, which the compiler vectorises in `map`'s
/// loops; `half`'s slice conversion of bf16 is a loop of calls, slower than that.
impl Half for bf16 {
    fn widen(xs: &[Self]) -> Vec<f32> {
        map(xs, bf16::to_f32)
    }
    fn narrow(xs: &[f32]) -> Vec<Self> {
        map(xs, bf16::from_f32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_convert_as_single_values_do() {
        // Across blocks and the pool's chunks, with values that round, overflow and underflow.
        let xs: Vec<f32> = (0..300_001).map(|i| ((i as f32) * 0.37).sin() * 10f32.powi(i % 13 - 6)).collect();
        let h = f16::narrow(&xs);
        assert_eq!(h, xs.iter().map(|&x| f16::from_f32(x)).collect::<Vec<_>>());
        assert_eq!(f16::widen(&h), h.iter().map(|x| x.to_f32()).collect::<Vec<_>>());
        let b = bf16::narrow(&xs);
        assert_eq!(b, xs.iter().map(|&x| bf16::from_f32(x)).collect::<Vec<_>>());
        assert_eq!(bf16::widen(&b), b.iter().map(|x| x.to_f32()).collect::<Vec<_>>());
    }
}
