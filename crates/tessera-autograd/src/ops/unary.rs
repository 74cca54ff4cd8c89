//! Elementwise ops of one operand and their backward rules. The methods (`x.exp()`,
//! `x.clamp(lo, hi)`, ...) are generated from the unary op table (`tessera_kernels::ops`);
//! each row's gradient is one arm of [`gradient`], and [`keeps`] says which values it reads.

use super::scalar_like;
use crate::{Result, Var};
use std::f64::consts::{FRAC_1_SQRT_2, FRAC_2_SQRT_PI, PI};
use tessera_tensor::{Tensor, UnaryOp};

/// Which values a rule reads at backward time (kept alive until then).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keep {
    Nothing,
    Input,
    Output,
}

/// What `op`'s gradient reads.
fn keeps(op: UnaryOp) -> Keep {
    use UnaryOp::*;
    match op {
        Neg | Affine(..) => Keep::Nothing,
        Abs | Log | Square | Sin | Cos | Relu | Gelu | GeluTanh | GeluGrad | GeluTanhGrad | Erf | Erfc | Silu
        | Powf(_) | Clamp(..) => Keep::Input,
        Exp | Sqrt | Recip | Tanh | Sigmoid => Keep::Output,
    }
}

/// The gradient of `op` at input `x` (output `y`) given the output's gradient `g`: the op's
/// backward rule. `x` and `y` are present as [`keeps`] says.
fn gradient(op: UnaryOp, g: &Tensor, x: Option<&Tensor>, y: Option<&Tensor>) -> Result<Tensor> {
    let x = || x.expect("keeps() lists the input for this op");
    let y = || y.expect("keeps() lists the output for this op");
    Ok(match op {
        UnaryOp::Neg => g.neg()?,
        UnaryOp::Abs => {
            // The gradient at 0 is 0.
            let (x, zero) = (x(), scalar_like(0.0, x())?);
            let sign = x
                .gt(&zero)?
                .where_cond(&scalar_like(1.0, x)?, &x.lt(&zero)?.where_cond(&scalar_like(-1.0, x)?, &zero)?)?;
            g.mul(&sign)?
        }
        UnaryOp::Exp => g.mul(y())?,
        UnaryOp::Log => g.div(x())?,
        UnaryOp::Sqrt => g.div(&y().scale(2.0)?)?,
        UnaryOp::Recip => g.mul(&y().square()?)?.neg()?,
        UnaryOp::Square => g.mul(&x().scale(2.0)?)?,
        UnaryOp::Sin => g.mul(&x().cos()?)?,
        UnaryOp::Cos => g.mul(&x().sin()?)?.neg()?,
        UnaryOp::Tanh => g.mul(&y().square()?.affine(-1.0, 1.0)?)?,
        UnaryOp::Sigmoid => g.mul(&y().mul(&y().affine(-1.0, 1.0)?)?)?,
        // One pass each (the gradient at 0 is 0).
        UnaryOp::Relu => x().relu_backward(g)?,
        UnaryOp::Gelu => x().gelu_backward(g)?,
        UnaryOp::GeluTanh => x().gelu_tanh_backward(g)?,
        UnaryOp::GeluGrad => g.mul(&gelu_second(x())?)?,
        UnaryOp::GeluTanhGrad => g.mul(&gelu_tanh_second(x())?)?,
        // ±2/sqrt(pi) e^(-x²).
        UnaryOp::Erf => g.mul(&x().square()?.scale(-1.0)?.exp()?.scale(FRAC_2_SQRT_PI)?)?,
        UnaryOp::Erfc => g.mul(&x().square()?.scale(-1.0)?.exp()?.scale(-FRAC_2_SQRT_PI)?)?,
        UnaryOp::Silu => {
            // s (1 + x (1 - s)) with s = sigmoid(x).
            let s = x().sigmoid()?;
            g.mul(&s.mul(&x().mul(&s.affine(-1.0, 1.0)?)?.add_scalar(1.0)?)?)?
        }
        UnaryOp::Powf(p) => g.mul(&x().powf(p - 1.0)?.scale(p)?)?,
        UnaryOp::Clamp(lo, hi) => {
            // The gradient passes where lo <= x <= hi.
            let (x, zero) = (x(), scalar_like(0.0, g)?);
            let inside = x.lt(&scalar_like(lo, x)?)?.where_cond(&zero, g)?;
            x.gt(&scalar_like(hi, x)?)?.where_cond(&zero, &inside)?
        }
        UnaryOp::Affine(mul, _) => g.scale(mul)?,
    })
}

/// GELU's second derivative: d/dx (Φ(x) + x φ(x)) = φ(x) (2 - x²).
pub(super) fn gelu_second(x: &Tensor) -> Result<Tensor> {
    let pdf = x.square()?.scale(-0.5)?.exp()?.scale(0.5 * FRAC_1_SQRT_2 * FRAC_2_SQRT_PI)?;
    Ok(pdf.mul(&x.square()?.affine(-1.0, 2.0)?)?)
}

/// The tanh-approximated GELU's second derivative: with u = c (x + k x³) and t = tanh(u),
/// (1 - t²) (u' + x/2 (u'' - 2 t u'²)).
pub(super) fn gelu_tanh_second(x: &Tensor) -> Result<Tensor> {
    let (c, k) = ((2.0 / PI).sqrt(), 0.044715);
    let x2 = x.square()?;
    let t = x.mul(&x2.affine(k, 1.0)?)?.scale(c)?.tanh()?;
    let du = x2.affine(3.0 * k * c, c)?;
    let ddu = x.scale(6.0 * k * c)?;
    let inner = ddu.sub(&t.mul(&du.square()?)?.scale(2.0)?)?.mul(x)?.scale(0.5)?.add(&du)?;
    Ok(t.square()?.affine(-1.0, 1.0)?.mul(&inner)?)
}

impl Var {
    /// Applies an elementwise op, recording its backward rule.
    pub fn unary(&self, op: UnaryOp) -> Result<Var> {
        let y = self.tensor().unary(op)?;
        let keep = keeps(op);
        let x_kept = (keep == Keep::Input).then(|| self.tensor().clone());
        let y_kept = (keep == Keep::Output).then(|| y.clone());
        Ok(Var::record(op.name(), y, &[self], move |c| {
            Ok(vec![Some(gradient(op, c.grad, x_kept.as_ref(), y_kept.as_ref())?)])
        }))
    }

    tessera_tensor::unary_methods!();

    /// `x * s`.
    pub fn scale(&self, s: f64) -> Result<Var> {
        self.affine(s, 0.0)
    }

    /// `x + s`.
    pub fn add_scalar(&self, s: f64) -> Result<Var> {
        self.affine(1.0, s)
    }
}
