//! Autograd as a fuzz target: a program of recorded ops (views, broadcasts, indexing,
//! reductions, products, convolutions, pooling, norms, attention, dropout and the unary table)
//! over parameters made from `tensor_ops`'s operands, with arguments from the same edge values,
//! then backward from the sum of the last result. Errors are fine; a panic is a failure, and so
//! is a parameter handed a gradient of another shape or dtype than its own (which the
//! optimizers would then reject or, worse, broadcast).

use super::ops::{self, reduces_large, Reader};
use crate::corpus::{outcome, OUTCOME_PARTS};
use tessera_autograd::{Result, Var};
use tessera_tensor::{AttentionSpec, AvgPool2dSpec, BinaryOp, Conv2dSpec, Generator, MaxPool2dSpec, ReduceOp, UnaryOp};

/// The number of ops a `var_ops` program chooses from.
pub const OPS: usize = 22;

/// The program over parameters made from `tensor_ops`'s float operands (its integer ones stay
/// constants), then backward from the sum of the last result, then every gradient checked
/// against its parameter.
pub(super) fn var_ops(data: &[u8]) -> String {
    let start = match ops::start() {
        Ok(s) => s,
        Err(e) => return format!("operands: {e}"),
    };
    let pool: Vec<Var> = start
        .into_iter()
        .map(|t| if t.dtype().is_float() { Var::param(t).expect("a float") } else { Var::constant(t) })
        .collect();
    let params = pool.clone();
    let (mut outcomes, last) = ops::program(data, pool, OPS, step, Var::elem_count);
    if let Some(v) = last {
        let back = v.sum_all().and_then(|s| s.backward());
        outcomes.push(format!("backward: {}", outcome(&back)));
    }
    for p in &params {
        if let Some(g) = p.grad() {
            assert!(
                g.dims() == p.dims() && g.dtype() == p.dtype(),
                "a parameter {:?} {} was given a gradient {:?} {}",
                p.dims(),
                p.dtype(),
                g.dims(),
                g.dtype()
            );
        }
    }
    outcomes.join(OUTCOME_PARTS)
}

fn step(op: usize, r: &mut Reader<'_>, pool: &[Var]) -> Result<Option<Var>> {
    let x = r.pick(pool).clone();
    Ok(Some(match op {
        0 => x.reshape(r.sizes())?,
        1 => x.expand(r.sizes())?,
        2 => x.narrow(r.dim(), r.size(), r.size())?,
        3 => x.permute(&[r.dim(), r.dim(), r.dim()][..x.rank().min(3)])?,
        4 => x.transpose(r.dim(), r.dim())?.unsqueeze(r.dim())?,
        5 => Var::cat(&[x, r.pick(pool).clone()], r.dim())?,
        6 => Var::stack(&[x, r.pick(pool).clone()], r.dim())?,
        7 => match r.byte() % 3 {
            0 => x.index_select(r.dim(), r.pick(pool).tensor())?,
            1 => x.gather(r.dim(), r.pick(pool).tensor())?,
            _ => x.scatter_add(r.dim(), r.pick(pool).tensor(), r.pick(pool))?,
        },
        8 => {
            let op = [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div, BinaryOp::Pow, BinaryOp::Maximum]
                [r.byte() % 6];
            x.binary(op, r.pick(pool))?
        }
        9 => {
            let op = [ReduceOp::Sum, ReduceOp::Mean, ReduceOp::Max, ReduceOp::Min][r.byte() % 4];
            let (dims, n, keepdim) = ([r.dim(), r.dim()], 1 + r.byte() % 2, r.flag());
            if reduces_large(x.tensor()) {
                return Ok(None);
            }
            x.reduce(op, &dims[..n], keepdim)?
        }
        10 => {
            let (dim, keepdim, correction) = (r.dim(), r.flag(), r.size());
            if reduces_large(x.tensor()) {
                return Ok(None);
            }
            x.variance(&[dim], keepdim, correction)?
        }
        11 => {
            let (kind, dim, keepdim) = (r.byte() % 3, r.dim(), r.flag());
            match kind {
                0 => x.softmax(dim)?,
                1 => x.log_softmax(dim)?,
                _ if reduces_large(x.tensor()) => return Ok(None),
                _ => x.logsumexp(dim, keepdim)?,
            }
        }
        12 => x.matmul(r.pick(pool))?,
        13 => x.matmul_bias(r.pick(pool), r.pick(pool))?,
        14 => x.unary(UnaryOp::EXAMPLES[r.byte() % UnaryOp::EXAMPLES.len()])?,
        15 => {
            let (weight, bias, eps) = (r.maybe(pool), r.maybe(pool), r.float());
            if r.flag() {
                x.layer_norm(weight, bias, eps)?
            } else {
                x.rms_norm(weight, eps)?
            }
        }
        16 => {
            let (k, v, mask) = (r.pick(pool), r.pick(pool), r.maybe(pool));
            let dropout =
                if r.flag() { Some(Generator::new(r.byte() as u64).dropout_mask(r.float(), r.size())?) } else { None };
            let spec = AttentionSpec { causal: r.flag(), scale: r.flag().then(|| r.float()), dropout };
            Var::attention(&x, k, v, mask.map(Var::tensor), &spec)?
        }
        17 => {
            let spec = Conv2dSpec { stride: r.pair(), padding: r.pair(), dilation: r.pair(), groups: r.size() };
            let (weight, bias) = (r.pick(pool), r.maybe(pool));
            if x.tensor().conv2d_plan(weight.tensor(), bias.map(Var::tensor), &spec)?.out_shape.elem_count()
                > ops::MAX_COMPUTED_ELEMENTS
            {
                return Ok(None);
            }
            x.conv2d(weight, bias, &spec)?
        }
        18 => {
            // Small windows, strides and paddings: the large ones are `tensor_ops`'s.
            let small = |r: &mut Reader<'_>| [1 + r.byte() % ops::SMALL, 1 + r.byte() % ops::SMALL];
            let (kernel, stride, padding) = (small(r), small(r), [r.byte() % 3, r.byte() % 3]);
            if r.flag() {
                x.max_pool2d(&MaxPool2dSpec { stride, padding, ..MaxPool2dSpec::new(kernel) })?
            } else {
                x.avg_pool2d(&AvgPool2dSpec { stride, padding, ..AvgPool2dSpec::new(kernel) })?
            }
        }
        19 => x.rotary(r.size(), r.float())?,
        20 => {
            let mask = Generator::new(r.byte() as u64).dropout_mask(r.float(), r.size())?;
            x.dropout(&mask)?
        }
        _ => {
            let (weight, bias, training, eps) = (r.maybe(pool), r.maybe(pool), r.flag(), r.float());
            x.batch_norm(weight, bias, None, training, eps)?.0
        }
    }))
}
