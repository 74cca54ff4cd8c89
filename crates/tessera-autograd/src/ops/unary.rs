//! Elementwise ops of one operand and their backward rules.

use super::scalar_like;
use crate::{Result, Var};
use std::f64::consts::{FRAC_1_SQRT_2, PI};
use tessera_tensor::{Tensor, UnaryOp};

impl Var {
    /// Records a unary op whose input gradient is `rule(grad, x, y)`; the rule keeps `x` and `y`.
    fn unary_op<F>(&self, op: &'static str, y: Tensor, rule: F) -> Var
    where
        F: Fn(&Tensor, &Tensor, &Tensor) -> Result<Tensor> + Send + Sync + 'static,
    {
        let (x, out) = (self.tensor().clone(), y.clone());
        Var::record(op, y, &[self], move |c| Ok(vec![Some(rule(c.grad, &x, &out)?)]))
    }

    /// Records a unary op whose input gradient `rule(grad)` needs no values (none are kept).
    fn linear_op<F>(&self, op: &'static str, y: Tensor, rule: F) -> Var
    where
        F: Fn(&Tensor) -> Result<Tensor> + Send + Sync + 'static,
    {
        Var::record(op, y, &[self], move |c| Ok(vec![Some(rule(c.grad)?)]))
    }

    /// `-x`
    pub fn neg(&self) -> Result<Var> {
        Ok(self.linear_op("neg", self.tensor().neg()?, |g| Ok(g.neg()?)))
    }

    /// `|x|`; the gradient at 0 is 0.
    pub fn abs(&self) -> Result<Var> {
        Ok(self.unary_op("abs", self.tensor().abs()?, |g, x, _| {
            let zero = scalar_like(0.0, x)?;
            let sign = x
                .gt(&zero)?
                .where_cond(&scalar_like(1.0, x)?, &x.lt(&zero)?.where_cond(&scalar_like(-1.0, x)?, &zero)?)?;
            Ok(g.mul(&sign)?)
        }))
    }

    /// `e^x`
    pub fn exp(&self) -> Result<Var> {
        Ok(self.unary_op("exp", self.tensor().exp()?, |g, _, y| Ok(g.mul(y)?)))
    }

    /// Natural logarithm.
    pub fn log(&self) -> Result<Var> {
        Ok(self.unary_op("log", self.tensor().log()?, |g, x, _| Ok(g.div(x)?)))
    }

    /// Square root.
    pub fn sqrt(&self) -> Result<Var> {
        Ok(self.unary_op("sqrt", self.tensor().sqrt()?, |g, _, y| Ok(g.div(&y.scale(2.0)?)?)))
    }

    /// `1 / x`
    pub fn recip(&self) -> Result<Var> {
        Ok(self.unary_op("recip", self.tensor().recip()?, |g, _, y| Ok(g.mul(&y.square()?)?.neg()?)))
    }

    /// `x * x`
    pub fn square(&self) -> Result<Var> {
        Ok(self.unary_op("square", self.tensor().square()?, |g, x, _| Ok(g.mul(&x.scale(2.0)?)?)))
    }

    /// Sine.
    pub fn sin(&self) -> Result<Var> {
        Ok(self.unary_op("sin", self.tensor().sin()?, |g, x, _| Ok(g.mul(&x.cos()?)?)))
    }

    /// Cosine.
    pub fn cos(&self) -> Result<Var> {
        Ok(self.unary_op("cos", self.tensor().cos()?, |g, x, _| Ok(g.mul(&x.sin()?)?.neg()?)))
    }

    /// Hyperbolic tangent.
    pub fn tanh(&self) -> Result<Var> {
        Ok(self.unary_op("tanh", self.tensor().tanh()?, |g, _, y| Ok(g.mul(&y.square()?.affine(-1.0, 1.0)?)?)))
    }

    /// `1 / (1 + e^-x)`
    pub fn sigmoid(&self) -> Result<Var> {
        Ok(self.unary_op("sigmoid", self.tensor().sigmoid()?, |g, _, y| Ok(g.mul(&y.mul(&y.affine(-1.0, 1.0)?)?)?)))
    }

    /// `max(x, 0)`; the gradient at 0 is 0.
    pub fn relu(&self) -> Result<Var> {
        Ok(self.unary_op("relu", self.tensor().relu()?, |g, x, _| {
            let zero = scalar_like(0.0, x)?;
            Ok(x.gt(&zero)?.where_cond(g, &zero)?)
        }))
    }

    /// GELU with the exact normal CDF: `x Φ(x)`, whose derivative is `Φ(x) + x φ(x)`.
    pub fn gelu(&self) -> Result<Var> {
        Ok(self.unary_op("gelu", self.tensor().gelu()?, |g, x, y| {
            // Φ(x) = gelu(x) / x away from 0 (the op has no erf of its own), and 1/2 at 0.
            let zero = scalar_like(0.0, x)?;
            let cdf = x.eq(&zero)?.where_cond(&scalar_like(0.5, x)?, &y.div(x)?)?;
            let pdf = x.square()?.scale(-0.5)?.exp()?.scale(0.5 * FRAC_1_SQRT_2 * std::f64::consts::FRAC_2_SQRT_PI)?;
            Ok(g.mul(&cdf.add(&x.mul(&pdf)?)?)?)
        }))
    }

    /// GELU's tanh approximation `x/2 (1 + tanh(u))`, `u = √(2/π) (x + 0.044715 x³)`.
    pub fn gelu_tanh(&self) -> Result<Var> {
        Ok(self.unary_op("gelu_tanh", self.tensor().gelu_tanh()?, |g, x, _| {
            let c = (2.0 / PI).sqrt();
            let x2 = x.square()?;
            let t = x.mul(&x2.affine(0.044715, 1.0)?)?.scale(c)?.tanh()?;
            let du = x2.affine(3.0 * 0.044715 * c, c)?;
            let left = t.affine(0.5, 0.5)?;
            let right = x.mul(&t.square()?.affine(-1.0, 1.0)?)?.mul(&du)?.scale(0.5)?;
            Ok(g.mul(&left.add(&right)?)?)
        }))
    }

    /// `x * sigmoid(x)`, whose derivative is `s (1 + x (1 - s))`.
    pub fn silu(&self) -> Result<Var> {
        Ok(self.unary_op("silu", self.tensor().silu()?, |g, x, _| {
            let s = x.sigmoid()?;
            Ok(g.mul(&s.mul(&x.mul(&s.affine(-1.0, 1.0)?)?.add_scalar(1.0)?)?)?)
        }))
    }

    /// `x ^ p` for a scalar exponent.
    pub fn powf(&self, p: f64) -> Result<Var> {
        Ok(self.unary_op("powf", self.tensor().powf(p)?, move |g, x, _| Ok(g.mul(&x.powf(p - 1.0)?.scale(p)?)?)))
    }

    /// Limits values to `[lo, hi]`; the gradient passes where `lo <= x <= hi`.
    pub fn clamp(&self, lo: f64, hi: f64) -> Result<Var> {
        Ok(self.unary_op("clamp", self.tensor().clamp(lo, hi)?, move |g, x, _| {
            let zero = scalar_like(0.0, x)?;
            let inside = x.lt(&scalar_like(lo, x)?)?.where_cond(&zero, g)?;
            Ok(x.gt(&scalar_like(hi, x)?)?.where_cond(&zero, &inside)?)
        }))
    }

    /// `mul * x + add`.
    pub fn affine(&self, mul: f64, add: f64) -> Result<Var> {
        Ok(self.linear_op("affine", self.tensor().affine(mul, add)?, move |g| Ok(g.scale(mul)?)))
    }

    /// `x * s`.
    pub fn scale(&self, s: f64) -> Result<Var> {
        Ok(self.linear_op("scale", self.tensor().scale(s)?, move |g| Ok(g.scale(s)?)))
    }

    /// `x + s`.
    pub fn add_scalar(&self, s: f64) -> Result<Var> {
        Ok(self.linear_op("add_scalar", self.tensor().add_scalar(s)?, |g| Ok(g.clone())))
    }

    /// Applies an elementwise op given as a value (dispatches to the method of the same name).
    pub fn unary(&self, op: UnaryOp) -> Result<Var> {
        match op {
            UnaryOp::Neg => self.neg(),
            UnaryOp::Abs => self.abs(),
            UnaryOp::Exp => self.exp(),
            UnaryOp::Log => self.log(),
            UnaryOp::Sqrt => self.sqrt(),
            UnaryOp::Recip => self.recip(),
            UnaryOp::Square => self.square(),
            UnaryOp::Sin => self.sin(),
            UnaryOp::Cos => self.cos(),
            UnaryOp::Tanh => self.tanh(),
            UnaryOp::Sigmoid => self.sigmoid(),
            UnaryOp::Relu => self.relu(),
            UnaryOp::Gelu => self.gelu(),
            UnaryOp::GeluTanh => self.gelu_tanh(),
            UnaryOp::Silu => self.silu(),
            UnaryOp::Powf(p) => self.powf(p),
            UnaryOp::Clamp(lo, hi) => self.clamp(lo, hi),
            UnaryOp::Affine(m, a) => self.affine(m, a),
        }
    }
}
