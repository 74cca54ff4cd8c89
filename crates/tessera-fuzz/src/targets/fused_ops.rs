//! The fused kernels as a fuzz target: [`tensor_ops`](super::ops)'s program with ops added that
//! take several operands whose shapes must agree (attention and its gradient, cross-entropy's
//! gradient, the LSTM cell and its gradient, batch and layer/RMS norms and their gradients,
//! products with a bias), every table unary op, dropout and random tensors. Its own target, so
//! that `tensor_ops`'s saved programs keep their meaning; its starting operands add a few that
//! already fit these ops, and the views of `tensor_ops` reshape any operand to fit others.

use super::ops::{self, Reader};
use crate::corpus::OUTCOME_PARTS;
use tessera_tensor::{AttentionSpec, Device, Generator, NormKind, NormParamGrads, Result, Tensor, UnaryOp};

/// The ops added to `tensor_ops`'s.
const FUSED: usize = 11;

/// The number of ops the `fused_ops` target chooses from: `tensor_ops`'s, then its own.
pub const OPS: usize = ops::OPS + FUSED;

/// `tensor_ops`'s operands, then LSTM gates `[2, 8]` with their cell state `[2, 2]`, a query
/// `[1, 2, 3, 4]` with a key-padding mask `[1, 3]` (u8), and logits `[3, 5]` with their
/// targets and per-row scales.
fn start() -> Result<Vec<Tensor>> {
    let cpu = Device::Cpu;
    let values = |n: usize| (0..n).map(|i| ((i * 7 % 11) as f32 - 5.0) * 0.3).collect::<Vec<f32>>();
    let mut pool = ops::start()?;
    pool.extend([
        Tensor::from_vec(values(16), [2, 8], &cpu)?,
        Tensor::from_vec(values(4), [2, 2], &cpu)?,
        Tensor::from_vec(values(24), [1, 2, 3, 4], &cpu)?,
        Tensor::from_vec(vec![0u8, 1, 0], [1, 3], &cpu)?,
        Tensor::from_vec(values(15), [3, 5], &cpu)?,
        Tensor::from_vec(vec![4u32, 0, 2], [3], &cpu)?,
        Tensor::from_vec(vec![1f32, 0.5, 0.0], [3], &cpu)?,
    ]);
    Ok(pool)
}

/// The program over [`start`]'s operands, each op chosen among `tensor_ops`'s and [`FUSED`].
pub(super) fn fused_ops(data: &[u8]) -> String {
    match start() {
        Ok(pool) => ops::program(data, pool, OPS, step, Tensor::elem_count).0.join(OUTCOME_PARTS),
        Err(e) => format!("operands: {e}"),
    }
}

fn step(op: usize, r: &mut Reader<'_>, pool: &[Tensor]) -> Result<Option<Tensor>> {
    let Some(fused) = op.checked_sub(ops::OPS) else { return ops::step(op, r, pool) };
    let cpu = Device::Cpu;
    let x = r.pick(pool).clone();
    Ok(Some(match fused {
        0 => x.unary(UnaryOp::EXAMPLES[r.byte() % UnaryOp::EXAMPLES.len()])?,
        1 => x.scale(r.float())?.add_scalar(r.float())?,
        2 => {
            let (k, v, mask) = (r.pick(pool), r.pick(pool), r.maybe(pool));
            let dropout =
                if r.flag() { Some(Generator::new(r.byte() as u64).dropout_mask(r.float(), r.size())?) } else { None };
            let spec = AttentionSpec { causal: r.flag(), scale: r.flag().then(|| r.float()), dropout };
            let (out, lse) = Tensor::attention(&x, k, v, mask, &spec)?;
            let d_out = if r.flag() { out.clone() } else { r.pick(pool).clone() };
            Tensor::attention_backward([&x, k, v], mask, [&out, &lse, &d_out], &spec)?.1
        }
        3 => {
            let lse = if r.flag() { x.logsumexp(-1, false)? } else { r.pick(pool).clone() };
            x.cross_entropy_backward(&lse, r.pick(pool), r.pick(pool), r.float())?
        }
        4 => {
            let (gates, c_prev) = (r.pick(pool), r.pick(pool));
            let (h, c, acts) = Tensor::lstm_cell(&x, gates, c_prev)?;
            let dc = if r.flag() { c.clone() } else { r.pick(pool).clone() };
            Tensor::lstm_cell_backward(&acts, c_prev, &c, &h, &dc)?.0
        }
        5 => {
            let (weight, bias) = (r.maybe(pool), r.maybe(pool));
            let running = if r.flag() { Some((r.pick(pool), r.pick(pool))) } else { None };
            let training = r.flag();
            let (y, saved) = x.batch_norm(weight, bias, running, training, r.float())?;
            let dy = if r.flag() { y } else { r.pick(pool).clone() };
            Tensor::batch_norm_backward(&x, weight, &dy, &saved, training)?.0
        }
        6 => {
            let kind = if r.flag() { NormKind::Layer } else { NormKind::Rms };
            let weight = r.maybe(pool);
            let (y, stats) = if kind == NormKind::Layer {
                x.layer_norm(weight, r.maybe(pool), r.float())?
            } else {
                x.rms_norm(weight, r.float())?
            };
            let dy = if r.flag() { y } else { r.pick(pool).clone() };
            let params = NormParamGrads { weight: weight.is_some(), bias: kind == NormKind::Layer };
            Tensor::norm_backward(kind, &x, weight, &dy, &stats, params)?.x
        }
        7 => x.matmul_bias(r.pick(pool), r.pick(pool))?,
        8 => {
            let mask = Generator::new(r.byte() as u64).dropout_mask(r.float(), r.size())?;
            x.dropout(&mask)?
        }
        9 => {
            // Sizes are at most 5 or at least 2^32, so a shape is small, empty or past the
            // worker's memory cap, which must be refused as an error.
            let (mut g, shape, dtype) = (Generator::new(r.byte() as u64), r.sizes(), r.dtype());
            match r.byte() % 3 {
                0 => Tensor::bernoulli(&mut g, r.float(), shape, dtype, &cpu)?,
                1 => Tensor::rand_uniform(&mut g, r.float(), r.float(), shape, dtype, &cpu)?,
                _ => Tensor::rand_normal(&mut g, r.float(), r.float(), shape, dtype, &cpu)?,
            }
        }
        _ => x.rotary_inverse(r.size(), r.float())?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The added operands fit the ops they are for: a program that runs each one on them is
    /// accepted, so the target reaches the kernels and not only their shape checks.
    #[test]
    fn the_added_operands_reach_the_kernels() {
        let op = |k: usize| (ops::OPS + k) as u8;
        // Operands 8..15: gates, cell state, query, mask, logits, targets, scales.
        let programs: [&[u8]; 4] = [
            &[op(4), 8, 8, 9, 1],                    // lstm_cell on the gates (x gates and h gates) and state
            &[op(2), 10, 10, 10, 1, 11, 0, 0, 0, 1], // attention with the mask, backward on its output
            &[op(3), 12, 1, 13, 14, 0],              // cross-entropy's gradient with its own lse
            &[op(6), 12, 1, 0, 0, 0, 1],             // layer norm and its gradient
        ];
        for p in programs {
            let outcome = fused_ops(p);
            assert!(outcome.ends_with(": ok"), "{p:?}: {outcome}");
        }
    }
}
