//! `Var`: a tensor plus, when gradients are tracked, its node in the graph.

use crate::graph::{BackwardCtx, BackwardRule, GradSlot, InputGrads, Node};
use crate::slice_grad::Slice;
use crate::{is_grad_enabled, Error, Result};
use std::fmt;
use std::sync::{Arc, MutexGuard};
use tessera_tensor::{DType, Device, Shape, Tensor};

/// A tensor that records the ops applied to it so that [`Var::backward`] can compute gradients.
///
/// Cloning is cheap (a reference count). A *leaf* is made by [`Var::param`] (or [`Var::new`]
/// with `requires_grad`); ops on Vars that require grad return Vars that require grad and
/// remember their inputs and a backward rule. The graph is freed by `backward` (unless it is asked
/// to keep it) and when the last `Var` that reaches it is dropped.
///
/// ```
/// use tessera_autograd::Var;
/// use tessera_tensor::{Device, Tensor};
/// let dev = Device::Cpu;
/// let x = Var::constant(Tensor::from_vec(vec![1f32, 2., 3., 4.], [2, 2], &dev)?);
/// let w = Var::param(Tensor::from_vec(vec![0.5f32, -1., 2., 0.], [2, 2], &dev)?)?;
/// let b = Var::param(Tensor::from_vec(vec![0.1f32, 0.2], [2], &dev)?)?;
/// let loss = x.matmul(&w)?.add(&b)?.relu()?.sum_all()?;
/// loss.backward()?;
/// assert_eq!(b.grad().unwrap().to_vec::<f32>()?, vec![2., 0.]);
/// # Ok::<(), tessera_autograd::Error>(())
/// ```
#[derive(Clone)]
pub struct Var {
    tensor: Tensor,
    pub(crate) slot: Arc<GradSlot>,
}

impl Var {
    fn from_parts(tensor: Tensor, requires_grad: bool, node: Option<Node>) -> Var {
        let slot = Arc::new(GradSlot::new(&tensor, requires_grad, node));
        Var { tensor, slot }
    }

    /// A leaf; with `requires_grad` its gradient is accumulated by `backward` (float dtypes only).
    pub fn new(tensor: Tensor, requires_grad: bool) -> Result<Var> {
        if requires_grad && !tensor.dtype().is_float() {
            return Err(Error::NonFloatGrad { op: "Var::new", dtype: tensor.dtype() });
        }
        Ok(Var::from_parts(tensor, requires_grad, None))
    }

    /// A leaf that requires grad: a trainable parameter.
    pub fn param(tensor: Tensor) -> Result<Var> {
        Var::new(tensor, true)
    }

    /// A value that never requires grad (inputs, targets, masks, indices).
    pub fn constant(tensor: Tensor) -> Var {
        Var::from_parts(tensor, false, None)
    }

    /// Records the output of an op named `op` computed from `inputs`. The result requires grad
    /// when some input does, recording is enabled (not in a [`no_grad`](crate::no_grad) scope)
    /// and the output is of a float dtype; otherwise it is a constant and `rule` is dropped.
    ///
    /// The rule must capture the tensors it needs (inputs, output) itself; the graph keeps only
    /// the inputs' places in it, so values no rule needs are freed as soon as possible.
    ///
    /// With `rule: None` the op is recorded as having no backward rule: a `backward` that reaches
    /// it fails with [`Error::NoBackwardRule`] naming `op`, never a silent zero. This is how to add
    /// a custom op from outside the crate.
    pub fn from_op(op: &'static str, output: Tensor, inputs: &[&Var], rule: Option<BackwardRule>) -> Var {
        if !Var::tracks(inputs, &output) {
            return Var::constant(output);
        }
        let inputs = inputs.iter().map(|v| v.slot.clone()).collect();
        Var::from_parts(output, true, Some(Node::new(op, inputs, rule)))
    }

    /// Whether an op on `inputs` giving `output` is recorded.
    #[inline]
    pub(crate) fn tracks(inputs: &[&Var], output: &Tensor) -> bool {
        inputs.iter().any(|v| v.slot.requires_grad) && output.dtype().is_float() && is_grad_enabled()
    }

    /// [`Var::from_op`] with a rule given as a closure, boxed only when the op is recorded.
    #[inline]
    pub(crate) fn record<F>(op: &'static str, output: Tensor, inputs: &[&Var], rule: F) -> Var
    where
        F: Fn(&BackwardCtx<'_>) -> Result<InputGrads> + Send + Sync + 'static,
    {
        if !Var::tracks(inputs, &output) {
            return Var::constant(output);
        }
        let inputs = inputs.iter().map(|v| v.slot.clone()).collect();
        Var::from_parts(output, true, Some(Node::new(op, inputs, Some(Box::new(rule)))))
    }

    /// Records a view that is `slice` of its one input. Its rule pads the gradient with zeros to
    /// the input's shape; backward skips it where it can keep the gradient as a piece of the
    /// input's (`slice_grad`).
    pub(crate) fn record_slice(op: &'static str, output: Tensor, input: &Var, slice: Slice) -> Var {
        if !Var::tracks(&[input], &output) {
            return Var::constant(output);
        }
        let rule: BackwardRule = Box::new(move |c| Ok(vec![Some(slice.place(c.input_shape(0), c.grad)?)]));
        let node = Node { slice: Some(slice), ..Node::new(op, vec![input.slot.clone()], Some(rule)) };
        Var::from_parts(output, true, Some(node))
    }

    /// The value.
    pub fn tensor(&self) -> &Tensor {
        &self.tensor
    }

    /// Whether gradients flow to this value.
    pub fn requires_grad(&self) -> bool {
        self.slot.requires_grad
    }

    /// Whether this is a leaf (a parameter or constant), not the output of a recorded op.
    pub fn is_leaf(&self) -> bool {
        self.slot.node.is_none()
    }

    /// The name of the op that produced this value, for a recorded op's output.
    pub fn op_name(&self) -> Option<&'static str> {
        self.slot.node.as_ref().map(|n| n.op)
    }

    /// The gradient accumulated by `backward` calls so far (leaves only; `None` before any).
    ///
    /// Gradients are stored without copies, so one tensor may be the gradient of several leaves
    /// (both operands of an `add`) or a broadcast view: read it, or pass it to an optimizer,
    /// but never update it in place (`assign_`); use [`Var::zero_grad`] to reset.
    pub fn grad(&self) -> Option<Tensor> {
        if self.is_leaf() {
            self.grad_slot().clone()
        } else {
            None
        }
    }

    /// Replaces the accumulated gradient of this leaf, e.g. with its mean over the processes
    /// of a data-parallel run. `grad` must have the value's shape; a recorded op's output has no
    /// gradient to replace (an error).
    pub fn set_grad(&self, grad: Tensor) -> Result<()> {
        if !self.is_leaf() {
            let msg = format!("`{}`'s output is not a leaf", self.op_name().unwrap_or("?"));
            return Err(Error::InvalidArgument { op: "set_grad", msg });
        }
        if grad.shape() != self.tensor.shape() {
            return Err(Error::GradShapeMismatch {
                op: "set_grad",
                expected: self.tensor.shape().clone(),
                got: grad.shape().clone(),
            });
        }
        *self.grad_slot() = Some(grad);
        Ok(())
    }

    /// Forgets the accumulated gradient.
    pub fn zero_grad(&self) {
        *self.grad_slot() = None;
    }

    /// The same value, cut from the graph: a constant sharing the tensor.
    pub fn detach(&self) -> Var {
        Var::constant(self.tensor.clone())
    }

    pub(crate) fn grad_slot(&self) -> MutexGuard<'_, Option<Tensor>> {
        self.slot.grad_slot()
    }

    /// The shape.
    pub fn shape(&self) -> &Shape {
        self.tensor.shape()
    }

    /// The dims of the shape.
    pub fn dims(&self) -> &[usize] {
        self.tensor.dims()
    }

    /// Number of dims.
    pub fn rank(&self) -> usize {
        self.tensor.rank()
    }

    /// Number of elements.
    pub fn elem_count(&self) -> usize {
        self.tensor.elem_count()
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.tensor.dtype()
    }

    /// The device.
    pub fn device(&self) -> &Device {
        self.tensor.device()
    }

    /// The elements in row-major order, as `T`, which must be the dtype.
    pub fn to_vec<T: tessera_tensor::Element>(&self) -> Result<Vec<T>> {
        Ok(self.tensor.to_vec()?)
    }

    /// The elements in row-major order, converted to `f64`.
    pub fn to_vec_f64(&self) -> Result<Vec<f64>> {
        Ok(self.tensor.to_vec_f64()?)
    }

    /// The value of a one-element Var, converted to `f64`.
    pub fn to_scalar_f64(&self) -> Result<f64> {
        Ok(self.tensor.to_scalar_f64()?)
    }
}

impl From<Tensor> for Var {
    /// A constant.
    fn from(t: Tensor) -> Var {
        Var::constant(t)
    }
}

impl fmt::Debug for Var {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Var")
            .field("shape", self.shape())
            .field("dtype", &self.dtype())
            .field("requires_grad", &self.requires_grad())
            .field("op", &self.op_name())
            .finish()
    }
}
