//! Broadcast binary ops, comparisons and `where_cond`, with their backward rules. Gradients of
//! broadcast operands are summed back to the operand's shape.

use super::{scalar_like, sum_to_shape};
use crate::graph::BackwardCtx;
use crate::{Result, Var};
use tessera_tensor::{BinaryOp, CmpOp, Tensor};

/// The gradients of both operands of a binary op, before they are summed to the operands' shapes.
type Pair = (Option<Tensor>, Option<Tensor>);

impl Var {
    /// Records a binary op; `rule(ctx, grad, a, b)` gives the broadcast-shaped operand gradients
    /// (only those that `ctx.needs`).
    fn binary_op<F>(&self, op: &'static str, rhs: &Var, y: Tensor, rule: F) -> Var
    where
        F: Fn(&BackwardCtx<'_>, &Tensor, &Tensor, &Tensor) -> Result<Pair> + Send + Sync + 'static,
    {
        Var::record(op, y, &[self, rhs], move |c| {
            let (a, b) = (c.input(0), c.input(1));
            let (ga, gb) = rule(c, c.grad, a, b)?;
            Ok(vec![
                ga.map(|g| sum_to_shape(&g, a.shape())).transpose()?,
                gb.map(|g| sum_to_shape(&g, b.shape())).transpose()?,
            ])
        })
    }

    /// `a + b`, broadcast.
    pub fn add(&self, rhs: &Var) -> Result<Var> {
        let y = self.tensor().add(rhs.tensor())?;
        Ok(self
            .binary_op("add", rhs, y, |c, g, _, _| Ok((c.needs(0).then(|| g.clone()), c.needs(1).then(|| g.clone())))))
    }

    /// `a - b`, broadcast.
    pub fn sub(&self, rhs: &Var) -> Result<Var> {
        let y = self.tensor().sub(rhs.tensor())?;
        Ok(self.binary_op("sub", rhs, y, |c, g, _, _| {
            Ok((c.needs(0).then(|| g.clone()), c.needs(1).then(|| g.neg()).transpose()?))
        }))
    }

    /// `a * b`, broadcast.
    pub fn mul(&self, rhs: &Var) -> Result<Var> {
        let y = self.tensor().mul(rhs.tensor())?;
        Ok(self.binary_op("mul", rhs, y, |c, g, a, b| {
            Ok((c.needs(0).then(|| g.mul(b)).transpose()?, c.needs(1).then(|| g.mul(a)).transpose()?))
        }))
    }

    /// `a / b`, broadcast.
    pub fn div(&self, rhs: &Var) -> Result<Var> {
        let y = self.tensor().div(rhs.tensor())?;
        Ok(self.binary_op("div", rhs, y, |c, g, _, b| {
            let ga = g.div(b)?;
            // d(a/b)/db = -(a/b)/b = -y/b, so gb = -ga * y.
            let gb = if c.needs(1) { Some(ga.mul(c.output)?.neg()?) } else { None };
            Ok((c.needs(0).then_some(ga), gb))
        }))
    }

    /// `a ^ b`, broadcast (float dtypes). The gradient of `b` is `y ln a`, defined for `a > 0`.
    pub fn pow(&self, rhs: &Var) -> Result<Var> {
        let y = self.tensor().pow(rhs.tensor())?;
        Ok(self.binary_op("pow", rhs, y, |c, g, a, b| {
            let ga = if c.needs(0) { Some(g.mul(&b.mul(&a.pow(&b.add_scalar(-1.0)?)?)?)?) } else { None };
            let gb = if c.needs(1) { Some(g.mul(&c.output.mul(&a.log()?)?)?) } else { None };
            Ok((ga, gb))
        }))
    }

    /// Elementwise maximum, broadcast. Where the operands tie, each gets half the gradient.
    pub fn maximum(&self, rhs: &Var) -> Result<Var> {
        let y = self.tensor().maximum(rhs.tensor())?;
        Ok(self.binary_op("maximum", rhs, y, |c, g, a, b| split_by_winner(c, g, &a.gt(b)?, &a.eq(b)?)))
    }

    /// Elementwise minimum, broadcast. Where the operands tie, each gets half the gradient.
    pub fn minimum(&self, rhs: &Var) -> Result<Var> {
        let y = self.tensor().minimum(rhs.tensor())?;
        Ok(self.binary_op("minimum", rhs, y, |c, g, a, b| split_by_winner(c, g, &a.lt(b)?, &a.eq(b)?)))
    }

    /// Applies a broadcast binary op given as a value (dispatches to the method of the same name).
    pub fn binary(&self, op: BinaryOp, rhs: &Var) -> Result<Var> {
        match op {
            BinaryOp::Add => self.add(rhs),
            BinaryOp::Sub => self.sub(rhs),
            BinaryOp::Mul => self.mul(rhs),
            BinaryOp::Div => self.div(rhs),
            BinaryOp::Pow => self.pow(rhs),
            BinaryOp::Maximum => self.maximum(rhs),
            BinaryOp::Minimum => self.minimum(rhs),
        }
    }

    /// A broadcast comparison giving a `u8` mask. Not differentiable: the result never requires
    /// grad (use it with [`Var::where_cond`]).
    pub fn compare(&self, op: CmpOp, rhs: &Var) -> Result<Var> {
        Ok(Var::constant(self.tensor().compare(op, rhs.tensor())?))
    }

    /// `a == b` as a `u8` mask; not differentiable (a constant).
    pub fn eq(&self, rhs: &Var) -> Result<Var> {
        self.compare(CmpOp::Eq, rhs)
    }

    /// `a != b` as a `u8` mask; not differentiable (a constant).
    pub fn ne(&self, rhs: &Var) -> Result<Var> {
        self.compare(CmpOp::Ne, rhs)
    }

    /// `a < b` as a `u8` mask; not differentiable (a constant).
    pub fn lt(&self, rhs: &Var) -> Result<Var> {
        self.compare(CmpOp::Lt, rhs)
    }

    /// `a <= b` as a `u8` mask; not differentiable (a constant).
    pub fn le(&self, rhs: &Var) -> Result<Var> {
        self.compare(CmpOp::Le, rhs)
    }

    /// `a > b` as a `u8` mask; not differentiable (a constant).
    pub fn gt(&self, rhs: &Var) -> Result<Var> {
        self.compare(CmpOp::Gt, rhs)
    }

    /// `a >= b` as a `u8` mask; not differentiable (a constant).
    pub fn ge(&self, rhs: &Var) -> Result<Var> {
        self.compare(CmpOp::Ge, rhs)
    }

    /// `self ? on_true : on_false` where `self` is a `u8` mask (no gradient flows to the mask);
    /// all three broadcast together.
    pub fn where_cond(&self, on_true: &Var, on_false: &Var) -> Result<Var> {
        let y = self.tensor().where_cond(on_true.tensor(), on_false.tensor())?;
        Ok(Var::record("where_cond", y, &[self, on_true, on_false], |c| {
            let (mask, zero) = (c.input(0), scalar_like(0.0, c.grad)?);
            let gt = if c.needs(1) {
                Some(sum_to_shape(&mask.where_cond(c.grad, &zero)?, c.input(1).shape())?)
            } else {
                None
            };
            let gf = if c.needs(2) {
                Some(sum_to_shape(&mask.where_cond(&zero, c.grad)?, c.input(2).shape())?)
            } else {
                None
            };
            Ok(vec![None, gt, gf])
        }))
    }
}

/// Gives `g` to `a` where `a_wins`, to `b` where neither wins nor ties, and half to each on ties.
fn split_by_winner(c: &BackwardCtx<'_>, g: &Tensor, a_wins: &Tensor, tie: &Tensor) -> Result<Pair> {
    let (zero, half, one) = (scalar_like(0.0, g)?, scalar_like(0.5, g)?, scalar_like(1.0, g)?);
    let share_a = a_wins.where_cond(&one, &tie.where_cond(&half, &zero)?)?;
    let ga = if c.needs(0) { Some(g.mul(&share_a)?) } else { None };
    let gb = if c.needs(1) { Some(g.mul(&share_a.affine(-1.0, 1.0)?)?) } else { None };
    Ok((ga, gb))
}
