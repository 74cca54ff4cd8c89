//! The op vocabulary shared by every backend.

/// An elementwise op of one operand.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum UnaryOp {
    /// `-x`
    Neg,
    /// `|x|`
    Abs,
    /// `e^x`
    Exp,
    /// natural log
    Log,
    /// square root
    Sqrt,
    /// `1 / x`
    Recip,
    /// `x * x`
    Square,
    /// sine
    Sin,
    /// cosine
    Cos,
    /// hyperbolic tangent
    Tanh,
    /// `1 / (1 + e^-x)`
    Sigmoid,
    /// `max(x, 0)`
    Relu,
    /// `x * Phi(x)` with the exact normal CDF (erf form, PyTorch's default GELU)
    Gelu,
    /// GELU's tanh approximation (PyTorch's `approximate="tanh"`)
    GeluTanh,
    /// `x * sigmoid(x)`
    Silu,
    /// `x ^ p`
    Powf(f64),
    /// `min(max(x, lo), hi)`
    Clamp(f64, f64),
    /// `a * x + b`
    Affine(f64, f64),
}

impl UnaryOp {
    /// The op's name, as errors and benchmarks print it.
    pub fn name(&self) -> &'static str {
        match self {
            UnaryOp::Neg => "neg",
            UnaryOp::Abs => "abs",
            UnaryOp::Exp => "exp",
            UnaryOp::Log => "log",
            UnaryOp::Sqrt => "sqrt",
            UnaryOp::Recip => "recip",
            UnaryOp::Square => "square",
            UnaryOp::Sin => "sin",
            UnaryOp::Cos => "cos",
            UnaryOp::Tanh => "tanh",
            UnaryOp::Sigmoid => "sigmoid",
            UnaryOp::Relu => "relu",
            UnaryOp::Gelu => "gelu",
            UnaryOp::GeluTanh => "gelu_tanh",
            UnaryOp::Silu => "silu",
            UnaryOp::Powf(_) => "powf",
            UnaryOp::Clamp(..) => "clamp",
            UnaryOp::Affine(..) => "affine",
        }
    }

    /// Whether the op is defined on integer dtypes (it maps integers to integers).
    pub fn supports_int(&self) -> bool {
        matches!(
            self,
            UnaryOp::Neg | UnaryOp::Abs | UnaryOp::Square | UnaryOp::Relu | UnaryOp::Clamp(..) | UnaryOp::Affine(..)
        )
    }

    /// The op in `f64`: the definition every backend must agree with.
    pub fn eval_f64(&self, x: f64) -> f64 {
        match *self {
            UnaryOp::Neg => -x,
            UnaryOp::Abs => x.abs(),
            UnaryOp::Exp => x.exp(),
            UnaryOp::Log => x.ln(),
            UnaryOp::Sqrt => x.sqrt(),
            UnaryOp::Recip => 1.0 / x,
            UnaryOp::Square => x * x,
            UnaryOp::Sin => x.sin(),
            UnaryOp::Cos => x.cos(),
            UnaryOp::Tanh => x.tanh(),
            UnaryOp::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            UnaryOp::Relu => x.max(0.0),
            UnaryOp::Gelu => 0.5 * x * (1.0 + libm::erf(x * std::f64::consts::FRAC_1_SQRT_2)),
            UnaryOp::GeluTanh => {
                let inner = (2.0 / std::f64::consts::PI).sqrt() * (x + 0.044715 * x * x * x);
                0.5 * x * (1.0 + inner.tanh())
            }
            UnaryOp::Silu => x / (1.0 + (-x).exp()),
            UnaryOp::Powf(p) => x.powf(p),
            UnaryOp::Clamp(lo, hi) => x.max(lo).min(hi),
            UnaryOp::Affine(a, b) => a * x + b,
        }
    }
}

/// An elementwise op of two operands (broadcast).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    /// `a + b`
    Add,
    /// `a - b`
    Sub,
    /// `a * b`
    Mul,
    /// `a / b`
    Div,
    /// `a ^ b` (floats only)
    Pow,
    /// elementwise maximum (NaN propagates)
    Maximum,
    /// elementwise minimum (NaN propagates)
    Minimum,
}

impl BinaryOp {
    /// The op's name.
    pub fn name(&self) -> &'static str {
        match self {
            BinaryOp::Add => "add",
            BinaryOp::Sub => "sub",
            BinaryOp::Mul => "mul",
            BinaryOp::Div => "div",
            BinaryOp::Pow => "pow",
            BinaryOp::Maximum => "maximum",
            BinaryOp::Minimum => "minimum",
        }
    }

    /// The op in `f64`.
    pub fn eval_f64(&self, a: f64, b: f64) -> f64 {
        match self {
            BinaryOp::Add => a + b,
            BinaryOp::Sub => a - b,
            BinaryOp::Mul => a * b,
            BinaryOp::Div => a / b,
            BinaryOp::Pow => a.powf(b),
            BinaryOp::Maximum => nan_max(a, b),
            BinaryOp::Minimum => nan_min(a, b),
        }
    }
}

fn nan_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

fn nan_min(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.min(b)
    }
}

/// A comparison, giving a `u8` mask (1 where true).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

impl CmpOp {
    /// The op's name.
    pub fn name(&self) -> &'static str {
        match self {
            CmpOp::Eq => "eq",
            CmpOp::Ne => "ne",
            CmpOp::Lt => "lt",
            CmpOp::Le => "le",
            CmpOp::Gt => "gt",
            CmpOp::Ge => "ge",
        }
    }

    /// The comparison on any partially ordered values (NaN compares false except for `Ne`).
    #[inline(always)]
    pub fn eval<T: PartialOrd>(&self, a: T, b: T) -> bool {
        match self {
            CmpOp::Eq => a == b,
            CmpOp::Ne => a != b,
            CmpOp::Lt => a < b,
            CmpOp::Le => a <= b,
            CmpOp::Gt => a > b,
            CmpOp::Ge => a >= b,
        }
    }
}

/// A reduction over one or several dims.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ReduceOp {
    /// sum
    Sum,
    /// arithmetic mean
    Mean,
    /// maximum (NaN propagates)
    Max,
    /// minimum (NaN propagates)
    Min,
}

impl ReduceOp {
    /// The op's name.
    pub fn name(&self) -> &'static str {
        match self {
            ReduceOp::Sum => "sum",
            ReduceOp::Mean => "mean",
            ReduceOp::Max => "max",
            ReduceOp::Min => "min",
        }
    }
}

/// One fused optimizer update of a parameter tensor, given its gradient and state tensors.
///
/// The formulas are PyTorch's (`torch.optim.SGD`, `Adam`, `AdamW`, `RMSprop`), applied to every
/// element in one pass, in place.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OptimStep {
    /// SGD: `g = grad + weight_decay * p`; with momentum, `buf = momentum * buf + (1 - dampening)
    /// * g` (`buf = g` on the first step), `g = nesterov ? g + momentum * buf : buf`;
    /// `p -= lr * g`. State: `[buf]` when `momentum != 0`.
    Sgd {
        /// Learning rate.
        lr: f64,
        /// Momentum factor (0: plain SGD).
        momentum: f64,
        /// Dampening of the momentum.
        dampening: f64,
        /// L2 penalty added to the gradient.
        weight_decay: f64,
        /// Nesterov momentum.
        nesterov: bool,
        /// Whether this is the first step (the buffer starts as the gradient).
        first_step: bool,
    },
    /// Adam (L2 `weight_decay` added to the gradient) or AdamW (`decoupled`: `p *= 1 - lr *
    /// weight_decay` before the update). State: `[m, v]`.
    Adam {
        /// Learning rate.
        lr: f64,
        /// Decay of the first moment.
        beta1: f64,
        /// Decay of the second moment.
        beta2: f64,
        /// Added to the denominator.
        eps: f64,
        /// Weight decay.
        weight_decay: f64,
        /// AdamW's decoupled weight decay.
        decoupled: bool,
        /// The step number, from 1 (for bias correction).
        step: u64,
    },
    /// RMSprop: `v = alpha * v + (1 - alpha) * g^2`, `p -= lr * g / (sqrt(v) + eps)`, with
    /// optional momentum on the scaled gradient. State: `[v]` or `[v, buf]` with momentum.
    RmsProp {
        /// Learning rate.
        lr: f64,
        /// Smoothing constant.
        alpha: f64,
        /// Added to the denominator.
        eps: f64,
        /// L2 penalty added to the gradient.
        weight_decay: f64,
        /// Momentum factor (0: none).
        momentum: f64,
    },
}

impl OptimStep {
    /// How many state tensors (each the parameter's shape) the update reads and writes.
    pub fn state_count(&self) -> usize {
        match self {
            OptimStep::Sgd { momentum, .. } => (*momentum != 0.0) as usize,
            OptimStep::Adam { .. } => 2,
            OptimStep::RmsProp { momentum, .. } => 1 + (*momentum != 0.0) as usize,
        }
    }

    /// The optimizer's name.
    pub fn name(&self) -> &'static str {
        match self {
            OptimStep::Sgd { .. } => "sgd",
            OptimStep::Adam { decoupled: false, .. } => "adam",
            OptimStep::Adam { decoupled: true, .. } => "adamw",
            OptimStep::RmsProp { .. } => "rmsprop",
        }
    }
}
