//! Reverse-mode backward: topological order, running rules, accumulating gradients.

use crate::graph::{BackwardCtx, GradSlot};
use crate::{Error, Result, Var};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};
use tessera_tensor::Tensor;

/// Numbers backward passes, so that nodes can be marked visited without a set.
static PASS: AtomicU64 = AtomicU64::new(1);

impl Var {
    /// Computes the gradient of this one-element value with respect to every leaf that requires
    /// grad and adds it to their [`grad`](Var::grad). Frees the graph afterwards.
    pub fn backward(&self) -> Result<()> {
        self.backward_with(None, false)
    }

    /// Backward with an explicit output gradient `grad` (needed when this value has more than one
    /// element; it must have this value's shape), keeping the graph for another backward when
    /// `keep_graph` is true.
    ///
    /// A kept graph holds the values its rules need (matmul's operands, exp's output...): a
    /// parameter updated in place between two backward calls through it changes the second one.
    ///
    /// Gradients accumulate across calls until [`zero_grad`](Var::zero_grad):
    /// ```
    /// use tessera_autograd::Var;
    /// use tessera_tensor::{Device, Tensor};
    /// let x = Var::param(Tensor::from_vec(vec![3f64], [1], &Device::Cpu)?)?;
    /// let y = x.square()?.sum_all()?;
    /// y.backward_with(None, true)?;
    /// y.backward()?; // the graph was kept; this one frees it
    /// assert_eq!(x.grad().unwrap().to_vec::<f64>()?, vec![12.0]);
    /// assert!(y.backward().is_err()); // freed
    /// # Ok::<(), tessera_autograd::Error>(())
    /// ```
    pub fn backward_with(&self, grad: Option<&Tensor>, keep_graph: bool) -> Result<()> {
        if !self.requires_grad() {
            return Err(Error::NoGradRequired);
        }
        let seed = match grad {
            Some(g) if g.shape() != self.shape() => {
                return Err(Error::GradShapeMismatch {
                    op: "backward",
                    expected: self.shape().clone(),
                    got: g.shape().clone(),
                })
            }
            Some(g) => g.to_dtype(self.dtype())?,
            None if self.elem_count() != 1 => return Err(Error::NonScalarOutput { shape: self.shape().clone() }),
            None => self.tensor().ones_like()?,
        };
        if self.is_leaf() {
            return accumulate(&self.slot, seed, "backward");
        }
        let order = topological_order(&self.slot)?;
        *self.grad_slot() = Some(seed);
        let result = run_rules(&order, keep_graph);
        if result.is_err() {
            // Leave no half-summed gradients in the intermediate nodes.
            for slot in &order {
                *slot.grad_slot() = None;
            }
        }
        result
    }
}

/// The recorded ops reachable from `root` through values that require grad, each after every op
/// that uses its output (reverse post-order of a depth-first search). Fails, before any gradient
/// is touched, on a node without a rule or whose graph was freed.
fn topological_order(root: &Arc<GradSlot>) -> Result<Vec<Arc<GradSlot>>> {
    let pass = PASS.fetch_add(1, Ordering::Relaxed);
    let mut post_order = Vec::new();
    let mut stack = vec![(root.clone(), false)];
    while let Some((var, expanded)) = stack.pop() {
        if expanded {
            post_order.push(var);
            continue;
        }
        let children = unvisited_inputs(&var, pass)?;
        if let Some(children) = children {
            stack.push((var, true));
            stack.extend(children.into_iter().map(|v| (v, false)));
        }
    }
    post_order.reverse();
    Ok(post_order)
}

/// Marks `slot`'s node visited in `pass` and returns its inputs still to visit, or `None` when it
/// was visited already.
fn unvisited_inputs(slot: &GradSlot, pass: u64) -> Result<Option<Vec<Arc<GradSlot>>>> {
    let node = slot.node.as_ref().expect("only recorded ops are pushed");
    if node.visited.swap(pass, Ordering::Relaxed) == pass {
        return Ok(None);
    }
    let state = node.state.lock().unwrap_or_else(PoisonError::into_inner);
    let Some(state) = state.as_ref() else { return Err(Error::GraphFreed { op: node.op }) };
    if state.rule.is_none() {
        return Err(Error::NoBackwardRule { op: node.op });
    }
    let unvisited = |v: &&Arc<GradSlot>| v.node.as_ref().is_some_and(|n| n.visited.load(Ordering::Relaxed) != pass);
    Ok(Some(state.inputs.iter().filter(|v| v.requires_grad).filter(unvisited).cloned().collect()))
}

fn run_rules(order: &[Arc<GradSlot>], keep_graph: bool) -> Result<()> {
    for slot in order {
        let Some(grad) = slot.grad_slot().take() else { continue };
        let node = slot.node.as_ref().expect("the order holds recorded ops only");
        let mut guard = node.state.lock().unwrap_or_else(PoisonError::into_inner);
        let state = guard.as_ref().ok_or(Error::GraphFreed { op: node.op })?;
        let rule = state.rule.as_ref().ok_or(Error::NoBackwardRule { op: node.op })?;
        let grads = rule(&BackwardCtx { grad: &grad, inputs: &state.inputs })?;
        for (input, g) in state.inputs.iter().zip(grads) {
            if let (true, Some(g)) = (input.requires_grad, g) {
                accumulate(input, g, node.op)?;
            }
        }
        if !keep_graph {
            *guard = None;
        }
    }
    Ok(())
}

/// Adds `grad` into `slot`: the first gradient is stored as is, without a copy.
fn accumulate(slot: &GradSlot, grad: Tensor, op: &'static str) -> Result<()> {
    if grad.shape() != &slot.shape {
        return Err(Error::GradShapeMismatch { op, expected: slot.shape.clone(), got: grad.shape().clone() });
    }
    let grad = if grad.dtype() == slot.dtype { grad } else { grad.to_dtype(slot.dtype)? };
    let mut current = slot.grad_slot();
    *current = Some(match current.take() {
        None => grad,
        Some(previous) => previous.add(&grad)?,
    });
    Ok(())
}
