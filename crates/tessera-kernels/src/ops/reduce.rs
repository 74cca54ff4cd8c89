//! The reduction table, and the other reductions: variance and arg-reductions.
//!
//! [`reduce_op_table!`](crate::reduce_op_table) hands its rows to a macro of the caller's
//! choosing (see [`unary`](super::unary) for the pattern). A row reads
//!
//! ```text
//! /// doc of the method
//! Variant => method, ints: No | Widen | Same, domain: <Domain>, f64: |xs| <fold of a slice>;
//! ```
//!
//! `ints` says what the op does to integer dtypes: `Widen` sums into i64 (as PyTorch),
//! `Same` keeps the dtype, `No` rejects them.

use super::Domain;
use tessera_core::DType;

/// Invokes `$callback!` with every row of the reduction table.
#[macro_export]
macro_rules! reduce_op_table {
    ($($callback:ident)::+) => {
        $($callback)::+! {
            /// Sum over `dims` (every dim when empty); integer sums are i64.
            Sum => sum { ints: Widen, domain: Any, f64: |xs| xs.iter().sum::<f64>() };
            /// Arithmetic mean over `dims` (every dim when empty); float dtypes.
            Mean => mean { ints: No, domain: Any, f64: |xs| xs.iter().sum::<f64>() / xs.len() as f64 };
            /// Maximum over `dims` (NaN propagates; an empty dim is an error).
            Max => max { ints: Same, domain: Distinct,
                f64: |xs| xs.iter().copied().fold(f64::NEG_INFINITY, $crate::ops::nan_max) };
            /// Minimum over `dims` (NaN propagates; an empty dim is an error).
            Min => min { ints: Same, domain: Distinct,
                f64: |xs| xs.iter().copied().fold(f64::INFINITY, $crate::ops::nan_min) };
        }
    };
}

/// Inside `impl T` for a `T` with `fn reduce(&self, ReduceOp, &[isize], bool) -> Result<T>`
/// (`Tensor`, `Var`): one method per row of the reduction table, `x.sum(&dims, keepdim)`...
#[macro_export]
macro_rules! reduce_methods {
    () => {
        $crate::reduce_op_table!($crate::__reduce_methods);
    };
}

#[macro_export]
#[doc(hidden)]
macro_rules! __reduce_methods {
    ($($(#[doc = $doc:literal])* $variant:ident => $method:ident { $($fields:tt)* };)*) => {$(
        $(#[doc = $doc])*
        pub fn $method(&self, dims: &[isize], keepdim: bool) -> Result<Self> {
            self.reduce($crate::ops::ReduceOp::$variant, dims, keepdim)
        }
    )*};
}

/// What a reduction does with integer inputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntReduce {
    /// Rejected: cast to a float dtype first.
    No,
    /// Accumulated and returned as i64.
    Widen,
    /// Returned in the input's dtype.
    Same,
}

macro_rules! define_reduce_op {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident => $method:ident {
            ints: $ints:ident, domain: $domain:ident, f64: |$xs:ident| $formula:expr
        };
    )*) => {
        /// A reduction over one or several dims. Generated from
        /// [`reduce_op_table!`](crate::reduce_op_table).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum ReduceOp {
            $($(#[doc = $doc])* $variant,)*
        }

        impl ReduceOp {
            /// Every reduction, in table order.
            pub const ALL: &'static [ReduceOp] = &[$(ReduceOp::$variant),*];

            /// The op's name: its method name.
            pub fn name(&self) -> &'static str {
                match self {
                    $(ReduceOp::$variant => stringify!($method),)*
                }
            }

            /// What the op does with integer inputs.
            pub fn int_reduce(&self) -> IntReduce {
                match self {
                    $(ReduceOp::$variant => IntReduce::$ints,)*
                }
            }

            /// Where the input's values are differentiable (tests draw from it).
            pub fn domain(&self) -> Domain {
                match self {
                    $(ReduceOp::$variant => Domain::$domain,)*
                }
            }

            /// The reduction of one line of values in `f64`: the definition every backend must
            /// agree with.
            pub fn eval_f64(&self, values: &[f64]) -> f64 {
                match self {
                    $(ReduceOp::$variant => {
                        let $xs = values;
                        $formula
                    })*
                }
            }
        }
    };
}

reduce_op_table!(define_reduce_op);

impl ReduceOp {
    /// The dtype of the result for an input of `dtype`, or `None` when the op rejects it.
    pub fn out_dtype(&self, dtype: DType) -> Option<DType> {
        match (dtype.is_int(), self.int_reduce()) {
            (false, _) | (true, IntReduce::Same) => Some(dtype),
            (true, IntReduce::Widen) => Some(DType::I64),
            (true, IntReduce::No) => None,
        }
    }
}

/// Which extreme an arg-reduction looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArgReduceOp {
    /// The position of the maximum.
    ArgMax,
    /// The position of the minimum.
    ArgMin,
}

impl ArgReduceOp {
    /// The op's name (`argmax`, `argmin`): its method name and the middle of its kernel name.
    pub fn name(&self) -> &'static str {
        match self {
            ArgReduceOp::ArgMax => "argmax",
            ArgReduceOp::ArgMin => "argmin",
        }
    }

    /// Whether `candidate` beats `best`.
    #[inline(always)]
    pub fn beats<T: PartialOrd>(&self, candidate: T, best: T) -> bool {
        match self {
            ArgReduceOp::ArgMax => candidate > best,
            ArgReduceOp::ArgMin => candidate < best,
        }
    }
}

/// Softmax or its logarithm.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SoftmaxKind {
    /// `exp(x - max) / sum(exp(x - max))`.
    Softmax,
    /// `x - max - log(sum(exp(x - max)))`.
    LogSoftmax,
}

impl SoftmaxKind {
    /// The op's name (`softmax`, `log_softmax`): its method name and kernel prefix.
    pub fn name(&self) -> &'static str {
        match self {
            SoftmaxKind::Softmax => "softmax",
            SoftmaxKind::LogSoftmax => "log_softmax",
        }
    }
}
