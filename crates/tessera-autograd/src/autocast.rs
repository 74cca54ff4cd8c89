//! Mixed precision: an autocast scope under which the product-shaped ops (matmul, convolution,
//! attention) run in f16 or bf16 while everything else stays in f32.

use crate::{Error, Result, Var};
use std::cell::Cell;
use std::fmt;
use std::str::FromStr;
use tessera_tensor::DType;

/// The precision a model computes in.
///
/// `F32` is plain single precision. `Bf16` and `F16` are mixed precision, as PyTorch's
/// autocast: inside an [`AutocastGuard`] scope, [`Var::matmul`], [`Var::matmul_bias`],
/// [`Var::conv2d`], [`Var::conv_transpose2d`] and [`Var::attention`] cast their f32 operands
/// to the low dtype, compute there (the gradients of those products too) and hand back f32;
/// reductions, softmax, norms, losses and the optimizer see f32, and parameters stay f32
/// masters (the casts' gradients are f32). f16's range is narrow, so f16 training scales the
/// loss (the training crate's loss scaling); bf16 has f32's range and needs none.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub enum Precision {
    /// f32 everywhere.
    #[default]
    F32,
    /// Products in bfloat16 (8 exponent bits, 8 significant bits).
    Bf16,
    /// Products in IEEE half precision (5 exponent bits, 11 significant bits).
    F16,
}

impl Precision {
    /// Every precision, in the order of their names.
    pub const ALL: [Precision; 3] = [Precision::F32, Precision::Bf16, Precision::F16];

    /// The dtype products compute in.
    pub fn dtype(self) -> DType {
        match self {
            Precision::F32 => DType::F32,
            Precision::Bf16 => DType::BF16,
            Precision::F16 => DType::F16,
        }
    }

    /// The name `FromStr` reads: `f32`, `bf16`, `f16`.
    pub fn name(self) -> &'static str {
        match self {
            Precision::F32 => "f32",
            Precision::Bf16 => "bf16",
            Precision::F16 => "f16",
        }
    }
}

impl fmt::Display for Precision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Precision {
    type Err = Error;

    /// `f32`, `bf16` or `f16` (also `float32`, `bfloat16`, `float16`, any case).
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "f32" | "float32" | "fp32" => Ok(Precision::F32),
            "bf16" | "bfloat16" => Ok(Precision::Bf16),
            "f16" | "float16" | "fp16" | "half" => Ok(Precision::F16),
            _ => Err(Error::InvalidArgument {
                op: "precision",
                msg: format!("'{s}' is not a precision: expected f32, bf16 or f16"),
            }),
        }
    }
}

thread_local! {
    static AUTOCAST: Cell<Precision> = const { Cell::new(Precision::F32) };
}

/// The precision products run in on this thread ([`Precision::F32`] outside any autocast scope).
pub fn autocast_precision() -> Precision {
    AUTOCAST.with(Cell::get)
}

/// While alive, the products on this thread run in `precision` (see [`Precision`]); dropping
/// it restores the previous precision, so guards nest.
///
/// ```
/// use tessera_autograd::{AutocastGuard, Precision, Var};
/// use tessera_tensor::{DType, Device, Tensor};
/// let x = Var::constant(Tensor::from_vec(vec![1.0f32 / 3.0; 4], [2, 2], &Device::Cpu)?);
/// let w = Var::param(Tensor::from_vec(vec![1.0f32, 0., 0., 1.], [2, 2], &Device::Cpu)?)?;
/// let y = {
///     let _bf16 = AutocastGuard::new(Precision::Bf16);
///     x.matmul(&w)?
/// };
/// assert_eq!(y.dtype(), DType::F32); // computed in bf16, handed back as f32
/// assert_eq!(y.tensor().to_vec::<f32>()?[0], 0.333984375); // 1/3 rounded to bf16
/// y.sum_all()?.backward()?;
/// assert_eq!(w.grad().unwrap().dtype(), DType::F32); // the master weight's gradient
/// # Ok::<(), tessera_autograd::Error>(())
/// ```
#[must_use = "the scope ends when the guard is dropped"]
pub struct AutocastGuard {
    previous: Precision,
    // Thread-local state: the guard must be dropped on the thread that made it.
    _not_send: std::marker::PhantomData<*const ()>,
}

impl AutocastGuard {
    /// Runs this thread's products in `precision` until the guard is dropped.
    pub fn new(precision: Precision) -> Self {
        let previous = AUTOCAST.with(|c| c.replace(precision));
        AutocastGuard { previous, _not_send: std::marker::PhantomData }
    }
}

impl Drop for AutocastGuard {
    fn drop(&mut self) {
        AUTOCAST.with(|c| c.set(self.previous));
    }
}

/// Runs `f` with this thread's products in `precision`.
pub fn autocast<T>(precision: Precision, f: impl FnOnce() -> T) -> T {
    let _guard = AutocastGuard::new(precision);
    f()
}

/// What an autocast product does with its operands: cast them to the scope's low dtype, and its
/// result back to f32. Only when a scope is active and every operand is f32: an op already
/// given half or f64 operands runs as given (which is also how the product called on the cast
/// operands runs).
pub(crate) struct Autocast {
    low: DType,
}

impl Autocast {
    /// The casts for `operands`, or `None` when the op runs as given.
    pub(crate) fn of(operands: &[&Var]) -> Option<Autocast> {
        let low = autocast_precision().dtype();
        (low != DType::F32 && operands.iter().all(|v| v.dtype() == DType::F32)).then_some(Autocast { low })
    }

    /// `v` in the low dtype (differentiable: its gradient comes back as f32).
    pub(crate) fn operand(&self, v: &Var) -> Result<Var> {
        v.to_dtype(self.low)
    }

    /// The product's result as f32.
    pub(crate) fn result(&self, y: Var) -> Result<Var> {
        y.to_dtype(DType::F32)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_bad_names_say_what_is_expected() {
        for p in Precision::ALL {
            assert_eq!(p.name().parse::<Precision>().unwrap(), p);
        }
        assert_eq!("BFloat16".parse::<Precision>().unwrap(), Precision::Bf16);
        let e = "f8".parse::<Precision>().unwrap_err().to_string();
        assert!(e.contains("'f8'") && e.contains("bf16"), "{e}");
    }

    #[test]
    fn guards_nest_and_restore() {
        assert_eq!(autocast_precision(), Precision::F32);
        {
            let _a = AutocastGuard::new(Precision::F16);
            autocast(Precision::Bf16, || assert_eq!(autocast_precision(), Precision::Bf16));
            assert_eq!(autocast_precision(), Precision::F16);
        }
        assert_eq!(autocast_precision(), Precision::F32);
    }
}
