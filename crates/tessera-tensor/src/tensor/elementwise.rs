//! Elementwise ops: unary, broadcast binary, comparisons and `where`.

use super::Tensor;
use crate::Result;
use tessera_kernels::ops::{BinaryOp, CmpOp, UnaryOp};

macro_rules! unary_methods {
    ($($name:ident => $op:ident, $doc:literal;)*) => {$(
        #[doc = $doc]
        pub fn $name(&self) -> Result<Tensor> {
            self.unary(UnaryOp::$op)
        }
    )*};
}

macro_rules! binary_methods {
    ($($name:ident => $op:ident, $doc:literal;)*) => {$(
        #[doc = $doc]
        pub fn $name(&self, rhs: &Tensor) -> Result<Tensor> {
            self.binary(BinaryOp::$op, rhs)
        }
    )*};
}

macro_rules! compare_methods {
    ($($name:ident => $op:ident, $doc:literal;)*) => {$(
        #[doc = $doc]
        pub fn $name(&self, rhs: &Tensor) -> Result<Tensor> {
            self.compare(CmpOp::$op, rhs)
        }
    )*};
}

impl Tensor {
    /// Applies an elementwise op.
    pub fn unary(&self, op: UnaryOp) -> Result<Tensor> {
        let storage = self.storage().unary(op, self.layout())?;
        Ok(Tensor::from_storage(storage, self.shape().clone()))
    }

    /// Applies a broadcast binary op; both operands need the same dtype and device.
    pub fn binary(&self, op: BinaryOp, rhs: &Tensor) -> Result<Tensor> {
        self.check_same_device(op.name(), rhs)?;
        let (storage, shape) = self.storage().binary(op, self.layout(), &rhs.storage(), rhs.layout())?;
        Ok(Tensor::from_storage(storage, shape))
    }

    /// A broadcast comparison giving a `u8` mask.
    pub fn compare(&self, op: CmpOp, rhs: &Tensor) -> Result<Tensor> {
        self.check_same_device(op.name(), rhs)?;
        let (storage, shape) = self.storage().compare(op, self.layout(), &rhs.storage(), rhs.layout())?;
        Ok(Tensor::from_storage(storage, shape))
    }

    /// `self ? on_true : on_false` where `self` is a `u8` mask; all three broadcast together.
    pub fn where_cond(&self, on_true: &Tensor, on_false: &Tensor) -> Result<Tensor> {
        self.check_same_device("where", on_true)?;
        self.check_same_device("where", on_false)?;
        let (storage, shape) = self.storage().where_cond(
            self.layout(),
            &on_true.storage(),
            on_true.layout(),
            &on_false.storage(),
            on_false.layout(),
        )?;
        Ok(Tensor::from_storage(storage, shape))
    }

    unary_methods! {
        neg => Neg, "`-x`";
        abs => Abs, "`|x|`";
        exp => Exp, "`e^x`";
        log => Log, "Natural logarithm.";
        sqrt => Sqrt, "Square root.";
        recip => Recip, "`1 / x`";
        square => Square, "`x * x`";
        sin => Sin, "Sine.";
        cos => Cos, "Cosine.";
        tanh => Tanh, "Hyperbolic tangent.";
        sigmoid => Sigmoid, "`1 / (1 + e^-x)`";
        relu => Relu, "`max(x, 0)`";
        gelu => Gelu, "GELU with the exact normal CDF (PyTorch's default).";
        gelu_tanh => GeluTanh, "GELU's tanh approximation.";
        silu => Silu, "`x * sigmoid(x)` (swish).";
    }

    /// `x ^ p` for a scalar exponent.
    pub fn powf(&self, p: f64) -> Result<Tensor> {
        self.unary(UnaryOp::Powf(p))
    }

    /// Limits values to `[lo, hi]` (NaN passes through).
    pub fn clamp(&self, lo: f64, hi: f64) -> Result<Tensor> {
        if lo > hi {
            return Err(tessera_core::Error::InvalidArgument {
                op: "clamp",
                msg: format!("lower bound {lo} exceeds upper bound {hi}"),
            }
            .into());
        }
        self.unary(UnaryOp::Clamp(lo, hi))
    }

    /// `mul * x + add`.
    pub fn affine(&self, mul: f64, add: f64) -> Result<Tensor> {
        self.unary(UnaryOp::Affine(mul, add))
    }

    /// `x * s`.
    pub fn scale(&self, s: f64) -> Result<Tensor> {
        self.affine(s, 0.0)
    }

    /// `x + s`.
    pub fn add_scalar(&self, s: f64) -> Result<Tensor> {
        self.affine(1.0, s)
    }

    binary_methods! {
        add => Add, "`a + b`, broadcast.";
        sub => Sub, "`a - b`, broadcast.";
        mul => Mul, "`a * b`, broadcast.";
        div => Div, "`a / b`, broadcast (integer division by zero is an error).";
        pow => Pow, "`a ^ b`, broadcast (float dtypes).";
        maximum => Maximum, "Elementwise maximum, broadcast (NaN propagates).";
        minimum => Minimum, "Elementwise minimum, broadcast (NaN propagates).";
    }

    compare_methods! {
        eq => Eq, "`a == b` as a `u8` mask, broadcast.";
        ne => Ne, "`a != b` as a `u8` mask, broadcast.";
        lt => Lt, "`a < b` as a `u8` mask, broadcast.";
        le => Le, "`a <= b` as a `u8` mask, broadcast.";
        gt => Gt, "`a > b` as a `u8` mask, broadcast.";
        ge => Ge, "`a >= b` as a `u8` mask, broadcast.";
    }
}
