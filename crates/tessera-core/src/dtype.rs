//! Element types.

use half::{bf16, f16};
use std::fmt;

/// The element type of a tensor, chosen at run time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DType {
    /// 32-bit IEEE float.
    F32,
    /// 64-bit IEEE float.
    F64,
    /// 16-bit IEEE half float.
    F16,
    /// 16-bit brain float (8-bit exponent).
    BF16,
    /// Unsigned byte; also the type of boolean masks.
    U8,
    /// Unsigned 32-bit integer (token ids, indices).
    U32,
    /// Signed 64-bit integer (PyTorch's index type).
    I64,
}

impl DType {
    /// Every dtype, in declaration order.
    pub const ALL: [DType; 7] = [DType::F32, DType::F64, DType::F16, DType::BF16, DType::U8, DType::U32, DType::I64];

    /// Size of one element in bytes.
    pub fn size_in_bytes(self) -> usize {
        match self {
            DType::U8 => 1,
            DType::F16 | DType::BF16 => 2,
            DType::F32 | DType::U32 => 4,
            DType::F64 | DType::I64 => 8,
        }
    }

    /// Whether this is a floating-point type.
    pub fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64 | DType::F16 | DType::BF16)
    }

    /// Whether this is an integer type (u8, u32, i64).
    pub fn is_int(self) -> bool {
        !self.is_float()
    }

    /// The short lowercase name (`f32`, `bf16`, `i64`, ...), as safetensors and PyTorch spell it.
    pub fn as_str(self) -> &'static str {
        match self {
            DType::F32 => "f32",
            DType::F64 => "f64",
            DType::F16 => "f16",
            DType::BF16 => "bf16",
            DType::U8 => "u8",
            DType::U32 => "u32",
            DType::I64 => "i64",
        }
    }
}

impl fmt::Display for DType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A Rust type that can be the element of a tensor.
///
/// Conversions go through `f64`, which represents every value of every supported type exactly
/// except `i64` beyond 2^53 (casts of such values round, as in PyTorch's `double()`).
pub trait Element: Copy + Send + Sync + PartialOrd + PartialEq + fmt::Debug + fmt::Display + Default + 'static {
    /// The runtime tag of this type.
    const DTYPE: DType;
    /// The value zero.
    const ZERO: Self;
    /// The value one.
    const ONE: Self;
    /// Converts to `f64`.
    fn to_f64(self) -> f64;
    /// Converts from `f64`: floats round to nearest, integers saturate (NaN becomes 0).
    fn from_f64(v: f64) -> Self;
}

macro_rules! float_element {
    ($t:ty, $dt:ident, $zero:expr, $one:expr, $to:expr, $from:expr) => {
        impl Element for $t {
            const DTYPE: DType = DType::$dt;
            const ZERO: Self = $zero;
            const ONE: Self = $one;
            #[inline(always)]
            fn to_f64(self) -> f64 {
                $to(self)
            }
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                $from(v)
            }
        }
    };
}

float_element!(f32, F32, 0.0, 1.0, |x: f32| x as f64, |v: f64| v as f32);
float_element!(f64, F64, 0.0, 1.0, |x: f64| x, |v: f64| v);
float_element!(f16, F16, f16::ZERO, f16::ONE, f16::to_f64, f16::from_f64);
float_element!(bf16, BF16, bf16::ZERO, bf16::ONE, bf16::to_f64, bf16::from_f64);

macro_rules! int_element {
    ($t:ty, $dt:ident) => {
        impl Element for $t {
            const DTYPE: DType = DType::$dt;
            const ZERO: Self = 0;
            const ONE: Self = 1;
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                // `as` saturates and maps NaN to 0.
                v as $t
            }
        }
    };
}

int_element!(u8, U8);
int_element!(u32, U32);
int_element!(i64, I64);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_names() {
        assert_eq!(DType::BF16.size_in_bytes(), 2);
        assert_eq!(DType::I64.to_string(), "i64");
        assert!(DType::F16.is_float() && DType::U32.is_int());
    }

    #[test]
    fn integer_conversion_saturates() {
        assert_eq!(u8::from_f64(300.0), 255);
        assert_eq!(u8::from_f64(-3.0), 0);
        assert_eq!(u32::from_f64(f64::NAN), 0);
        assert_eq!(i64::from_f64(-2.7), -2);
    }
}
