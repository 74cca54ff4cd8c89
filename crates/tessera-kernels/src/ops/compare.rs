//! The comparison table: one row per broadcast comparison giving a `u8` mask.
//!
//! [`compare_op_table!`](crate::compare_op_table) hands its rows to a macro of the caller's
//! choosing (see [`unary`](super::unary) for the pattern). Comparisons are defined on every
//! dtype and have no gradient. Adding one takes the row and one line of `kernels/compare.cu`.

use tessera_core::DType;

/// Invokes `$callback!` with every row of the comparison table.
#[macro_export]
macro_rules! compare_op_table {
    ($($callback:ident)::+) => {
        $($callback)::+! {
            /// `a == b` as a `u8` mask, broadcast.
            Eq => eq { |a, b| a == b };
            /// `a != b` as a `u8` mask, broadcast.
            Ne => ne { |a, b| a != b };
            /// `a < b` as a `u8` mask, broadcast.
            Lt => lt { |a, b| a < b };
            /// `a <= b` as a `u8` mask, broadcast.
            Le => le { |a, b| a <= b };
            /// `a > b` as a `u8` mask, broadcast.
            Gt => gt { |a, b| a > b };
            /// `a >= b` as a `u8` mask, broadcast.
            Ge => ge { |a, b| a >= b };
        }
    };
}

/// Inside `impl T` for a `T` with `fn compare(&self, CmpOp, &T) -> Result<T>` (`Tensor`,
/// `Var`): one method per row of the comparison table, `a.lt(&b)`...
#[macro_export]
macro_rules! compare_methods {
    () => {
        $crate::compare_op_table!($crate::__compare_methods);
    };
}

#[macro_export]
#[doc(hidden)]
macro_rules! __compare_methods {
    ($($(#[doc = $doc:literal])* $variant:ident => $method:ident { $($fields:tt)* };)*) => {$(
        $(#[doc = $doc])*
        pub fn $method(&self, rhs: &Self) -> Result<Self> {
            self.compare($crate::ops::CmpOp::$variant, rhs)
        }
    )*};
}

macro_rules! define_compare_op {
    ($($(#[doc = $doc:literal])* $variant:ident => $method:ident { |$a:ident, $b:ident| $formula:expr };)*) => {
        /// A comparison, giving a `u8` mask (1 where true). Generated from
        /// [`compare_op_table!`](crate::compare_op_table).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum CmpOp {
            $($(#[doc = $doc])* $variant,)*
        }

        impl CmpOp {
            /// Every comparison, in table order.
            pub const ALL: &'static [CmpOp] = &[$(CmpOp::$variant),*];

            /// The op's name: its method name, and the middle of its kernel names.
            pub fn name(&self) -> &'static str {
                match self {
                    $(CmpOp::$variant => stringify!($method),)*
                }
            }

            /// The comparison on any partially ordered values (NaN compares false except for
            /// `ne`): the definition every backend must agree with.
            #[inline(always)]
            pub fn eval<T: PartialOrd>(&self, a: T, b: T) -> bool {
                match self {
                    $(CmpOp::$variant => {
                        let ($a, $b) = (a, b);
                        $formula
                    })*
                }
            }
        }
    };
}

compare_op_table!(define_compare_op);

impl CmpOp {
    /// The CUDA kernel of this comparison for operands of `dtype`: `cmp_<name>_<dtype>`.
    pub fn kernel(&self, dtype: DType) -> String {
        format!("cmp_{}_{}", self.name(), dtype.as_str())
    }
}
