//! Plans of the GRU recurrence over a whole sequence, forward and backward.

use super::lstm::{expect_dims, float_operands, sequence_dims};
use super::Arg;
use crate::Result;
use tessera_core::{DType, Layout};

const SEQUENCE: &str = "gru_sequence";
const SEQUENCE_BACKWARD: &str = "gru_sequence_backward";

/// A checked GRU recurrence over a whole sequence: the input projection of every step `proj`
/// (`[steps, batch, 3 * hidden]`, `W_i x + b_i` in PyTorch's gate order reset, update, new), the
/// initial state `h0` (`[batch, hidden]`), the recurrent weight `w_hh` (`[3 * hidden, hidden]`)
/// and its bias `b_hh` (`[3 * hidden]`), one float dtype, at least one step.
#[derive(Debug, Clone, PartialEq)]
pub struct GruSequencePlan {
    /// Time steps.
    pub steps: usize,
    /// Rows.
    pub batch: usize,
    /// Hidden units.
    pub hidden: usize,
    /// The dtype of every operand and output.
    pub dtype: DType,
    /// Views of `proj`, `h0`, `w_hh`, `b_hh`, in that order.
    pub inputs: [Layout; 4],
}

impl GruSequencePlan {
    /// Checks the forward's operands, in the order `proj, h0, w_hh, b_hh`.
    pub fn new(args: [Arg<'_>; 4]) -> Result<Self> {
        let dtype = float_operands(SEQUENCE, &args)?;
        let (steps, batch, hidden) = sequence_dims(SEQUENCE, "proj", args[0].layout.shape(), 3)?;
        let expected: [(&str, &[usize]); 3] =
            [("h0", &[batch, hidden]), ("w_hh", &[3 * hidden, hidden]), ("b_hh", &[3 * hidden])];
        for ((name, want), a) in expected.into_iter().zip(&args[1..]) {
            expect_dims(SEQUENCE, name, a.layout.shape(), want)?;
        }
        Ok(GruSequencePlan { steps, batch, hidden, dtype, inputs: args.map(|a| a.layout.clone()) })
    }

    /// `(steps, batch, hidden)`.
    pub fn dims(&self) -> (usize, usize, usize) {
        (self.steps, self.batch, self.hidden)
    }
}

/// A checked backward of [`GruSequencePlan`]'s recurrence: the forward's outputs `out`
/// (`[steps, batch, hidden]`) and `acts` (`[steps, batch, 4 * hidden]`: each step's reset and
/// update gates, candidate state and the candidate's recurrent term `W_hn h + b_hn`), its inputs
/// `h0` and `w_hh`, and the gradient of `out`.
#[derive(Debug, Clone, PartialEq)]
pub struct GruSequenceBackwardPlan {
    /// Time steps.
    pub steps: usize,
    /// Rows.
    pub batch: usize,
    /// Hidden units.
    pub hidden: usize,
    /// The dtype of every operand and output.
    pub dtype: DType,
    /// Views of `out`, `acts`, `h0`, `w_hh`, `grad`, in that order.
    pub inputs: [Layout; 5],
    /// Whether to compute `h0`'s gradient (true from [`GruSequenceBackwardPlan::new`]): a
    /// product as large as one step's, skipped when the initial state is a constant.
    pub initial_hidden_grad: bool,
}

impl GruSequenceBackwardPlan {
    /// Checks the backward's operands, in the order `out, acts, h0, w_hh, grad`.
    pub fn new(args: [Arg<'_>; 5]) -> Result<Self> {
        let dtype = float_operands(SEQUENCE_BACKWARD, &args)?;
        let (steps, batch, hidden) = sequence_dims(SEQUENCE_BACKWARD, "acts", args[1].layout.shape(), 4)?;
        let expected: [(&str, &[usize]); 4] = [
            ("out", &[steps, batch, hidden]),
            ("h0", &[batch, hidden]),
            ("w_hh", &[3 * hidden, hidden]),
            ("grad", &[steps, batch, hidden]),
        ];
        for ((name, want), a) in expected.into_iter().zip([0, 2, 3, 4].map(|i| &args[i])) {
            expect_dims(SEQUENCE_BACKWARD, name, a.layout.shape(), want)?;
        }
        let inputs = args.map(|a| a.layout.clone());
        Ok(GruSequenceBackwardPlan { steps, batch, hidden, dtype, inputs, initial_hidden_grad: true })
    }

    /// `(steps, batch, hidden)`.
    pub fn dims(&self) -> (usize, usize, usize) {
        (self.steps, self.batch, self.hidden)
    }
}
