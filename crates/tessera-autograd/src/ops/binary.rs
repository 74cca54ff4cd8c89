//! Broadcast binary ops, comparisons and `where_cond`, with their backward rules. Gradients of
//! broadcast operands are summed back to the operand's shape.

use super::unary::{gelu_second, gelu_tanh_second};
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

/// What `op`'s gradient reads.
fn keeps(op: BinaryOp) -> Keep {
    match op {
        BinaryOp::Add | BinaryOp::Sub => Keep::Nothing,
        BinaryOp::Mul
        | BinaryOp::Maximum
        | BinaryOp::Minimum
        | BinaryOp::ReluBackward
        | BinaryOp::GeluBackward
        | BinaryOp::GeluTanhBackward => Keep::Operands,
        BinaryOp::Div | BinaryOp::Pow => Keep::All,
    }
}

/// The broadcast-shaped gradients of `op`'s operands (those `c.needs`) given the output's
/// gradient `g`: the op's backward rule.
fn gradients(op: BinaryOp, c: &BackwardCtx<'_>, g: &Tensor, k: &Kept) -> Result<Pair> {
    Ok(match op {
        BinaryOp::Add => (c.needs(0).then(|| g.clone()), c.needs(1).then(|| g.clone())),
        BinaryOp::Sub => (c.needs(0).then(|| g.clone()), c.needs(1).then(|| g.neg()).transpose()?),
        BinaryOp::Mul => (c.needs(0).then(|| g.mul(k.b())).transpose()?, c.needs(1).then(|| g.mul(k.a())).transpose()?),
        BinaryOp::Div => {
            let ga = g.div(k.b())?;
            // d(a/b)/db = -(a/b)/b = -y/b, so gb = -ga * y.
            let gb = if c.needs(1) { Some(ga.mul(k.y())?.neg()?) } else { None };
            (c.needs(0).then_some(ga), gb)
        }
        BinaryOp::Pow => {
            // The gradient of b is y ln a, defined for a > 0.
            let (a, b) = (k.a(), k.b());
            let ga = if c.needs(0) { Some(g.mul(&b.mul(&a.pow(&b.add_scalar(-1.0)?)?)?)?) } else { None };
            let gb = if c.needs(1) { Some(g.mul(&k.y().mul(&a.log()?)?)?) } else { None };
            (ga, gb)
        }
        // Where the operands tie, each gets half the gradient.
        BinaryOp::Maximum => split_by_winner(c, g, &k.a().gt(k.b())?, &k.a().eq(k.b())?)?,
        BinaryOp::Minimum => split_by_winner(c, g, &k.a().lt(k.b())?, &k.a().eq(k.b())?)?,
        // The input's gradient is 0 almost everywhere (a step's derivative); the output
        // gradient's passes where the input is positive.
        BinaryOp::ReluBackward => {
            (c.needs(0).then(|| g.zeros_like()).transpose()?, c.needs(1).then(|| k.a().relu_backward(g)).transpose()?)
        }
        // b · f'(a): f'' for the input, f' for the output's gradient.
        BinaryOp::GeluBackward | BinaryOp::GeluTanhBackward => {
            let (a, second) = (k.a(), if op == BinaryOp::GeluBackward { gelu_second } else { gelu_tanh_second });
            let ga = if c.needs(0) { Some(g.mul(k.b())?.mul(&second(a)?)?) } else { None };
            (ga, c.needs(1).then(|| a.binary(op, g)).transpose()?)
        }
    })
}

impl Var {
    /// Applies a broadcast binary op, recording its backward rule; the operands' gradients are
    /// summed back to their shapes.
    pub fn binary(&self, op: BinaryOp, rhs: &Var) -> Result<Var> {
        let y = self.tensor().binary(op, rhs.tensor())?;
        let kept = match keeps(op) {
            Keep::Nothing => Kept::default(),
            Keep::Operands => Kept { a: Some(self.tensor().clone()), b: Some(rhs.tensor().clone()), y: None },
            Keep::All => Kept { a: Some(self.tensor().clone()), b: Some(rhs.tensor().clone()), y: Some(y.clone()) },
        };
        Ok(Var::record(op.name(), y, &[self, rhs], move |c| {
            let (ga, gb) = gradients(op, c, c.grad, &kept)?;
            let ga = ga.map(|g| sum_to_shape(&g, c.input_shape(0))).transpose()?;
            Ok(vec![ga, gb.map(|g| sum_to_shape(&g, c.input_shape(1))).transpose()?])
        }))
    }

    tessera_tensor::binary_methods!();

    /// A broadcast comparison giving a `u8` mask. Not differentiable: the result never requires
    /// grad (use it with [`Var::where_cond`]).
    pub fn compare(&self, op: CmpOp, rhs: &Var) -> Result<Var> {
        Ok(Var::constant(self.tensor().compare(op, rhs.tensor())?))
    }

    tessera_tensor::compare_methods!();

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
