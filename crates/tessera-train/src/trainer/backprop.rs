//! [`Backprop`]: how a training step's backward runs, handed to [`Task::forward_backward`].
//!
//! [`Task::forward_backward`]: super::Task::forward_backward

use super::reducer::Reducer;
use crate::{Error, Result};
use std::cell::Cell;
use tessera_autograd::Var;

/// How a training step's backward runs: it scales the loss (for f16 training, see
/// [`LossScaling`](crate::optim::LossScaling)) and, in data-parallel training, starts averaging
/// each bucket of gradients over the processes as soon as backward has finished it, so that
/// communication overlaps the rest of backward.
///
/// A step calls [`Backprop::backward`] once, last; a task that accumulates gradients over
/// micro-batches runs the others through [`Backprop::accumulate`], which communicates nothing
/// (PyTorch's `no_sync`).
///
/// ```
/// use tessera_autograd::Var;
/// use tessera_tensor::{Device, Tensor};
/// use tessera_train::Backprop;
/// let w = Var::param(Tensor::from_vec(vec![3f32], [1], &Device::Cpu)?)?;
/// let bp = Backprop::local(1.0);
/// bp.accumulate(&w.square()?.sum_all()?)?;
/// bp.backward(&w.square()?.sum_all()?, 1.0)?;
/// assert_eq!(w.grad().unwrap().to_vec::<f32>()?, vec![12.0]);
/// assert!(bp.backward(&w.square()?.sum_all()?, 1.0).is_err(), "once per step");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct Backprop<'a> {
    loss_scale: f64,
    reducer: Option<&'a Reducer<'a>>,
    done: Cell<bool>,
}

impl<'a> Backprop<'a> {
    /// The backward of a step in one process, with the loss multiplied by `loss_scale`.
    pub fn local(loss_scale: f64) -> Backprop<'static> {
        Backprop { loss_scale, reducer: None, done: Cell::new(false) }
    }

    pub(crate) fn distributed(loss_scale: f64, reducer: &'a Reducer<'a>) -> Backprop<'a> {
        Backprop { loss_scale, reducer: Some(reducer), done: Cell::new(false) }
    }

    /// What the loss is multiplied by before backward (1 unless f16 training scales it).
    pub fn loss_scale(&self) -> f64 {
        self.loss_scale
    }

    /// The step's last backward: adds the gradients of `loss` (a scalar) times the loss scale to
    /// the parameters'. Data-parallel, every parameter's gradient (this backward's and what
    /// [`Backprop::accumulate`] added before it) is then averaged over the processes, each
    /// process counting for its step's `weight` ([`Step::weight`](super::Step::weight):
    /// examples, tokens). Once per step: a second call is an error.
    pub fn backward(&self, loss: &Var, weight: f64) -> Result<()> {
        if self.done.replace(true) {
            return Err(Error::Config(
                "Backprop::backward ran twice in one step: run the micro-batches before the last through Backprop::accumulate"
                    .into(),
            ));
        }
        let loss = self.scaled(loss)?;
        match self.reducer {
            None => loss.backward()?,
            Some(reducer) => {
                reducer.set_weight(weight);
                loss.backward_hooked(None, false, &mut |id| reducer.ready(id))?;
            }
        }
        Ok(())
    }

    /// A backward whose gradients (of `loss` times the loss scale) are only added to the
    /// parameters': for the micro-batches before a step's last one. It communicates nothing.
    pub fn accumulate(&self, loss: &Var) -> Result<()> {
        Ok(self.scaled(loss)?.backward()?)
    }

    fn scaled(&self, loss: &Var) -> Result<Var> {
        Ok(if self.loss_scale == 1.0 { loss.clone() } else { loss.scale(self.loss_scale)? })
    }
}
