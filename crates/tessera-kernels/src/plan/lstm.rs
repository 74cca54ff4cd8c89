//! Plans of the fused LSTM cell, forward and backward.

use super::{require_float, require_same_dtype, Arg};
use crate::Result;
use tessera_core::{DType, Error, Layout, Shape};

const FORWARD: &str = "lstm_cell";
const BACKWARD: &str = "lstm_cell_backward";

/// `(batch, hidden)` of gates shaped `[batch, 4 * hidden]`.
fn gate_dims(op: &'static str, name: &str, gates: &Shape) -> Result<(usize, usize)> {
    match *gates.dims() {
        [b, g] if g % 4 == 0 => Ok((b, g / 4)),
        _ => Err(Error::InvalidArgument {
            op,
            msg: format!("{name} has shape {gates}, expected [batch, 4 * hidden] (gate order i, f, g, o)"),
        }
        .into()),
    }
}

fn expect_state(op: &'static str, name: &str, got: &Shape, gates_name: &str, gates: &Shape) -> Result<()> {
    let (b, h) = gate_dims(op, gates_name, gates)?;
    if got.dims() != [b, h] {
        return Err(Error::InvalidArgument {
            op,
            msg: format!("{name} has shape {got}, expected [{b}, {h}] for {gates_name} of shape {gates}"),
        }
        .into());
    }
    Ok(())
}

pub(super) fn float_operands(op: &'static str, args: &[Arg<'_>]) -> Result<DType> {
    require_float(op, args[0].dtype)?;
    require_same_dtype(op, &args.iter().map(|a| a.dtype).collect::<Vec<_>>())?;
    Ok(args[0].dtype)
}

/// A checked fused LSTM cell forward: gate pre-activations `x_gates` and `h_gates`
/// (`[batch, 4 * hidden]`, PyTorch's gate order i, f, g, o) and `c_prev` (`[batch, hidden]`),
/// one float dtype.
#[derive(Debug, Clone, PartialEq)]
pub struct LstmCellPlan {
    /// Rows.
    pub batch: usize,
    /// Hidden units.
    pub hidden: usize,
    /// The dtype of every operand and output.
    pub dtype: DType,
    /// The input pre-activations' view.
    pub x_gates: Layout,
    /// The recurrent pre-activations' view.
    pub h_gates: Layout,
    /// The previous cell state's view.
    pub c_prev: Layout,
}

impl LstmCellPlan {
    /// Checks the forward's operands.
    pub fn new(x_gates: Arg<'_>, h_gates: Arg<'_>, c_prev: Arg<'_>) -> Result<Self> {
        let dtype = float_operands(FORWARD, &[x_gates, h_gates, c_prev])?;
        let (batch, hidden) = gate_dims(FORWARD, "x_gates", x_gates.layout.shape())?;
        if h_gates.layout.shape() != x_gates.layout.shape() {
            let (lhs, rhs) = (x_gates.layout.shape().clone(), h_gates.layout.shape().clone());
            return Err(Error::ShapeMismatch { op: FORWARD, lhs, rhs }.into());
        }
        expect_state(FORWARD, "c_prev", c_prev.layout.shape(), "x_gates", x_gates.layout.shape())?;
        Ok(LstmCellPlan {
            batch,
            hidden,
            dtype,
            x_gates: x_gates.layout.clone(),
            h_gates: h_gates.layout.clone(),
            c_prev: c_prev.layout.clone(),
        })
    }
}

/// A checked fused LSTM cell backward: the forward's activated gates `acts`
/// (`[batch, 4 * hidden]`), the states `c_prev` and `c`, and the incoming gradients `dh` and `dc`
/// (each `[batch, hidden]`), one float dtype.
#[derive(Debug, Clone, PartialEq)]
pub struct LstmCellBackwardPlan {
    /// Rows.
    pub batch: usize,
    /// Hidden units.
    pub hidden: usize,
    /// The dtype of every operand and output.
    pub dtype: DType,
    /// Views of `acts`, `c_prev`, `c`, `dh`, `dc`, in that order.
    pub inputs: [Layout; 5],
}

impl LstmCellBackwardPlan {
    /// Checks the backward's operands, in the order `acts, c_prev, c, dh, dc`.
    pub fn new(args: [Arg<'_>; 5]) -> Result<Self> {
        let dtype = float_operands(BACKWARD, &args)?;
        let acts = args[0].layout.shape();
        let (batch, hidden) = gate_dims(BACKWARD, "acts", acts)?;
        for (name, a) in ["c_prev", "c", "dh", "dc"].into_iter().zip(&args[1..]) {
            expect_state(BACKWARD, name, a.layout.shape(), "acts", acts)?;
        }
        Ok(LstmCellBackwardPlan { batch, hidden, dtype, inputs: args.map(|a| a.layout.clone()) })
    }
}

const SEQUENCE: &str = "lstm_sequence";
const SEQUENCE_BACKWARD: &str = "lstm_sequence_backward";

pub(super) fn expect_dims(op: &'static str, name: &str, got: &Shape, want: &[usize]) -> Result<()> {
    if got.dims() != want {
        let want = Shape::new(want.to_vec());
        return Err(Error::InvalidArgument { op, msg: format!("{name} has shape {got}, expected {want}") }.into());
    }
    Ok(())
}

/// `(steps, batch, hidden)` of a sequence of gates shaped `[steps, batch, count * hidden]`, at
/// least one step.
pub(super) fn sequence_dims(
    op: &'static str,
    name: &str,
    gates: &Shape,
    count: usize,
) -> Result<(usize, usize, usize)> {
    match *gates.dims() {
        [s, b, g] if g % count == 0 && s > 0 => Ok((s, b, g / count)),
        _ => {
            let msg =
                format!("{name} has shape {gates}, expected [steps, batch, {count} * hidden] with at least one step");
            Err(Error::InvalidArgument { op, msg }.into())
        }
    }
}

/// A checked LSTM recurrence over a whole sequence: the input projection of every step `proj`
/// (`[steps, batch, 4 * hidden]`, both biases included, gate order i, f, g, o), the initial
/// states `h0` and `c0` (`[batch, hidden]`) and the recurrent weight `w_hh`
/// (`[4 * hidden, hidden]`), one float dtype, at least one step.
#[derive(Debug, Clone, PartialEq)]
pub struct LstmSequencePlan {
    /// Time steps.
    pub steps: usize,
    /// Rows.
    pub batch: usize,
    /// Hidden units.
    pub hidden: usize,
    /// The dtype of every operand and output.
    pub dtype: DType,
    /// Views of `proj`, `h0`, `c0`, `w_hh`, in that order.
    pub inputs: [Layout; 4],
}

impl LstmSequencePlan {
    /// Checks the forward's operands, in the order `proj, h0, c0, w_hh`.
    pub fn new(args: [Arg<'_>; 4]) -> Result<Self> {
        let dtype = float_operands(SEQUENCE, &args)?;
        let (steps, batch, hidden) = sequence_dims(SEQUENCE, "proj", args[0].layout.shape(), 4)?;
        for (name, a) in ["h0", "c0"].into_iter().zip(&args[1..3]) {
            expect_dims(SEQUENCE, name, a.layout.shape(), &[batch, hidden])?;
        }
        expect_dims(SEQUENCE, "w_hh", args[3].layout.shape(), &[4 * hidden, hidden])?;
        Ok(LstmSequencePlan { steps, batch, hidden, dtype, inputs: args.map(|a| a.layout.clone()) })
    }

    /// `(steps, batch, hidden)`.
    pub fn dims(&self) -> (usize, usize, usize) {
        (self.steps, self.batch, self.hidden)
    }
}

/// A checked backward of [`LstmSequencePlan`]'s recurrence: the forward's outputs `out`
/// (`[steps + 1, batch, hidden]`), `cells` (`[steps, batch, hidden]`) and `acts`
/// (`[steps, batch, 4 * hidden]`), its inputs `h0`, `c0` and `w_hh`, and the gradient of `out`.
#[derive(Debug, Clone, PartialEq)]
pub struct LstmSequenceBackwardPlan {
    /// Time steps.
    pub steps: usize,
    /// Rows.
    pub batch: usize,
    /// Hidden units.
    pub hidden: usize,
    /// The dtype of every operand and output.
    pub dtype: DType,
    /// Views of `out`, `cells`, `acts`, `h0`, `c0`, `w_hh`, `grad`, in that order.
    pub inputs: [Layout; 7],
    /// Whether to compute `h0`'s gradient (true from [`LstmSequenceBackwardPlan::new`]): a
    /// product as large as one step's, skipped when the initial state is a constant.
    pub initial_hidden_grad: bool,
}

impl LstmSequenceBackwardPlan {
    /// Checks the backward's operands, in the order `out, cells, acts, h0, c0, w_hh, grad`.
    pub fn new(args: [Arg<'_>; 7]) -> Result<Self> {
        let dtype = float_operands(SEQUENCE_BACKWARD, &args)?;
        let (steps, batch, hidden) = sequence_dims(SEQUENCE_BACKWARD, "acts", args[2].layout.shape(), 4)?;
        let expected: [(&str, &[usize]); 6] = [
            ("out", &[steps + 1, batch, hidden]),
            ("cells", &[steps, batch, hidden]),
            ("h0", &[batch, hidden]),
            ("c0", &[batch, hidden]),
            ("w_hh", &[4 * hidden, hidden]),
            ("grad", &[steps + 1, batch, hidden]),
        ];
        for ((name, want), a) in expected.into_iter().zip([0, 1, 3, 4, 5, 6].map(|i| &args[i])) {
            expect_dims(SEQUENCE_BACKWARD, name, a.layout.shape(), want)?;
        }
        let inputs = args.map(|a| a.layout.clone());
        Ok(LstmSequenceBackwardPlan { steps, batch, hidden, dtype, inputs, initial_hidden_grad: true })
    }

    /// `(steps, batch, hidden)`.
    pub fn dims(&self) -> (usize, usize, usize) {
        (self.steps, self.batch, self.hidden)
    }
}
