//! Gradient checks of compositions: a small MLP, softmax cross-entropy, an LSTM cell.

use super::draw::{Domain, Draw};
use super::problem::Problem;
use super::OpCheck;
use crate::{Result, Var};
use tessera_tensor::{Device, Tensor};

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
    let targets = Tensor::from_vec(targets, [batch, 1], &Device::Cpu)?;
    let logits = d.input(&[batch, classes], &Domain::Range(-3.0, 3.0));
    Ok(Problem::new(vec![logits], move |v| {
        let fused = v[0].log_softmax(-1)?.gather(1, &targets)?.mean(&[], false)?.neg()?;
        let unfused = v[0].softmax(1)?.log()?.gather(1, &targets)?.sum_all()?.scale(-1.0 / batch as f64)?;
        fused.add(&unfused)?.unsqueeze(0)
    }))
}

/// One LSTM step: gates `x Wx + h Wh + b` split in four; `c' = σ(f) c + σ(i) tanh(g)`,
/// `h' = σ(o) tanh(c')`; the output is `[h', c']`.
fn lstm_cell(d: &mut Draw) -> Result<Problem> {
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

/// The checks of this file.
pub(super) fn checks() -> Vec<OpCheck> {
    vec![
        OpCheck::new("mlp", mlp),
        OpCheck::new("softmax_cross_entropy", softmax_cross_entropy),
        OpCheck::new("lstm_cell", lstm_cell),
    ]
}
