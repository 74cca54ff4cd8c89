//! The registry of gradient checks: one per differentiable op of the tensor API (named as the
//! method), plus compositions. Elementwise ops and reductions are here; shapes, indexing and
//! matmul in `registry_structure`; attention and norms in `registry_transformer`; pooling, batch
//! norm and flatten in `registry_pooling`; compositions in `registry_composite`.

use super::draw::{Domain, Draw};
use super::problem::Problem;
use super::{registry_composite, registry_conv, registry_pooling, registry_structure, registry_transformer, OpCheck};
use crate::{Result, Var};
use tessera_tensor::ops;
use tessera_tensor::{BinaryOp, ReduceOp, UnaryOp};

/// Public methods of `Tensor` that need no gradient check, each with the reason: constructors,
/// accessors, in-place updates (not recorded), ops that are not differentiable (comparisons,
/// arg-reductions), which `Var` returns as constants, and ops-as-values whose rows are checked
/// one by one.
pub const NOT_CHECKED: &[(&str, &str)] = &[
    ("from_vec", "a constructor"),
    ("from_slice", "a constructor"),
    ("scalar", "a constructor"),
    ("full", "a constructor"),
    ("zeros", "a constructor"),
    ("ones", "a constructor"),
    ("zeros_like", "a constructor"),
    ("ones_like", "a constructor"),
    ("arange", "a constructor"),
    ("eye", "a constructor"),
    ("rand_uniform", "a random source"),
    ("randn", "a random source"),
    ("rand_normal", "a random source"),
    ("bernoulli", "a random source (dropout checks its masks through mul)"),
    ("layout", "an accessor"),
    ("shape", "an accessor"),
    ("dims", "an accessor"),
    ("rank", "an accessor"),
    ("elem_count", "an accessor"),
    ("dtype", "an accessor"),
    ("device", "an accessor"),
    ("is_contiguous", "an accessor"),
    ("same_storage", "an accessor"),
    ("to_vec", "data export"),
    ("to_vec_f64", "data export"),
    ("to_scalar_f64", "data export"),
    ("to_cpu_buffer", "data export"),
    ("argmax", "not differentiable: gives indices"),
    ("argmin", "not differentiable: gives indices"),
    ("optim_step_", "an in-place parameter update, never recorded"),
    ("assign_", "an in-place parameter update, never recorded"),
    ("optim_step_master_", "an in-place parameter update, never recorded"),
    ("owns_storage_densely", "an accessor"),
    ("with_host", "data access: lends the storage to a closure"),
    ("with_host_mut", "data access: lends the storage to a closure, in place, never recorded"),
    ("with_cuda_mut", "data access: lends the device buffer to a closure (NCCL), in place, never recorded"),
    ("unary", "the unary table as a value: each row has its own check"),
    ("binary", "the binary table as a value: each row has its own check"),
    ("reduce", "the reduction table as a value: each row has its own check"),
    ("compare", "not differentiable: gives a u8 mask (each comparison likewise)"),
    ("cross_entropy_backward", "a gradient kernel: checked as the backward of nn's fused cross_entropy"),
    ("cross_entropy_with_grad", "a gradient kernel: checked as the backward of nn's fused cross_entropy"),
    ("lstm_cell_backward", "a gradient kernel: checked as the rule of the lstm_cell check"),
    ("sum_squares", "not differentiable through autograd: the optimizer reads gradients' norms with it"),
    ("lstm_sequence", "checked by tessera-nn's lstm_sequence check, whose op is this one with its backward as rule"),
    ("lstm_sequence_backward", "a gradient kernel: checked as the rule of tessera-nn's lstm_sequence check"),
    ("gru_sequence", "checked by tessera-nn's gru_sequence check, whose op is this one with its backward as rule"),
    ("gru_sequence_backward", "a gradient kernel: checked as the rule of tessera-nn's gru_sequence check"),
    ("attention_backward", "a gradient kernel: checked as the rule of the attention check"),
    ("norm_backward", "a gradient kernel: checked as the rule of the layer_norm and rms_norm checks"),
    ("dropout_mask", "draws a dropout mask: random numbers, not an op on tensors"),
    ("rotary_inverse", "the rule of rotary (its transpose): checked as such by the rotary check"),
    ("max_pool2d_backward", "a gradient kernel: checked as the rule of the max_pool2d check"),
    ("avg_pool2d_backward", "a gradient kernel: checked as the rule of the avg_pool2d check"),
    ("adaptive_avg_pool2d_backward", "a gradient kernel: checked as the rule of the adaptive_avg_pool2d check"),
    ("batch_norm_backward", "a gradient kernel: checked as the rule of the batch_norm check"),
    ("conv2d_plan", "checks a convolution's shapes and returns its sizes: no tensor op"),
    ("conv_transpose2d_plan", "checks a transposed convolution's shapes and returns its sizes: no tensor op"),
    ("conv2d_input_grad", "a gradient kernel: checked as the rule of conv2d and as conv_transpose2d's forward"),
    ("conv2d_weight_grad", "a gradient kernel: checked as the rules of the conv2d and conv_transpose2d checks"),
];

/// Every check: each differentiable op of the tensor API, then compositions.
pub fn registry() -> Vec<OpCheck> {
    let mut checks = elementwise();
    checks.extend(reductions());
    checks.extend(registry_structure::checks());
    checks.extend(registry_transformer::checks());
    checks.extend(registry_conv::checks());
    checks.extend(registry_pooling::checks());
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

/// Where an op's inputs may lie for central differences, from the op table's domain.
pub(super) fn domain_of(domain: &ops::Domain) -> Domain {
    match domain {
        ops::Domain::Any => Domain::ANY,
        ops::Domain::Positive => Domain::POSITIVE,
        ops::Domain::NonZero => Domain::Away { lo: -2.0, hi: 2.0, kinks: vec![0.0], margin: 0.4 },
        ops::Domain::Bounded(lo, hi) => Domain::Range(*lo, *hi),
        ops::Domain::Kinked(_) | ops::Domain::Clamped { .. } => Domain::away_from(&domain.kinks()),
        ops::Domain::Distinct | ops::Domain::Untied => Domain::Distinct(-2.0, 2.0),
    }
}

/// One check per row of the unary table: random shapes and views, values from the op's domain,
/// parameters from the table's examples.
fn unary_table() -> Vec<OpCheck> {
    UnaryOp::NAMES
        .iter()
        .map(|&name| {
            let examples: Vec<UnaryOp> = UnaryOp::EXAMPLES.iter().copied().filter(|op| op.name() == name).collect();
            OpCheck::new(name, move |d| {
                let (shape, op) = (d.shape(0, 3), d.pick(&examples));
                Ok(Problem::new(vec![d.input(&shape, &domain_of(&op.domain()))], move |v| v[0].unary(op)))
            })
        })
        .collect()
}

/// One check per row of the binary table, over broadcast pairs. An untied right operand keeps
/// 0.005 away from every value of the left one (no ties for maximum and minimum).
fn binary_table() -> Vec<OpCheck> {
    BinaryOp::ALL
        .iter()
        .map(|&op| {
            OpCheck::new(op.name(), move |d| {
                let (sa, sb) = broadcast_pair(d);
                let (da, db) = op.domains();
                let a = d.input(&sa, &domain_of(&da));
                let db = match db {
                    ops::Domain::Untied => Domain::Away { lo: -2.0, hi: 2.0, kinks: a.base.clone(), margin: 0.005 },
                    other => domain_of(&other),
                };
                let b = d.input(&sb, &db);
                Ok(Problem::new(vec![a, b], move |v| v[0].binary(op, &v[1])))
            })
        })
        .collect()
}

fn elementwise() -> Vec<OpCheck> {
    let mut checks = unary_table();
    checks.extend(binary_table());
    checks.extend([
        OpCheck::new("scale", |d| {
            let (shape, s) = (d.shape(0, 3), d.uniform(-2.0, 2.0));
            Ok(Problem::new(vec![d.input(&shape, &Domain::ANY)], move |v| v[0].scale(s)))
        }),
        OpCheck::new("add_scalar", |d| {
            let (shape, s) = (d.shape(0, 3), d.uniform(-2.0, 2.0));
            Ok(Problem::new(vec![d.input(&shape, &Domain::ANY)], move |v| v[0].add_scalar(s)))
        }),
        OpCheck::new("where_cond", |d| {
            let shape = d.shape(0, 3);
            let (sm, st, sf) = (d.broadcast_partner(&shape), d.broadcast_partner(&shape), d.broadcast_partner(&shape));
            let mask: Vec<u8> = (0..sm.iter().product()).map(|_| d.int(0, 1) as u8).collect();
            let mask = tessera_tensor::Tensor::from_vec(mask, sm, &d.device())?;
            let (t, f) = (d.input(&st, &Domain::ANY), d.input(&sf, &Domain::ANY));
            Ok(Problem::new(vec![t, f], move |v| Var::constant(mask.clone()).where_cond(&v[0], &v[1])))
        }),
    ]);
    checks
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

fn reductions() -> Vec<OpCheck> {
    let mut checks: Vec<OpCheck> = ReduceOp::ALL
        .iter()
        .map(|&op| {
            OpCheck::new(op.name(), move |d| {
                let shape = d.shape(0, 3);
                let (dims, keepdim) = (reduction_dims(d, shape.len()), d.coin());
                let x = d.input(&shape, &domain_of(&op.domain()));
                Ok(Problem::new(vec![x], move |v| v[0].reduce(op, &dims, keepdim)))
            })
        })
        .collect();
    checks.extend([
        unary("sum_all", Domain::ANY, Var::sum_all),
        OpCheck::new("variance", |d| {
            let shape = d.shape(0, 3);
            let (dims, keepdim) = (reduction_dims(d, shape.len()), d.coin());
            let counted: usize = if dims.is_empty() {
                shape.iter().product()
            } else {
                dims.iter().map(|&i| shape[i.rem_euclid(shape.len() as isize) as usize]).product()
            };
            let correction = if counted > 1 { d.int(0, 1) } else { 0 };
            Ok(Problem::new(vec![d.input(&shape, &Domain::ANY)], move |v| v[0].variance(&dims, keepdim, correction)))
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
    ]);
    checks
}
