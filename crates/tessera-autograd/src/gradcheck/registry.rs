//! The registry of gradient checks: one per differentiable op of the tensor API (named as the
//! method), plus compositions. Elementwise ops and reductions are here; shapes, indexing and
//! matmul in `registry_structure`, compositions in `registry_composite`.

use super::draw::{Domain, Draw};
use super::problem::Problem;
use super::{registry_composite, registry_structure, OpCheck};
use crate::{Result, Var};
use tessera_tensor::{BinaryOp, ReduceOp, UnaryOp};

/// Public methods of `Tensor` that need no gradient check: constructors, accessors, in-place
/// updates (not recorded), and ops that are not differentiable (comparisons, arg-reductions),
/// which `Var` returns as constants.
pub const NOT_CHECKED: &[&str] = &[
    // constructors and random sources
    "from_vec",
    "from_slice",
    "scalar",
    "full",
    "zeros",
    "ones",
    "zeros_like",
    "ones_like",
    "arange",
    "eye",
    "rand_uniform",
    "randn",
    "rand_normal",
    "bernoulli",
    // accessors and data export
    "layout",
    "shape",
    "dims",
    "rank",
    "elem_count",
    "dtype",
    "device",
    "is_contiguous",
    "same_storage",
    "to_vec",
    "to_vec_f64",
    "to_scalar_f64",
    "to_cpu_buffer",
    // not differentiable: comparisons give u8 masks, arg-reductions give indices
    "compare",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "argmax",
    "argmin",
    // in-place updates of parameters (optimizers, loading), never recorded
    "optim_step_",
    "assign_",
    // fused kernels that are themselves gradients or used only inside an op's backward rule:
    // checked through the ops built on them (nn's cross-entropy and LSTM, against PyTorch and
    // finite differences in tessera-nn's tests)
    "cross_entropy_backward",
    "lstm_cell",
    "lstm_cell_backward",
];

/// Every check: each differentiable op of the tensor API, then compositions.
pub fn registry() -> Vec<OpCheck> {
    let mut checks = elementwise();
    checks.extend(reductions());
    checks.extend(registry_structure::checks());
    checks.extend(registry_composite::checks());
    checks
}

/// A check of a unary op on an input of any rank (0 to 3) with values from `domain`.
pub(super) fn unary(name: &'static str, domain: Domain, op: fn(&Var) -> Result<Var>) -> OpCheck {
    OpCheck::new(name, move |d| {
        let shape = d.shape(0, 3);
        Ok(Problem::new(vec![d.input(&shape, &domain)], move |v| op(&v[0])))
    })
}

/// Two input shapes that broadcast together: one full shape, one partner, in either order.
pub(super) fn broadcast_pair(d: &mut Draw) -> (Vec<usize>, Vec<usize>) {
    let full = d.shape(0, 3);
    let partner = d.broadcast_partner(&full);
    if d.coin() {
        (full, partner)
    } else {
        (partner, full)
    }
}

/// A check of a broadcast binary op. With `apart`, the second operand's values keep 0.05 away
/// from every value of the first (no ties for maximum and minimum).
fn binary(name: &'static str, da: Domain, db: Domain, apart: bool, op: fn(&Var, &Var) -> Result<Var>) -> OpCheck {
    OpCheck::new(name, move |d| {
        let (sa, sb) = broadcast_pair(d);
        let a = d.input(&sa, &da);
        let db = match (&db, apart) {
            (Domain::Range(lo, hi), true) => Domain::Away { lo: *lo, hi: *hi, kinks: a.base.clone(), margin: 0.005 },
            _ => db.clone(),
        };
        let b = d.input(&sb, &db);
        Ok(Problem::new(vec![a, b], move |v| op(&v[0], &v[1])))
    })
}

fn elementwise() -> Vec<OpCheck> {
    let kink0 = Domain::away_from(&[0.0]);
    let nonzero = Domain::Away { lo: -2.0, hi: 2.0, kinks: vec![0.0], margin: 0.4 };
    let unary_ops = [
        UnaryOp::Neg,
        UnaryOp::Abs,
        UnaryOp::Exp,
        UnaryOp::Log,
        UnaryOp::Sqrt,
        UnaryOp::Recip,
        UnaryOp::Square,
        UnaryOp::Sin,
        UnaryOp::Cos,
        UnaryOp::Tanh,
        UnaryOp::Sigmoid,
        UnaryOp::Relu,
        UnaryOp::Gelu,
        UnaryOp::GeluTanh,
        UnaryOp::Silu,
        UnaryOp::Powf(1.7),
        UnaryOp::Clamp(0.25, 3.0),
        UnaryOp::Affine(-1.5, 0.3),
    ];
    vec![
        unary("neg", Domain::ANY, Var::neg),
        unary("abs", kink0.clone(), Var::abs),
        unary("exp", Domain::ANY, Var::exp),
        unary("log", Domain::POSITIVE, Var::log),
        unary("sqrt", Domain::POSITIVE, Var::sqrt),
        unary("recip", nonzero.clone(), Var::recip),
        unary("square", Domain::ANY, Var::square),
        unary("sin", Domain::ANY, Var::sin),
        unary("cos", Domain::ANY, Var::cos),
        unary("tanh", Domain::ANY, Var::tanh),
        unary("sigmoid", Domain::ANY, Var::sigmoid),
        unary("relu", kink0, Var::relu),
        unary("gelu", Domain::Range(-3.0, 3.0), Var::gelu),
        unary("gelu_tanh", Domain::Range(-3.0, 3.0), Var::gelu_tanh),
        unary("silu", Domain::Range(-3.0, 3.0), Var::silu),
        OpCheck::new("powf", |d| {
            let (shape, p) = (d.shape(0, 3), d.pick(&[-1.5, -1.0, 0.5, 2.0, 2.5, 3.0]));
            Ok(Problem::new(vec![d.input(&shape, &Domain::POSITIVE)], move |v| v[0].powf(p)))
        }),
        OpCheck::new("clamp", |d| {
            let shape = d.shape(0, 3);
            let (lo, hi) = (d.uniform(-1.5, 0.0), d.uniform(0.1, 1.5));
            let x = d.input(&shape, &Domain::away_from(&[lo, hi]));
            Ok(Problem::new(vec![x], move |v| v[0].clamp(lo, hi)))
        }),
        OpCheck::new("affine", |d| {
            let (shape, m, a) = (d.shape(0, 3), d.uniform(-2.0, 2.0), d.uniform(-2.0, 2.0));
            Ok(Problem::new(vec![d.input(&shape, &Domain::ANY)], move |v| v[0].affine(m, a)))
        }),
        OpCheck::new("scale", |d| {
            let (shape, s) = (d.shape(0, 3), d.uniform(-2.0, 2.0));
            Ok(Problem::new(vec![d.input(&shape, &Domain::ANY)], move |v| v[0].scale(s)))
        }),
        OpCheck::new("add_scalar", |d| {
            let (shape, s) = (d.shape(0, 3), d.uniform(-2.0, 2.0));
            Ok(Problem::new(vec![d.input(&shape, &Domain::ANY)], move |v| v[0].add_scalar(s)))
        }),
        OpCheck::new("unary", move |d| {
            let (shape, op) = (d.shape(0, 3), d.pick(&unary_ops));
            Ok(Problem::new(vec![d.input(&shape, &Domain::POSITIVE)], move |v| v[0].unary(op)))
        }),
        binary("add", Domain::ANY, Domain::ANY, false, Var::add),
        binary("sub", Domain::ANY, Domain::ANY, false, Var::sub),
        binary("mul", Domain::ANY, Domain::ANY, false, Var::mul),
        binary("div", Domain::ANY, nonzero, false, Var::div),
        binary("pow", Domain::POSITIVE, Domain::ANY, false, Var::pow),
        binary("maximum", Domain::Distinct(-2.0, 2.0), Domain::ANY, true, Var::maximum),
        binary("minimum", Domain::Distinct(-2.0, 2.0), Domain::ANY, true, Var::minimum),
        OpCheck::new("binary", |d| {
            let op = d.pick(&[
                BinaryOp::Add,
                BinaryOp::Sub,
                BinaryOp::Mul,
                BinaryOp::Div,
                BinaryOp::Pow,
                BinaryOp::Maximum,
                BinaryOp::Minimum,
            ]);
            let (sa, sb) = broadcast_pair(d);
            let a = d.input(&sa, &Domain::Distinct(0.5, 2.0));
            let b = d.input(&sb, &Domain::Away { lo: 0.5, hi: 2.0, kinks: a.base.clone(), margin: 0.005 });
            Ok(Problem::new(vec![a, b], move |v| v[0].binary(op, &v[1])))
        }),
        OpCheck::new("where_cond", |d| {
            let shape = d.shape(0, 3);
            let (sm, st, sf) = (d.broadcast_partner(&shape), d.broadcast_partner(&shape), d.broadcast_partner(&shape));
            let mask: Vec<u8> = (0..sm.iter().product()).map(|_| d.int(0, 1) as u8).collect();
            let mask = tessera_tensor::Tensor::from_vec(mask, sm, &tessera_tensor::Device::Cpu)?;
            let (t, f) = (d.input(&st, &Domain::ANY), d.input(&sf, &Domain::ANY));
            Ok(Problem::new(vec![t, f], move |v| Var::constant(mask.clone()).where_cond(&v[0], &v[1])))
        }),
    ]
}

/// Random reduction dims for `rank` (possibly none, meaning all) as `isize`, some negative.
pub(super) fn reduction_dims(d: &mut Draw, rank: usize) -> Vec<isize> {
    let mut dims = Vec::new();
    for i in 0..rank as isize {
        if d.coin() {
            dims.push(if d.coin() { i - rank as isize } else { i });
        }
    }
    dims
}

fn reduction(name: &'static str, domain: Domain, op: fn(&Var, &[isize], bool) -> Result<Var>) -> OpCheck {
    OpCheck::new(name, move |d| {
        let shape = d.shape(0, 3);
        let (dims, keepdim) = (reduction_dims(d, shape.len()), d.coin());
        Ok(Problem::new(vec![d.input(&shape, &domain)], move |v| op(&v[0], &dims, keepdim)))
    })
}

fn reductions() -> Vec<OpCheck> {
    let distinct = Domain::Distinct(-2.0, 2.0);
    vec![
        reduction("sum", Domain::ANY, Var::sum),
        reduction("mean", Domain::ANY, Var::mean),
        reduction("max", distinct.clone(), Var::max),
        reduction("min", distinct.clone(), Var::min),
        unary("sum_all", Domain::ANY, Var::sum_all),
        OpCheck::new("reduce", move |d| {
            let (shape, op) = (d.shape(0, 3), d.pick(&[ReduceOp::Sum, ReduceOp::Mean, ReduceOp::Max, ReduceOp::Min]));
            let (dims, keepdim) = (reduction_dims(d, shape.len()), d.coin());
            let x = d.input(&shape, &distinct);
            Ok(Problem::new(vec![x], move |v| v[0].reduce(op, &dims, keepdim)))
        }),
        OpCheck::new("var", |d| {
            let shape = d.shape(0, 3);
            let (dims, keepdim) = (reduction_dims(d, shape.len()), d.coin());
            let counted: usize = if dims.is_empty() {
                shape.iter().product()
            } else {
                dims.iter().map(|&i| shape[i.rem_euclid(shape.len() as isize) as usize]).product()
            };
            let correction = if counted > 1 { d.int(0, 1) } else { 0 };
            Ok(Problem::new(vec![d.input(&shape, &Domain::ANY)], move |v| v[0].var(&dims, keepdim, correction)))
        }),
        OpCheck::new("softmax", |d| {
            let shape = d.shape(1, 3);
            let dim = d.int(0, shape.len() - 1) as isize - if d.coin() { shape.len() as isize } else { 0 };
            Ok(Problem::new(vec![d.input(&shape, &Domain::ANY)], move |v| v[0].softmax(dim)))
        }),
        OpCheck::new("log_softmax", |d| {
            let shape = d.shape(1, 3);
            let dim = d.int(0, shape.len() - 1) as isize - if d.coin() { shape.len() as isize } else { 0 };
            Ok(Problem::new(vec![d.input(&shape, &Domain::ANY)], move |v| v[0].log_softmax(dim)))
        }),
        OpCheck::new("logsumexp", |d| {
            let shape = d.shape(1, 3);
            let dim = d.int(0, shape.len() - 1) as isize - if d.coin() { shape.len() as isize } else { 0 };
            let keepdim = d.coin();
            Ok(Problem::new(vec![d.input(&shape, &Domain::ANY)], move |v| v[0].logsumexp(dim, keepdim)))
        }),
    ]
}
