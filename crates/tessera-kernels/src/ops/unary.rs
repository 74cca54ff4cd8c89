//! The unary op table: one row per elementwise op of one operand.
//!
//! [`unary_op_table!`](crate::unary_op_table) is the single list of these ops. It hands its rows
//! to a macro of the caller's choosing, so that every crate derives what it needs from the same
//! rows: this module the [`UnaryOp`] enum, its names, dtype rules, reference formulas and test
//! examples; `tessera-tensor` the `Tensor` methods; `tessera-autograd` the `Var` methods and
//! their gradient checks. A row reads
//!
//! ```text
//! /// doc of the method
//! Variant(params) => method { ints: No | Signed | All, domain: <Domain>, f64: |x| <formula>
//!     [, examples: [p0, p1] [p0, p1] ...] };
//! ```
//!
//! A macro that needs only the names and docs matches `{ $($fields:tt)* }` and ignores the rest.
//!
//! `ints` says which integer dtypes the op maps to themselves (`Signed`: only i64), `domain`
//! where its inputs are differentiable and finite (for tests and gradient checks), and the
//! formula is the op in `f64`: the definition every backend is tested against. An op with
//! parameters lists examples of them (what tests, gradient checks and benchmarks run it with).
//! Adding an op takes
//! this row, the CPU formula (`cpu/unary.rs`), one line of `kernels/unary.cu`, and its backward
//! rule (`tessera-autograd`'s `ops/unary.rs`); tests fail until all four exist.

use super::{Domain, IntSupport};
use tessera_core::DType;

/// Invokes `$callback!` with every row of the unary op table (see the module docs of
/// `tessera_kernels::ops::unary`).
#[macro_export]
macro_rules! unary_op_table {
    ($($callback:ident)::+) => {
        $($callback)::+! {
            /// `-x`
            Neg => neg { ints: Signed, domain: Any, f64: |x| -x };
            /// `|x|`
            Abs => abs { ints: All, domain: Kinked(&[0.0]), f64: |x| x.abs() };
            /// `e^x`
            Exp => exp { ints: No, domain: Any, f64: |x| x.exp() };
            /// Natural logarithm.
            Log => log { ints: No, domain: Positive, f64: |x| x.ln() };
            /// Square root.
            Sqrt => sqrt { ints: No, domain: Positive, f64: |x| x.sqrt() };
            /// `1 / x`
            Recip => recip { ints: No, domain: NonZero, f64: |x| 1.0 / x };
            /// `x * x`
            Square => square { ints: All, domain: Any, f64: |x| x * x };
            /// Sine.
            Sin => sin { ints: No, domain: Any, f64: |x| x.sin() };
            /// Cosine.
            Cos => cos { ints: No, domain: Any, f64: |x| x.cos() };
            /// Hyperbolic tangent.
            Tanh => tanh { ints: No, domain: Any, f64: |x| x.tanh() };
            /// `1 / (1 + e^-x)`
            Sigmoid => sigmoid { ints: No, domain: Any, f64: |x| 1.0 / (1.0 + (-x).exp()) };
            /// `max(x, 0)`
            Relu => relu { ints: All, domain: Kinked(&[0.0]), f64: |x| x.max(0.0) };
            /// GELU with the exact normal CDF, `x Φ(x)` (PyTorch's default).
            Gelu => gelu { ints: No, domain: Bounded(-3.0, 3.0),
                f64: |x| 0.5 * x * (1.0 + $crate::ops::erf(x * std::f64::consts::FRAC_1_SQRT_2)) };
            /// GELU's tanh approximation (PyTorch's `approximate="tanh"`).
            GeluTanh => gelu_tanh { ints: No, domain: Bounded(-3.0, 3.0),
                f64: |x| 0.5 * x * (1.0 + ((2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x)).tanh()) };
            /// The derivative of `gelu`, `Φ(x) + x φ(x)` (its fused backward).
            GeluGrad => gelu_grad { ints: No, domain: Bounded(-3.0, 3.0),
                f64: |x| 0.5 * (1.0 + $crate::ops::erf(x * std::f64::consts::FRAC_1_SQRT_2))
                    + x * (-0.5 * x * x).exp() * 0.398_942_280_401_432_7 };
            /// The derivative of `gelu_tanh` (its fused backward).
            GeluTanhGrad => gelu_tanh_grad { ints: No, domain: Bounded(-3.0, 3.0),
                f64: |x| {
                    let (c, k) = ((2.0 / std::f64::consts::PI).sqrt(), 0.044715);
                    let t = (c * (x + k * x * x * x)).tanh();
                    0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * c * (1.0 + 3.0 * k * x * x)
                } };
            /// The error function, `2/sqrt(pi) ∫_0^x e^(-t^2) dt`.
            Erf => erf { ints: No, domain: Any, f64: |x| $crate::ops::erf(x) };
            /// The complementary error function, `1 - erf(x)`, accurate in its tail where
            /// `1 - erf(x)` would round to 0.
            Erfc => erfc { ints: No, domain: Any, f64: |x| $crate::ops::erfc(x) };
            /// `x * sigmoid(x)` (SiLU, swish).
            Silu => silu { ints: No, domain: Bounded(-3.0, 3.0), f64: |x| x / (1.0 + (-x).exp()) };
            /// `x ^ p` for a scalar exponent.
            Powf(p) => powf { ints: No, domain: Positive, f64: |x| x.powf(p), examples: [-1.5] [0.5] [2.5] };
            /// Limits values to `[lo, hi]` (NaN passes through).
            Clamp(lo, hi) => clamp { ints: All, domain: Any, f64: |x| x.max(lo).min(hi),
                examples: [-0.5, 1.25] [0.25, 3.0] };
            /// `mul * x + add`.
            Affine(mul, add) => affine { ints: All, domain: Any, f64: |x| mul * x + add, examples: [-1.5, 0.25] };
        }
    };
}

/// Inside `impl T` for a `T` with `fn unary(&self, UnaryOp) -> Result<T>` (`Tensor`, `Var`):
/// one method per row of the unary table, `x.exp()`, `x.powf(p)`, `x.clamp(lo, hi)`...
#[macro_export]
macro_rules! unary_methods {
    () => {
        $crate::unary_op_table!($crate::__unary_methods);
    };
}

#[macro_export]
#[doc(hidden)]
macro_rules! __unary_methods {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident $(($($param:ident),+))? => $method:ident { $($fields:tt)* };
    )*) => {$(
        $(#[doc = $doc])*
        pub fn $method(&self $($(, $param: f64)+)?) -> Result<Self> {
            self.unary($crate::ops::UnaryOp::$variant $(($($param),+))?)
        }
    )*};
}

/// The table's examples as one slice: for each row `variant [params]...;`, the variant itself, or
/// the variant with each listed parameter set.
macro_rules! examples {
    (@done [$($out:expr,)*]) => {
        &[$($out),*]
    };
    (@done [$($out:expr,)*] $variant:ident; $($rest:tt)*) => {
        examples!(@done [$($out,)* UnaryOp::$variant,] $($rest)*)
    };
    (@done [$($out:expr,)*] $variant:ident $([$($example:expr),+])+; $($rest:tt)*) => {
        examples!(@done [$($out,)* $(UnaryOp::$variant($($example),+),)+] $($rest)*)
    };
}

macro_rules! define_unary_op {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident $(($($param:ident),+))? => $method:ident {
            ints: $ints:ident, domain: $domain:expr, f64: |$x:ident| $formula:expr $(, examples: $([$($example:expr),+])+)?
        };
    )*) => {
        /// An elementwise op of one operand; scalar parameters travel in the variant. Generated
        /// from [`unary_op_table!`](crate::unary_op_table).
        #[derive(Debug, Clone, Copy, PartialEq)]
        pub enum UnaryOp {
            $(
                $(#[doc = $doc])*
                $variant $(($($crate::param_type!($param)),+))?,
            )*
        }

        impl UnaryOp {
            /// The op's name: its method name, and the middle of its kernel names.
            pub fn name(&self) -> &'static str {
                match self {
                    $(UnaryOp::$variant { .. } => stringify!($method),)*
                }
            }

            /// Which integer dtypes the op maps to themselves.
            pub fn int_support(&self) -> IntSupport {
                match self {
                    $(UnaryOp::$variant { .. } => IntSupport::$ints,)*
                }
            }

            /// Where the op's inputs are finite and differentiable (tests draw from it).
            pub fn base_domain(&self) -> Domain {
                use Domain::*;
                match self {
                    $(UnaryOp::$variant { .. } => $domain,)*
                }
            }

            /// The op in `f64`: the definition every backend must agree with.
            #[allow(clippy::redundant_closure_call)]
            pub fn eval_f64(&self, x: f64) -> f64 {
                match *self {
                    $(UnaryOp::$variant $(($($param),+))? => {
                        let $x = x;
                        $formula
                    })*
                }
            }

            /// The names of every op of the table, in table order.
            pub const NAMES: &'static [&'static str] = &[$(stringify!($method)),*];

            /// One instance of every op (one per listed example for parametrised ones), in table
            /// order: what every suite, the host emulation and the GPU benchmark iterate.
            pub const EXAMPLES: &'static [UnaryOp] = examples!(@done [] $($variant $($([$($example),+])+)?;)*);
        }
    };
}

unary_op_table!(define_unary_op);

impl UnaryOp {
    /// Whether the op is defined on `dtype` (every op on floats; on integers per
    /// [`int_support`](Self::int_support)).
    pub fn supports(&self, dtype: DType) -> bool {
        dtype.is_float() || self.int_support().covers(dtype)
    }

    /// Where the op is finite and differentiable, with this instance's kinks (a clamp's bounds).
    pub fn domain(&self) -> Domain {
        match *self {
            UnaryOp::Clamp(lo, hi) => Domain::Clamped { lo, hi },
            _ => self.base_domain(),
        }
    }

    /// The scalar parameters as the kernels take them, `(p0, p1)` (zeros when there are none).
    pub fn params(&self) -> (f64, f64) {
        match *self {
            UnaryOp::Powf(p) => (p, 0.0),
            UnaryOp::Clamp(a, b) | UnaryOp::Affine(a, b) => (a, b),
            _ => (0.0, 0.0),
        }
    }

    /// The CUDA kernel of this op for `dtype`: `unary_<name>_<dtype>`.
    pub fn kernel(&self, dtype: DType) -> String {
        format!("unary_{}_{}", self.name(), dtype.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_cover_every_op_of_the_table() {
        for name in UnaryOp::NAMES {
            assert!(UnaryOp::EXAMPLES.iter().any(|op| op.name() == *name), "no example of {name}");
        }
        assert_eq!(UnaryOp::EXAMPLES.len(), UnaryOp::NAMES.len() + 3, "powf has 3 examples, clamp 2");
    }

    #[test]
    fn reference_formulas_and_dtype_rules() {
        assert_eq!(UnaryOp::Affine(2.0, 1.0).eval_f64(3.0), 7.0);
        assert_eq!(UnaryOp::Clamp(0.0, 1.0).eval_f64(5.0), 1.0);
        assert_eq!(UnaryOp::Powf(2.0).eval_f64(3.0), 9.0);
        assert!(UnaryOp::Neg.supports(DType::I64) && !UnaryOp::Neg.supports(DType::U8));
        assert!(UnaryOp::Abs.supports(DType::U8) && !UnaryOp::Exp.supports(DType::I64));
        assert_eq!(UnaryOp::GeluTanh.kernel(DType::BF16), "unary_gelu_tanh_bf16");
    }
}
