//! Reverse-mode backward: topological order, running rules, accumulating gradients.

use crate::graph::{BackwardCtx, GradSlot};
use crate::slice_grad::{accumulate_piece, take_grad};
use crate::{Error, Result, Var};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};
use tessera_tensor::Tensor;

/// Which value a gradient belongs to: equal for a [`Var`] and its clones, distinct for values
/// alive at the same time (see [`Var::id`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct VarId(usize);

impl Var {
    /// This value's identity, shared by its clones: what [`Var::backward_hooked`] names a leaf
    /// by. Two values alive at the same time never share one.
    pub fn id(&self) -> VarId {
        VarId(Arc::as_ptr(&self.slot) as usize)
    }
}

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
        self.run_backward(grad, keep_graph, None)
    }

    /// [`backward_with`](Var::backward_with) that calls `on_final` with a leaf's [`Var::id`] as
    /// soon as this pass has added its last contribution to that leaf's gradient, while the
    /// rest of the graph is still being differentiated. Data-parallel training starts averaging
    /// a bucket of gradients over the processes from it (PyTorch's DDP does it from its
    /// autograd hooks), so communication overlaps the rest of backward. Leaves the pass does not
    /// reach are not named.
    ///
    /// ```
    /// use tessera_autograd::Var;
    /// use tessera_tensor::{Device, Tensor};
    /// let dev = Device::Cpu;
    /// let w1 = Var::param(Tensor::from_vec(vec![2f32], [1], &dev)?)?;
    /// let w2 = Var::param(Tensor::from_vec(vec![3f32], [1], &dev)?)?;
    /// let loss = w1.mul(&w1)?.mul(&w2)?.sum_all()?; // w2 is final before w1
    /// let mut order = Vec::new();
    /// loss.backward_hooked(None, false, &mut |id| order.push(id))?;
    /// assert_eq!(order, vec![w2.id(), w1.id()]);
    /// # Ok::<(), tessera_autograd::Error>(())
    /// ```
    pub fn backward_hooked(
        &self,
        grad: Option<&Tensor>,
        keep_graph: bool,
        on_final: &mut dyn FnMut(VarId),
    ) -> Result<()> {
        self.run_backward(grad, keep_graph, Some(on_final))
    }

    fn run_backward(
        &self,
        grad: Option<&Tensor>,
        keep_graph: bool,
        on_final: Option<&mut dyn FnMut(VarId)>,
    ) -> Result<()> {
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
            accumulate(&self.slot, seed, "backward")?;
            if let Some(f) = on_final {
                f(self.id());
            }
            return Ok(());
        }
        let order = topological_order(&self.slot)?;
        *self.grad_slot() = Some(seed);
        let result = run_rules(&order, keep_graph, on_final.map(|f| (Pending::count(&order), f)));
        if result.is_err() {
            // Leave no half-summed gradients in the intermediate nodes.
            for slot in &order {
                slot.clear_grad();
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

fn run_rules(
    order: &[Arc<GradSlot>],
    keep_graph: bool,
    mut on_final: Option<(Pending, &mut dyn FnMut(VarId))>,
) -> Result<()> {
    let mut finals = Vec::new();
    for slot in order {
        let node = slot.node.as_ref().expect("the order holds recorded ops only");
        let mut guard = node.state.lock().unwrap_or_else(PoisonError::into_inner);
        let state = guard.as_ref().ok_or(Error::GraphFreed { op: node.op })?;
        if let Some(grad) = take_grad(slot)? {
            match (node.slice, state.inputs.first()) {
                // A slice of an op's output: its gradient waits as a piece of the output's.
                (Some(slice), Some(input)) if input.node.is_some() => accumulate_piece(input, slice, grad, node.op)?,
                _ => {
                    let rule = state.rule.as_ref().ok_or(Error::NoBackwardRule { op: node.op })?;
                    let grads = rule(&BackwardCtx { grad: &grad, inputs: &state.inputs })?;
                    for (input, g) in state.inputs.iter().zip(grads) {
                        if let (true, Some(g)) = (input.requires_grad, g) {
                            accumulate(input, g, node.op)?;
                        }
                    }
                }
            }
        }
        if let Some((pending, _)) = &mut on_final {
            pending.passed(&state.inputs, &mut finals);
        }
        if !keep_graph {
            *guard = None;
        }
        drop(guard);
        if let Some((_, f)) = &mut on_final {
            finals.drain(..).for_each(&mut **f);
        }
    }
    Ok(())
}

/// How many recorded ops of a pass have still to add to each leaf's gradient.
struct Pending(HashMap<VarId, usize>);

impl Pending {
    fn count(order: &[Arc<GradSlot>]) -> Pending {
        let mut left = HashMap::new();
        for slot in order {
            let node = slot.node.as_ref().expect("the order holds recorded ops only");
            if let Some(state) = node.state.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
                for leaf in state.inputs.iter().filter(|i| i.requires_grad && i.node.is_none()) {
                    *left.entry(VarId(Arc::as_ptr(leaf) as usize)).or_insert(0) += 1;
                }
            }
        }
        Pending(left)
    }

    /// An op whose inputs are `inputs` has run (or had no gradient to pass on): pushes onto
    /// `finals` the leaves it was the last op to add to.
    fn passed(&mut self, inputs: &[Arc<GradSlot>], finals: &mut Vec<VarId>) {
        for leaf in inputs.iter().filter(|i| i.requires_grad && i.node.is_none()) {
            let id = VarId(Arc::as_ptr(leaf) as usize);
            if let Some(left) = self.0.get_mut(&id) {
                *left -= 1;
                if *left == 0 {
                    finals.push(id);
                }
            }
        }
    }
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
