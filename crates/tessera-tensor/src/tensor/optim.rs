//! Fused, in-place optimizer updates of parameter tensors.

use super::Tensor;
use crate::{Result, Storage};
use tessera_core::Error;
use tessera_kernels::ops::OptimStep;
use tessera_kernels::plan::OptimPlan;

impl Tensor {
    /// Whether this tensor covers its whole storage in order (so it may be updated in place).
    fn owns_storage_densely(&self) -> bool {
        self.is_contiguous() && self.layout().offset() == 0 && self.storage().len() == self.elem_count()
    }

    /// Updates this parameter in place with one optimizer step (see [`OptimStep`]), reading
    /// `grad` and updating the `state` tensors (zeros of the parameter's shape before the first
    /// step). One pass over the data, however many elementwise operations the formula has.
    ///
    /// The parameter and the state tensors must each be dense (not views of a larger storage)
    /// and distinct; every view of the parameter's storage sees the new values.
    pub fn optim_step_(&self, step: &OptimStep, grad: &Tensor, state: &[&Tensor]) -> Result<()> {
        let op = step.name();
        for t in std::iter::once(grad).chain(state.iter().copied()) {
            if t.shape() != self.shape() {
                return Err(Error::ShapeMismatch { op, lhs: self.shape().clone(), rhs: t.shape().clone() }.into());
            }
        }
        let owners: Vec<&Tensor> = std::iter::once(self).chain(state.iter().copied()).collect();
        for (i, t) in owners.iter().enumerate() {
            if !t.owns_storage_densely() {
                return Err(Error::InvalidArgument {
                    op,
                    msg: "parameters and optimizer state must be dense tensors, not views".into(),
                }
                .into());
            }
            if owners[..i].iter().any(|o| o.same_storage(t)) || t.same_storage(grad) {
                return Err(Error::InvalidArgument {
                    op,
                    msg: "parameter, gradient and state must not share storage".into(),
                }
                .into());
            }
        }
        let grad = grad.contiguous()?;
        let grad_storage = grad.storage();
        let plan = OptimPlan::new(
            *step,
            (self.dtype(), self.elem_count()),
            (grad.dtype(), grad.elem_count()),
            &state.iter().map(|t| (t.dtype(), t.elem_count())).collect::<Vec<_>>(),
        )?;
        let mut param = self.0.storage.write().unwrap_or_else(|e| e.into_inner());
        let mut guards: Vec<_> = state.iter().map(|t| t.0.storage.write().unwrap_or_else(|e| e.into_inner())).collect();
        let mut bufs: Vec<&mut Storage> = guards.iter_mut().map(|g| &mut **g).collect();
        param.optim_step_(&plan, &grad_storage, &mut bufs)?;
        Ok(())
    }
}

impl Tensor {
    /// Overwrites this tensor's values with `src`'s (same shape and dtype), in place: every view
    /// of the storage sees them. This is how a loaded state dict reaches existing parameters.
    pub fn assign_(&self, src: &Tensor) -> Result<()> {
        if src.device() != self.device() {
            return Err(crate::Error::DeviceMismatch { op: "assign", lhs: *self.device(), rhs: *src.device() });
        }
        if src.shape() != self.shape() {
            return Err(
                Error::ShapeMismatch { op: "assign", lhs: self.shape().clone(), rhs: src.shape().clone() }.into()
            );
        }
        if src.dtype() != self.dtype() {
            return Err(Error::DTypeMismatch { op: "assign", lhs: self.dtype(), rhs: src.dtype() }.into());
        }
        if !self.owns_storage_densely() {
            return Err(Error::InvalidArgument {
                op: "assign",
                msg: "the destination must be a dense tensor, not a view".into(),
            }
            .into());
        }
        // Copy out first: `src` may share this tensor's storage.
        let values = src.copy()?;
        let values = values.storage();
        let mut dst = self.0.storage.write().unwrap_or_else(|e| e.into_inner());
        *dst = values.clone();
        Ok(())
    }
}
