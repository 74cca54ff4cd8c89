//! Element types as the float kernels compute them: f32 and f64 as themselves, their contiguous
//! views borrowed rather than copied; f16 and bf16 widened to f32 and the results narrowed back.

use super::buffer::{strided_values, CpuBuffer, CpuElem};
use super::unary::{map, FloatMath};
use std::borrow::Cow;
use tessera_core::{bf16, f16, Layout};

/// An element type as the loops compute it: f32 and f64 as themselves (views of contiguous data
/// borrowed, not copied), f16 and bf16 widened to f32.
pub(super) trait Wide: CpuElem {
    /// The arithmetic type.
    type W: FloatMath + Send + Sync;
    /// The view's values, widened.
    fn widen<'a>(v: &'a [Self], l: &Layout) -> Cow<'a, [Self::W]>;
    /// Results narrowed back into a buffer of this type.
    fn narrow(v: Vec<Self::W>) -> CpuBuffer;
}

macro_rules! native {
    ($t:ty) => {
        impl Wide for $t {
            type W = $t;
            fn widen<'a>(v: &'a [$t], l: &Layout) -> Cow<'a, [$t]> {
                strided_values(v, l)
            }
            fn narrow(v: Vec<$t>) -> CpuBuffer {
                v.into()
            }
        }
    };
}
native!(f32);
native!(f64);

macro_rules! half {
    ($t:ty) => {
        impl Wide for $t {
            type W = f32;
            fn widen<'a>(v: &'a [$t], l: &Layout) -> Cow<'a, [f32]> {
                Cow::Owned(map(&strided_values(v, l), <$t>::to_f32))
            }
            fn narrow(v: Vec<f32>) -> CpuBuffer {
                map(&v, <$t>::from_f32).into()
            }
        }
    };
}
half!(f16);
half!(bf16);

/// The values of an optional operand of dtype `S`, widened.
pub(super) fn operand<'a, S: Wide>(b: Option<&'a CpuBuffer>, l: Option<&Layout>) -> Option<Cow<'a, [S::W]>> {
    b.zip(l).and_then(|(b, l)| b.as_slice::<S>().map(|v| S::widen(v, l)))
}

/// The values of an operand of dtype `S` that the caller has checked, widened.
pub(super) fn checked<'a, S: Wide>(b: &'a CpuBuffer, l: &Layout) -> Cow<'a, [S::W]> {
    operand::<S>(Some(b), Some(l)).expect("dtype checked by the caller")
}

/// What a forward saved for its backward (statistics, already in the arithmetic type `W`).
pub(super) fn saved_values<'a, W: CpuElem + Send + Sync>(b: &'a CpuBuffer, l: &Layout) -> Cow<'a, [W]> {
    b.as_slice::<W>().map(|v| strided_values(v, l)).expect("dtype checked by the caller")
}
