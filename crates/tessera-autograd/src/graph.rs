//! Graph nodes: what an op records so that backward can run its rule.

use crate::slice_grad::{GradPiece, Slice};
use crate::Result;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, MutexGuard};
use tessera_tensor::{DType, Device, Shape, Tensor};

/// The gradients a backward rule returns, one per input in order: `None` for an input that gets
/// no gradient (it does not require grad, or is not differentiable, like an index).
pub type InputGrads = Vec<Option<Tensor>>;

/// A backward rule: given the gradient of the op's output, the gradients of its inputs, each with
/// that input's shape. A rule captures the tensors it needs (inputs, output) itself, so that ops
/// whose gradient needs no values (add, views) keep none alive.
pub type BackwardRule = Box<dyn Fn(&BackwardCtx<'_>) -> Result<InputGrads> + Send + Sync>;

/// What a backward rule sees.
pub struct BackwardCtx<'a> {
    /// The gradient of the loss with respect to the op's output.
    pub grad: &'a Tensor,
    pub(crate) inputs: &'a [Arc<GradSlot>],
}

impl BackwardCtx<'_> {
    /// Whether input `i` wants a gradient (rules skip the work for those that do not).
    pub fn needs(&self, i: usize) -> bool {
        self.inputs[i].requires_grad
    }

    /// The shape of input `i`.
    pub fn input_shape(&self, i: usize) -> &Shape {
        &self.inputs[i].shape
    }

    /// The dtype of input `i`.
    pub fn input_dtype(&self, i: usize) -> DType {
        self.inputs[i].dtype
    }

    /// The device of input `i`.
    pub fn input_device(&self, i: usize) -> &Device {
        &self.inputs[i].device
    }

    /// The number of inputs.
    pub fn num_inputs(&self) -> usize {
        self.inputs.len()
    }
}

/// A value's place in the graph: whether it wants a gradient, the gradient, and (for an op's
/// output) its node. Nodes hold their inputs' slots, not their tensors.
pub(crate) struct GradSlot {
    pub(crate) requires_grad: bool,
    /// A leaf's accumulated gradient; for an op's output, the gradient being summed during a
    /// backward pass (taken when its rule runs).
    pub(crate) grad: Mutex<Option<Tensor>>,
    /// Gradients of slices of an op's output, joined into `grad` when its rule runs
    /// (`slice_grad`).
    pieces: Mutex<Vec<GradPiece>>,
    /// `None` for leaves and constants.
    pub(crate) node: Option<Node>,
    pub(crate) shape: Shape,
    pub(crate) dtype: DType,
    pub(crate) device: Device,
}

impl GradSlot {
    pub(crate) fn new(t: &Tensor, requires_grad: bool, node: Option<Node>) -> GradSlot {
        GradSlot {
            requires_grad,
            grad: Mutex::new(None),
            pieces: Mutex::new(Vec::new()),
            node,
            shape: t.shape().clone(),
            dtype: t.dtype(),
            device: *t.device(),
        }
    }

    pub(crate) fn grad_slot(&self) -> MutexGuard<'_, Option<Tensor>> {
        // A poisoned lock only means a thread panicked while holding it; the slot is intact.
        self.grad.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn pieces(&self) -> MutexGuard<'_, Vec<GradPiece>> {
        self.pieces.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Drops the gradient being summed, pieces included.
    pub(crate) fn clear_grad(&self) {
        *self.grad_slot() = None;
        self.pieces().clear();
    }
}

impl Drop for GradSlot {
    /// Frees the graph behind this value iteratively, so that dropping a long chain (an unrolled
    /// RNN) cannot overflow the stack through nested drops.
    fn drop(&mut self) {
        let Some(state) = self.node.as_mut().and_then(Node::take_state) else { return };
        let mut pending = state.inputs;
        while let Some(slot) = pending.pop() {
            if let Some(mut inner) = Arc::into_inner(slot) {
                if let Some(state) = inner.node.as_mut().and_then(Node::take_state) {
                    pending.extend(state.inputs);
                }
            }
        }
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
    /// For a view that is a slice of its one input: where it lies, so that backward places its
    /// gradient into the input's instead of running the rule (when the input is an op's output).
    pub(crate) slice: Option<Slice>,
}

pub(crate) struct NodeState {
    pub(crate) inputs: Vec<Arc<GradSlot>>,
    pub(crate) rule: Option<BackwardRule>,
}

impl Node {
    pub(crate) fn new(op: &'static str, inputs: Vec<Arc<GradSlot>>, rule: Option<BackwardRule>) -> Node {
        Node { op, state: Mutex::new(Some(NodeState { inputs, rule })), visited: AtomicU64::new(0), slice: None }
    }

    /// Takes the inputs and rule out, leaving the node freed.
    pub(crate) fn take_state(&mut self) -> Option<NodeState> {
        self.state.get_mut().unwrap_or_else(|e| e.into_inner()).take()
    }
}

#[cfg(test)]
mod tests {
    use crate::Var;
    use std::sync::Arc;
    use tessera_tensor::{Device, Tensor};

    fn param() -> Var {
        Var::param(Tensor::from_vec(vec![1f64, 2.0], [2], &Device::Cpu).unwrap()).unwrap()
    }

    #[test]
    fn dropping_the_last_var_frees_the_graph() {
        let x = param();
        let hidden = x.exp().unwrap();
        let weak = Arc::downgrade(&hidden.slot);
        let loss = hidden.sum_all().unwrap();
        drop(hidden);
        assert!(weak.upgrade().is_some(), "the loss's node still reaches it");
        drop(loss);
        assert!(weak.upgrade().is_none());
    }

    #[test]
    fn backward_frees_the_graph_but_keep_graph_does_not() {
        let x = param();
        let hidden = x.exp().unwrap();
        let weak = Arc::downgrade(&hidden.slot);
        let loss = hidden.sum_all().unwrap();
        drop(hidden);
        loss.backward_with(None, true).unwrap();
        assert!(weak.upgrade().is_some());
        loss.backward().unwrap();
        assert!(weak.upgrade().is_none(), "freed although the loss is alive");
        assert!(loss.slot.node.as_ref().unwrap().state.lock().unwrap().is_none());
    }

    #[test]
    fn backward_runs_on_another_thread() {
        let x = param();
        let loss = x.square().unwrap().sum_all().unwrap();
        std::thread::spawn(move || loss.backward().unwrap()).join().unwrap();
        assert_eq!(x.grad().unwrap().to_vec::<f64>().unwrap(), vec![2.0, 4.0]);
    }
}
