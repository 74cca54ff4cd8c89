//! Gradient checks of this crate's hand-written backward rules, for the checker of
//! `tessera_autograd::gradcheck` (the `gradcheck` program runs them beside autograd's own): the
//! LSTM's and GRU's backpropagation through time (`lstm_sequence`, `gru_sequence`) and the fused softmax
//! cross-entropy (`cross_entropy`), each against central finite differences in f64.

use crate::layers::gru_cell::gru_sequence;
use crate::layers::lstm_cell::lstm_sequence;
use crate::loss::{cross_entropy, CrossEntropy, Reduction};
use tessera_autograd::gradcheck::{Domain, Draw, OpCheck, Problem};
use tessera_autograd::Var;
use tessera_tensor::Tensor;

/// This crate's error as the checker's.
fn as_check_error(op: &'static str, e: crate::Error) -> tessera_autograd::Error {
    tessera_autograd::Error::InvalidArgument { op, msg: e.to_string() }
}

/// `lstm_sequence` over 1 to 3 steps from a random state: every input (projection, initial
/// state, recurrent weight) is checked, through each step's hidden state and the last cell state.
fn lstm_sequence_check(d: &mut Draw) -> tessera_autograd::Result<Problem> {
    let (steps, batch, hidden) = (d.int(1, 3), d.int(1, 3), d.int(1, 3));
    let inputs = vec![
        d.input(&[steps, batch, 4 * hidden], &Domain::ANY),
        d.input(&[batch, hidden], &Domain::ANY),
        d.input(&[batch, hidden], &Domain::ANY),
        d.input(&[4 * hidden, hidden], &Domain::ANY),
    ];
    Ok(Problem::new(inputs, |v| {
        lstm_sequence(&v[0], &v[1], &v[2], &v[3]).map_err(|e| as_check_error("lstm_sequence", e))
    }))
}

/// `gru_sequence` over 1 to 3 steps from a random state: the projection, the initial state, the
/// recurrent weight and bias, through every step's hidden state.
fn gru_sequence_check(d: &mut Draw) -> tessera_autograd::Result<Problem> {
    let (steps, batch, hidden) = (d.int(1, 3), d.int(1, 3), d.int(1, 3));
    let inputs = vec![
        d.input(&[steps, batch, 3 * hidden], &Domain::ANY),
        d.input(&[batch, hidden], &Domain::ANY),
        d.input(&[3 * hidden, hidden], &Domain::ANY),
        d.input(&[3 * hidden], &Domain::ANY),
    ];
    Ok(Problem::new(inputs, |v| {
        gru_sequence(&v[0], &v[1], &v[2], &v[3]).map_err(|e| as_check_error("gru_sequence", e))
    }))
}

/// Fused cross-entropy with every option: label smoothing, an ignored class, each reduction.
fn cross_entropy_check(d: &mut Draw) -> tessera_autograd::Result<Problem> {
    let (batch, classes) = (d.int(1, 4), d.int(1, 5));
    let targets: Vec<i64> = (0..batch).map(|_| d.int(0, classes - 1) as i64).collect();
    let ignore_index = if d.coin() { Some(targets[0]) } else { None };
    let cfg = CrossEntropy {
        ignore_index,
        label_smoothing: d.pick(&[0.0, 0.1, 0.3]),
        reduction: d.pick(&[Reduction::Mean, Reduction::Sum, Reduction::None]),
    };
    let targets = Var::constant(Tensor::from_vec(targets, [batch], &d.device())?);
    let logits = d.input(&[batch, classes], &Domain::Range(-3.0, 3.0));
    Ok(Problem::new(vec![logits], move |v| {
        cross_entropy(&v[0], &targets, &cfg).map_err(|e| as_check_error("cross_entropy", e))
    }))
}

/// The checks of this crate's hand-written rules, named as the ops they record.
pub fn checks() -> Vec<OpCheck> {
    vec![
        OpCheck::new("lstm_sequence", lstm_sequence_check),
        OpCheck::new("gru_sequence", gru_sequence_check),
        OpCheck::new("cross_entropy", cross_entropy_check),
    ]
}
