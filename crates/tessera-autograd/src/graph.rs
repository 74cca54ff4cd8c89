//! Graph nodes: what an op records so that backward can run its rule.

use crate::{Result, Var};
use std::sync::atomic::AtomicU64;
use std::sync::Mutex;
use tessera_tensor::Tensor;

/// The gradients a backward rule returns, one per input in order: `None` for an input that gets
/// no gradient (it does not require grad, or is not differentiable, like an index).
pub type InputGrads = Vec<Option<Tensor>>;

/// A backward rule: given the gradient of the op's output (and its inputs and output), the
/// gradients of its inputs, each with that input's shape.
pub type BackwardRule = Box<dyn Fn(&BackwardCtx<'_>) -> Result<InputGrads> + Send + Sync>;

/// What a backward rule sees.
pub struct BackwardCtx<'a> {
    /// The gradient of the loss with respect to the op's output.
    pub grad: &'a Tensor,
    /// The op's output.
    pub output: &'a Tensor,
    /// The op's inputs, in the order they were recorded.
    pub inputs: &'a [Var],
}

impl BackwardCtx<'_> {
    /// The tensor of input `i`.
    pub fn input(&self, i: usize) -> &Tensor {
        self.inputs[i].tensor()
    }

    /// Whether input `i` wants a gradient (rules skip the work for those that do not).
    pub fn needs(&self, i: usize) -> bool {
        self.inputs[i].requires_grad()
    }
}

/// The node of an op's output in the graph.
pub(crate) struct Node {
    pub(crate) op: &'static str,
    /// `None` once freed by a backward without `keep_graph` (or by dropping).
    pub(crate) state: Mutex<Option<NodeState>>,
    /// The backward pass that last visited this node (a mark for the topological sort, so that
    /// no set lookup is needed).
    pub(crate) visited: AtomicU64,
}

pub(crate) struct NodeState {
    pub(crate) inputs: Vec<Var>,
    pub(crate) rule: Option<BackwardRule>,
}

impl Node {
    pub(crate) fn new(op: &'static str, inputs: Vec<Var>, rule: Option<BackwardRule>) -> Node {
        Node { op, state: Mutex::new(Some(NodeState { inputs, rule })), visited: AtomicU64::new(0) }
    }

    /// Takes the inputs and rule out, leaving the node freed.
    pub(crate) fn take_state(&mut self) -> Option<NodeState> {
        self.state.get_mut().unwrap_or_else(|e| e.into_inner()).take()
    }
}
