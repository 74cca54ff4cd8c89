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

fn float_operands(op: &'static str, args: &[Arg<'_>]) -> Result<DType> {
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
