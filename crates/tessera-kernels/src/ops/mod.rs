//! The op vocabulary shared by every backend, declared once per op family.
//!
//! The elementwise and reduction families are tables ([`unary_op_table!`](crate::unary_op_table),
//! [`binary_op_table!`](crate::binary_op_table), [`compare_op_table!`](crate::compare_op_table),
//! [`reduce_op_table!`](crate::reduce_op_table)): each row names an op once, and the enums here,
//! the `Tensor` and `Var` methods, the gradient checks, the test suites, the host emulation and
//! the GPU benchmark are derived from the rows. [`registry`] lists every op with kernels and
//! where its kernels live, so that tests can check that each has a CPU half, a CUDA half, a kernel
//! symbol per dtype, a gradient check and a CUDA test.

mod binary;
mod compare;
mod optim;
mod reduce;
pub mod registry;
mod unary;

pub use binary::BinaryOp;
pub use compare::CmpOp;
pub use optim::{OptimStep, Update};
pub use reduce::{ArgReduceOp, IntReduce, ReduceOp, SoftmaxKind};
pub use unary::UnaryOp;

use tessera_core::DType;

/// Which integer dtypes an elementwise op is defined on (floats always are).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntSupport {
    /// None: cast to a float dtype first.
    No,
    /// Signed integers only (i64): negation.
    Signed,
    /// Every integer dtype.
    All,
}

impl IntSupport {
    /// Whether integer dtype `dtype` is covered (false for float dtypes).
    pub fn covers(&self, dtype: DType) -> bool {
        match self {
            IntSupport::No => false,
            IntSupport::Signed => dtype == DType::I64,
            IntSupport::All => dtype.is_int(),
        }
    }
}

/// Where an op's inputs are finite and differentiable: the values tests and gradient checks draw.
#[derive(Debug, Clone, PartialEq)]
pub enum Domain {
    /// Any moderate value.
    Any,
    /// Positive values (logs, roots, non-integer powers).
    Positive,
    /// Values away from zero (reciprocals, divisors).
    NonZero,
    /// Values in `[lo, hi]`.
    Bounded(f64, f64),
    /// Values away from these non-differentiable points.
    Kinked(&'static [f64]),
    /// Values away from the two bounds of a clamp.
    Clamped {
        /// The lower bound.
        lo: f64,
        /// The upper bound.
        hi: f64,
    },
    /// Pairwise distinct values (maxima and minima have no ties).
    Distinct,
    /// An operand of a binary maximum or minimum: never equal to the other operand.
    Untied,
}

impl Domain {
    /// The points where the op has a kink (no derivative).
    pub fn kinks(&self) -> Vec<f64> {
        match self {
            Domain::Kinked(k) => k.to_vec(),
            Domain::Clamped { lo, hi } => vec![*lo, *hi],
            _ => Vec::new(),
        }
    }

    /// An interval to draw test inputs from where the op is finite: `[-3, 3]`, or positive.
    pub fn bounds(&self) -> (f64, f64) {
        match self {
            Domain::Positive | Domain::NonZero => (0.1, 3.0),
            Domain::Bounded(lo, hi) => (*lo, *hi),
            _ => (-3.0, 3.0),
        }
    }
}

/// Maximum of two values, NaN if either is (PyTorch's `maximum`).
pub fn nan_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// Minimum of two values, NaN if either is (PyTorch's `minimum`).
pub fn nan_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

/// The error function (the reference formula of `erf` and of GELU).
pub fn erf(x: f64) -> f64 {
    libm::erf(x)
}

/// The complementary error function, `1 - erf(x)` without its cancellation (the reference
/// formula of `erfc`).
pub fn erfc(x: f64) -> f64 {
    libm::erfc(x)
}

/// The type of a scalar parameter of a table row (always `f64`).
#[macro_export]
#[doc(hidden)]
macro_rules! param_type {
    ($param:ident) => {
        f64
    };
}
