//! Broadcast binary ops, comparisons and `where_cond`, with their backward rules. Gradients of
//! broadcast operands are summed back to the operand's shape.

use super::{scalar_like, sum_to_shape};
use crate::graph::BackwardCtx;
use crate::{Result, Var};
use tessera_tensor::{BinaryOp, CmpOp, Tensor};

/// The gradients of both operands of a binary op, before they are summed to the operands' shapes.
type Pair = (Option<Tensor>, Option<Tensor>);

/// Which values a binary op's rule needs kept alive until backward.
enum Keep {
    Nothing,
    Operands,
    All,
}

/// The values a binary op's rule kept: operands `a`, `b` and output `y`.
#[derive(Default)]
struct Kept {
    a: Option<Tensor>,
    b: Option<Tensor>,
    y: Option<Tensor>,
}

impl Kept {
    fn a(&self) -> &Tensor {
        self.a.as_ref().expect("the rule asked to keep the operands")
    }
    fn b(&self) -> &Tensor {
        self.b.as_ref().expect("the rule asked to keep the operands")
    }
    fn y(&self) -> &Tensor {
        self.y.as_ref().expect("the rule asked to keep the output")
    }
}

impl Var {
    /// Records a binary op; `rule(ctx, grad, kept)` gives the broadcast-shaped operand gradients
    /// (only those that `ctx.needs`) from the tensors `keep` chose to keep.
    fn binary_op<F>(&self, op: &'static str, rhs: &Var, y: Tensor, keep: Keep, rule: F) -> Var
    where
        F: Fn(&BackwardCtx<'_>, &Tensor, &Kept) -> Result<Pair> + Send + Sync + 'static,
    {
        let kept = match keep {
            Keep::Nothing => Kept::default(),
            Keep::Operands => Kept { a: Some(self.tensor().clone()), b: Some(rhs.tensor().clone()), y: None },
            Keep::All => Kept { a: Some(self.tensor().clone()), b: Some(rhs.tensor().clone()), y: Some(y.clone()) },
        };
        Var::record(op, y, &[self, rhs], move |c| {
            let (ga, gb) = rule(c, c.grad, &kept)?;
            let ga = ga.map(|g| sum_to_shape(&g, c.input_shape(0))).transpose()?;
            Ok(vec![ga, gb.map(|g| sum_to_shape(&g, c.input_shape(1))).transpose()?])
        })
    }

    /// `a + b`, broadcast.
    pub fn add(&self, rhs: &Var) -> Result<Var> {
        let y = self.tensor().add(rhs.tensor())?;
        Ok(self.binary_op("add", rhs, y, Keep::Nothing, |c, g, _| {
            Ok((c.needs(0).then(|| g.clone()), c.needs(1).then(|| g.clone())))
        }))
    }

    /// `a - b`, broadcast.
    pub fn sub(&self, rhs: &Var) -> Result<Var> {
        let y = self.tensor().sub(rhs.tensor())?;
        Ok(self.binary_op("sub", rhs, y, Keep::Nothing, |c, g, _| {
            Ok((c.needs(0).then(|| g.clone()), c.needs(1).then(|| g.neg()).transpose()?))
        }))
    }

    /// `a * b`, broadcast.
    pub fn mul(&self, rhs: &Var) -> Result<Var> {
        let y = self.tensor().mul(rhs.tensor())?;
        Ok(self.binary_op("mul", rhs, y, Keep::Operands, |c, g, k| {
            Ok((c.needs(0).then(|| g.mul(k.b())).transpose()?, c.needs(1).then(|| g.mul(k.a())).transpose()?))
        }))
    }

    /// `a / b`, broadcast.
    pub fn div(&self, rhs: &Var) -> Result<Var> {
        let y = self.tensor().div(rhs.tensor())?;
        Ok(self.binary_op("div", rhs, y, Keep::All, |c, g, k| {
            let ga = g.div(k.b())?;
            // d(a/b)/db = -(a/b)/b = -y/b, so gb = -ga * y.
            let gb = if c.needs(1) { Some(ga.mul(k.y())?.neg()?) } else { None };
            Ok((c.needs(0).then_some(ga), gb))
        }))
    }

    /// `a ^ b`, broadcast (float dtypes). The gradient of `b` is `y ln a`, defined for `a > 0`.
    pub fn pow(&self, rhs: &Var) -> Result<Var> {
        let y = self.tensor().pow(rhs.tensor())?;
        Ok(self.binary_op("pow", rhs, y, Keep::All, |c, g, k| {
            let (a, b) = (k.a(), k.b());
            let ga = if c.needs(0) { Some(g.mul(&b.mul(&a.pow(&b.add_scalar(-1.0)?)?)?)?) } else { None };
            let gb = if c.needs(1) { Some(g.mul(&k.y().mul(&a.log()?)?)?) } else { None };
            Ok((ga, gb))
        }))
    }

    /// Elementwise maximum, broadcast. Where the operands tie, each gets half the gradient.
    pub fn maximum(&self, rhs: &Var) -> Result<Var> {
        let y = self.tensor().maximum(rhs.tensor())?;
        Ok(self.binary_op("maximum", rhs, y, Keep::Operands, |c, g, k| {
            split_by_winner(c, g, &k.a().gt(k.b())?, &k.a().eq(k.b())?)
        }))
    }

    /// Elementwise minimum, broadcast. Where the operands tie, each gets half the gradient.
    pub fn minimum(&self, rhs: &Var) -> Result<Var> {
        let y = self.tensor().minimum(rhs.tensor())?;
        Ok(self.binary_op("minimum", rhs, y, Keep::Operands, |c, g, k| {
            split_by_winner(c, g, &k.a().lt(k.b())?, &k.a().eq(k.b())?)
        }))
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
        let mask = self.tensor().clone();
        Ok(Var::record("where_cond", y, &[self, on_true, on_false], move |c| {
            let zero = scalar_like(0.0, c.grad)?;
            let gt =
                if c.needs(1) { Some(sum_to_shape(&mask.where_cond(c.grad, &zero)?, c.input_shape(1))?) } else { None };
            let gf =
                if c.needs(2) { Some(sum_to_shape(&mask.where_cond(&zero, c.grad)?, c.input_shape(2))?) } else { None };
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
