//! Elementwise ops of two operands, with NumPy/PyTorch broadcasting.

use super::buffer::{expect_dtype, CpuBuffer};
use super::unary::{gelu_grad, gelu_tanh_grad, FloatMath};
use super::zip::zip_map;
use crate::ops::BinaryOp;
use crate::plan::{division_by_zero, BinaryPlan};
use crate::Result;
use tessera_core::{bf16, f16, Element, Layout};

/// The plan's op over its two broadcast operands; the result is contiguous in the plan's shape.
/// Integer arithmetic wraps; an integer division by zero is an error.
pub fn binary(plan: &BinaryPlan, lhs: &CpuBuffer, rhs: &CpuBuffer) -> Result<CpuBuffer> {
    let (op, ll, rl) = (plan.op, &plan.zip.lhs, &plan.zip.rhs);
    expect_dtype(op.name(), plan.zip.dtype, &[lhs, rhs])?;
    Ok(match (lhs, rhs) {
        (CpuBuffer::F32(a), CpuBuffer::F32(b)) => float_op(op, a, ll, b, rl).into(),
        (CpuBuffer::F64(a), CpuBuffer::F64(b)) => float_op(op, a, ll, b, rl).into(),
        (CpuBuffer::F16(a), CpuBuffer::F16(b)) => {
            zip_map(a, ll, b, rl, |x: f16, y: f16| f16::from_f32(f32_op(op, x.to_f32(), y.to_f32()))).into()
        }
        (CpuBuffer::BF16(a), CpuBuffer::BF16(b)) => {
            zip_map(a, ll, b, rl, |x: bf16, y: bf16| bf16::from_f32(f32_op(op, x.to_f32(), y.to_f32()))).into()
        }
        (CpuBuffer::U8(a), CpuBuffer::U8(b)) => int_op(op, a, ll, b, rl)?.into(),
        (CpuBuffer::U32(a), CpuBuffer::U32(b)) => int_op(op, a, ll, b, rl)?.into(),
        (CpuBuffer::I64(a), CpuBuffer::I64(b)) => int_op(op, a, ll, b, rl)?.into(),
        _ => unreachable!("dtypes checked equal above"),
    })
}

#[inline(always)]
fn f32_op(op: BinaryOp, x: f32, y: f32) -> f32 {
    op.eval_f64(x as f64, y as f64) as f32
}

fn float_op<T>(op: BinaryOp, a: &[T], ll: &Layout, b: &[T], rl: &Layout) -> Vec<T>
where
    T: FloatMath + Sync + Send,
{
    let nan = T::from_f64(f64::NAN);
    match op {
        BinaryOp::Add => zip_map(a, ll, b, rl, |x: T, y: T| x + y),
        BinaryOp::Sub => zip_map(a, ll, b, rl, |x: T, y: T| x - y),
        BinaryOp::Mul => zip_map(a, ll, b, rl, |x: T, y: T| x * y),
        BinaryOp::Div => zip_map(a, ll, b, rl, |x: T, y: T| x / y),
        BinaryOp::Pow => zip_map(a, ll, b, rl, |x: T, y: T| x.powf(y)),
        // Comparisons in this order propagate NaN from either side.
        BinaryOp::Maximum => zip_map(a, ll, b, rl, move |x: T, y: T| {
            if x > y {
                x
            } else if y >= x {
                y
            } else {
                nan
            }
        }),
        BinaryOp::Minimum => zip_map(a, ll, b, rl, move |x: T, y: T| {
            if x < y {
                x
            } else if y <= x {
                y
            } else {
                nan
            }
        }),
        // A NaN input passes no gradient, as in PyTorch (`x <= 0` is false for NaN there, too).
        BinaryOp::ReluBackward => zip_map(a, ll, b, rl, |x: T, g: T| T::select(x > T::ZERO, T::ZERO, g)),
        BinaryOp::GeluBackward => zip_map(a, ll, b, rl, gelu_backward::<T>),
        BinaryOp::GeluTanhBackward => zip_map(a, ll, b, rl, gelu_tanh_backward::<T>),
    }
}

// Functions forced inline rather than closures: their bodies (Phi, exp) are past LLVM's
// inlining threshold, and a call per element would not vectorise.
#[inline(always)]
fn gelu_backward<T: FloatMath>(x: T, g: T) -> T {
    g * gelu_grad(x)
}

#[inline(always)]
fn gelu_tanh_backward<T: FloatMath>(x: T, g: T) -> T {
    g * gelu_tanh_grad(x)
}

/// Integer arithmetic wraps on overflow; division by zero is an error.
fn int_op<T>(op: BinaryOp, a: &[T], ll: &Layout, b: &[T], rl: &Layout) -> Result<Vec<T>>
where
    T: IntArith,
{
    Ok(match op {
        BinaryOp::Add => zip_map(a, ll, b, rl, T::wrapping_add),
        BinaryOp::Sub => zip_map(a, ll, b, rl, T::wrapping_sub),
        BinaryOp::Mul => zip_map(a, ll, b, rl, T::wrapping_mul),
        BinaryOp::Div => {
            if rl.offsets().any(|o| b[o] == T::ZERO) {
                return Err(division_by_zero(T::DTYPE));
            }
            zip_map(a, ll, b, rl, T::wrapping_div)
        }
        // Rejected by the plan, as the float-only ops below.
        BinaryOp::Pow => zip_map(a, ll, b, rl, |x: T, y: T| T::from_f64(op.eval_f64(x.to_f64(), y.to_f64()))),
        BinaryOp::Maximum => zip_map(a, ll, b, rl, |x: T, y: T| if x > y { x } else { y }),
        BinaryOp::Minimum => zip_map(a, ll, b, rl, |x: T, y: T| if x < y { x } else { y }),
        // Float-only ops, rejected by the plan; the reference formula keeps the match total.
        BinaryOp::ReluBackward | BinaryOp::GeluBackward | BinaryOp::GeluTanhBackward => {
            zip_map(a, ll, b, rl, |x: T, y: T| T::from_f64(op.eval_f64(x.to_f64(), y.to_f64())))
        }
    })
}

/// Wrapping integer arithmetic.
pub(crate) trait IntArith: Element + Sync + Send {
    fn wrapping_add(self, o: Self) -> Self;
    fn wrapping_sub(self, o: Self) -> Self;
    fn wrapping_mul(self, o: Self) -> Self;
    fn wrapping_div(self, o: Self) -> Self;
}

macro_rules! int_arith {
    ($($t:ty),*) => {$(
        impl IntArith for $t {
            #[inline(always)]
            fn wrapping_add(self, o: Self) -> Self { <$t>::wrapping_add(self, o) }
            #[inline(always)]
            fn wrapping_sub(self, o: Self) -> Self { <$t>::wrapping_sub(self, o) }
            #[inline(always)]
            fn wrapping_mul(self, o: Self) -> Self { <$t>::wrapping_mul(self, o) }
            #[inline(always)]
            fn wrapping_div(self, o: Self) -> Self { <$t>::wrapping_div(self, o) }
        }
    )*};
}
int_arith!(u8, u32, i64);
