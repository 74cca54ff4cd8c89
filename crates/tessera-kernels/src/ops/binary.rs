//! The binary op table: one row per broadcast elementwise op of two operands.
//!
//! [`binary_op_table!`](crate::binary_op_table) hands its rows to a macro of the caller's choosing
//! (see [`unary`](super::unary) for the pattern). A row reads
//!
//! ```text
//! /// doc of the method
//! Variant => method, ints: No | All, domains: (<lhs Domain>, <rhs Domain>), f64: |a, b| <formula>;
//! ```
//!
//! Adding an op takes the row, the CPU formula (`cpu/binary.rs`), one line of
//! `kernels/binary.cu` (float and, where `ints: All`, integer list) and a backward rule. A domain
//! may carry arguments, as the unary table's do (`Kinked(&[0.0])`).

use super::{Domain, IntSupport};
use tessera_core::DType;

/// Invokes `$callback!` with every row of the binary op table.
#[macro_export]
macro_rules! binary_op_table {
    ($($callback:ident)::+) => {
        $($callback)::+! {
            /// `a + b`, broadcast.
            Add => add { ints: All, domains: (Any, Any), f64: |a, b| a + b };
            /// `a - b`, broadcast.
            Sub => sub { ints: All, domains: (Any, Any), f64: |a, b| a - b };
            /// `a * b`, broadcast.
            Mul => mul { ints: All, domains: (Any, Any), f64: |a, b| a * b };
            /// `a / b`, broadcast (integer division by zero is an error).
            Div => div { ints: All, domains: (Any, NonZero), f64: |a, b| a / b };
            /// `a ^ b`, broadcast (float dtypes).
            Pow => pow { ints: No, domains: (Positive, Any), f64: |a, b| a.powf(b) };
            /// Elementwise maximum, broadcast (NaN propagates).
            Maximum => maximum { ints: All, domains: (Untied, Untied), f64: |a, b| $crate::ops::nan_max(a, b) };
            /// Elementwise minimum, broadcast (NaN propagates).
            Minimum => minimum { ints: All, domains: (Untied, Untied), f64: |a, b| $crate::ops::nan_min(a, b) };
            /// ReLU's backward in one pass: the output's gradient `b` where the input `a` is
            /// positive, else 0 (PyTorch's `threshold_backward` at 0).
            ReluBackward => relu_backward { ints: No, domains: (Kinked(&[0.0]), Any),
                f64: |a, b| if a > 0.0 { b } else { 0.0 } };
            /// GELU's backward in one pass: the output's gradient `b` times `gelu_grad(a)`.
            GeluBackward => gelu_backward { ints: No, domains: (Bounded(-3.0, 3.0), Any),
                f64: |a, b| b * $crate::ops::UnaryOp::GeluGrad.eval_f64(a) };
            /// The tanh-approximated GELU's backward in one pass: `b` times `gelu_tanh_grad(a)`.
            GeluTanhBackward => gelu_tanh_backward { ints: No, domains: (Bounded(-3.0, 3.0), Any),
                f64: |a, b| b * $crate::ops::UnaryOp::GeluTanhGrad.eval_f64(a) };
        }
    };
}

/// Inside `impl T` for a `T` with `fn binary(&self, BinaryOp, &T) -> Result<T>` (`Tensor`,
/// `Var`): one method per row of the binary table, `a.add(&b)`...
#[macro_export]
macro_rules! binary_methods {
    () => {
        $crate::binary_op_table!($crate::__binary_methods);
    };
}

#[macro_export]
#[doc(hidden)]
macro_rules! __binary_methods {
    ($($(#[doc = $doc:literal])* $variant:ident => $method:ident { $($fields:tt)* };)*) => {$(
        $(#[doc = $doc])*
        pub fn $method(&self, rhs: &Self) -> Result<Self> {
            self.binary($crate::ops::BinaryOp::$variant, rhs)
        }
    )*};
}

macro_rules! define_binary_op {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident => $method:ident {
            ints: $ints:ident,
            domains: ($lhs:ident $(($($la:tt)*))?, $rhs:ident $(($($ra:tt)*))?),
            f64: |$a:ident, $b:ident| $formula:expr
        };
    )*) => {
        /// An elementwise op of two operands (broadcast). Generated from
        /// [`binary_op_table!`](crate::binary_op_table).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum BinaryOp {
            $($(#[doc = $doc])* $variant,)*
        }

        impl BinaryOp {
            /// Every op, in table order.
            pub const ALL: &'static [BinaryOp] = &[$(BinaryOp::$variant),*];

            /// The op's name: its method name, and the middle of its kernel names.
            pub fn name(&self) -> &'static str {
                match self {
                    $(BinaryOp::$variant => stringify!($method),)*
                }
            }

            /// Which integer dtypes the op is defined on.
            pub fn int_support(&self) -> IntSupport {
                match self {
                    $(BinaryOp::$variant => IntSupport::$ints,)*
                }
            }

            /// Where each operand's values are finite and differentiable (tests draw from them).
            pub fn domains(&self) -> (Domain, Domain) {
                match self {
                    $(BinaryOp::$variant => (Domain::$lhs $(($($la)*))?, Domain::$rhs $(($($ra)*))?),)*
                }
            }

            /// The op in `f64`: the definition every backend must agree with.
            pub fn eval_f64(&self, a: f64, b: f64) -> f64 {
                match self {
                    $(BinaryOp::$variant => {
                        let ($a, $b) = (a, b);
                        $formula
                    })*
                }
            }
        }
    };
}

binary_op_table!(define_binary_op);

impl BinaryOp {
    /// Whether the op is defined on `dtype`.
    pub fn supports(&self, dtype: DType) -> bool {
        dtype.is_float() || self.int_support().covers(dtype)
    }

    /// The CUDA kernel of this op for `dtype`: `binary_<name>_<dtype>`.
    pub fn kernel(&self, dtype: DType) -> String {
        format!("binary_{}_{}", self.name(), dtype.as_str())
    }
}
