//! Gradient checks of compositions: a small MLP, softmax cross-entropy, the fused LSTM cell with
//! its backward kernel, and the same cell written with unfused ops.

use super::draw::{Domain, Draw};
use super::problem::Problem;
use super::OpCheck;
use crate::{Result, Var};
use tessera_tensor::Tensor;

/// `silu(x W1 + b1) W2 + b2`.
fn mlp(d: &mut Draw) -> Result<Problem> {
    let (batch, din, hidden, dout) = (d.int(1, 4), d.int(1, 4), d.int(1, 5), d.int(1, 3));
    let inputs = vec![
        d.input(&[batch, din], &Domain::ANY),
        d.input(&[din, hidden], &Domain::ANY),
        d.input(&[hidden], &Domain::ANY),
        d.input(&[hidden, dout], &Domain::ANY),
        d.input(&[dout], &Domain::ANY),
    ];
    Ok(Problem::new(inputs, |v| v[0].matmul(&v[1])?.add(&v[2])?.silu()?.matmul(&v[3])?.add(&v[4])))
}

/// Mean negative log-likelihood of class targets under `log_softmax(logits)`, plus the same
/// through `softmax` and `log` (the unfused form), so that both paths are checked.
fn softmax_cross_entropy(d: &mut Draw) -> Result<Problem> {
    let (batch, classes) = (d.int(1, 4), d.int(1, 5));
    let targets: Vec<i64> = (0..batch).map(|_| d.int(0, classes - 1) as i64).collect();
    let targets = Tensor::from_vec(targets, [batch, 1], &d.device())?;
    let logits = d.input(&[batch, classes], &Domain::Range(-3.0, 3.0));
    Ok(Problem::new(vec![logits], move |v| {
        let fused = v[0].log_softmax(-1)?.gather(1, &targets)?.mean(&[], false)?.neg()?;
        let unfused = v[0].softmax(1)?.log()?.gather(1, &targets)?.sum_all()?.scale(-1.0 / batch as f64)?;
        fused.add(&unfused)?.unsqueeze(0)
    }))
}

/// One LSTM step written with unfused ops (the fused kernel is checked through nn's
/// `lstm_sequence`): gates `x Wx + h Wh + b` split in four; `c' = σ(f) c + σ(i) tanh(g)`,
/// `h' = σ(o) tanh(c')`; the output is `[h', c']`.
fn lstm_cell_unfused(d: &mut Draw) -> Result<Problem> {
    let (batch, input, hidden) = (d.int(1, 3), d.int(1, 3), d.int(1, 3));
    let inputs = vec![
        d.input(&[batch, input], &Domain::ANY),
        d.input(&[batch, hidden], &Domain::ANY),
        d.input(&[batch, hidden], &Domain::ANY),
        d.input(&[input, 4 * hidden], &Domain::ANY),
        d.input(&[hidden, 4 * hidden], &Domain::ANY),
        d.input(&[4 * hidden], &Domain::ANY),
    ];
    Ok(Problem::new(inputs, |v| {
        let (x, h, c, wx, wh, b) = (&v[0], &v[1], &v[2], &v[3], &v[4], &v[5]);
        let gates = x.matmul(wx)?.add(&h.matmul(wh)?)?.add(b)?.chunk(4, -1)?;
        let (i, f, g, o) = (gates[0].sigmoid()?, gates[1].sigmoid()?, gates[2].tanh()?, gates[3].sigmoid()?);
        let c_next = f.mul(c)?.add(&i.mul(&g)?)?;
        let h_next = o.mul(&c_next.tanh()?)?;
        Var::cat(&[h_next, c_next], -1)
    }))
}

/// The fused cell `Tensor::lstm_cell` with `Tensor::lstm_cell_backward` as its rule: the output
/// is `[h', c']`, so the rule splits the incoming gradient into `dh` and `dc`. Gates and state
/// arrive as views (a step of a larger projection, a transposed buffer) as in an LSTM layer.
fn lstm_cell_fused(d: &mut Draw) -> Result<Problem> {
    let (batch, hidden) = (d.int(1, 3), d.int(1, 3));
    let inputs = vec![
        d.input(&[batch, 4 * hidden], &Domain::ANY),
        d.input(&[batch, 4 * hidden], &Domain::ANY),
        d.input(&[batch, hidden], &Domain::ANY),
    ];
    Ok(Problem::new(inputs, move |v| {
        let (x, h, c) = (v[0].tensor(), v[1].tensor(), v[2].tensor());
        let (h1, c1, acts) = Tensor::lstm_cell(x, h, c)?;
        let out = Tensor::cat(&[h1, c1.clone()], -1)?;
        let c_prev = c.clone();
        let rule: crate::BackwardRule = Box::new(move |ctx| {
            let (dh, dc) = (ctx.grad.narrow(1, 0, hidden)?, ctx.grad.narrow(1, hidden, hidden)?);
            let (d_gates, dc_prev) = Tensor::lstm_cell_backward(&acts, &c_prev, &c1, &dh, &dc)?;
            Ok(vec![Some(d_gates.clone()), Some(d_gates), Some(dc_prev)])
        });
        Ok(Var::from_op("lstm_cell", out, &[&v[0], &v[1], &v[2]], Some(rule)))
    }))
}

/// The checks of this file.
pub(super) fn checks() -> Vec<OpCheck> {
    vec![
        OpCheck::new("mlp", mlp),
        OpCheck::new("softmax_cross_entropy", softmax_cross_entropy),
        OpCheck::new("lstm_cell", lstm_cell_fused),
        OpCheck::new("lstm_cell_unfused", lstm_cell_unfused),
    ]
}
