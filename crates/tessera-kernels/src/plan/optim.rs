//! Plans of fused optimizer updates.

use super::require_same_dtype;
use crate::ops::OptimStep;
use crate::Result;
use tessera_core::{DType, Error};

/// A checked in-place optimizer step: a parameter, its gradient and the step's state buffers,
/// all contiguous, of one float dtype (f32 or f64) and one length.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OptimPlan {
    /// The update.
    pub step: OptimStep,
    /// The dtype of every buffer.
    pub dtype: DType,
    /// Elements per buffer.
    pub len: usize,
    /// What the gradient is multiplied by as the update reads it (loss unscaling, gradient
    /// clipping), so that no scaled copy of it is made first. 1 unless
    /// [`with_grad_scale`](OptimPlan::with_grad_scale) says otherwise.
    pub grad_scale: f64,
}

impl OptimPlan {
    /// Checks `step` for a parameter and gradient of (dtype, length) `param` and `grad` and the
    /// state buffers `state`.
    pub fn new(step: OptimStep, param: (DType, usize), grad: (DType, usize), state: &[(DType, usize)]) -> Result<Self> {
        let op = step.name();
        if state.len() != step.state_count() {
            let msg = format!("{} state buffers given, {} expected", state.len(), step.state_count());
            return Err(Error::InvalidArgument { op, msg }.into());
        }
        let all: Vec<(DType, usize)> = [param, grad].into_iter().chain(state.iter().copied()).collect();
        require_same_dtype(op, &all.iter().map(|b| b.0).collect::<Vec<_>>())?;
        if let Some(&(_, len)) = all.iter().find(|b| b.1 != param.1) {
            let msg = format!("buffers of {} and {len} elements", param.1);
            return Err(Error::InvalidArgument { op, msg }.into());
        }
        if !matches!(param.0, DType::F32 | DType::F64) {
            let hint = " (optimizers update f32 or f64 parameters)";
            return Err(Error::UnsupportedDType { op, dtype: param.0, hint }.into());
        }
        Ok(OptimPlan { step, dtype: param.0, len: param.1, grad_scale: 1.0 })
    }

    /// The same step reading the gradient multiplied by `grad_scale`.
    pub fn with_grad_scale(self, grad_scale: f64) -> Self {
        OptimPlan { grad_scale, ..self }
    }
}

/// A checked in-place optimizer step of a half-precision parameter kept as an f32 master copy:
/// the master, its gradient and the state buffers are f32, the parameter f16 or bf16, all of one
/// length. The step updates the master from the gradient times the update's `grad_scale` and
/// rounds the new master into the parameter: one pass, one launch on a GPU.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MasterOptimPlan {
    /// The update of the master, with f32 buffers and the gradient's scale.
    pub update: OptimPlan,
    /// The parameter's dtype (f16 or bf16).
    pub half: DType,
}

impl MasterOptimPlan {
    /// Checks `step` for a `master` and its `grad` (dtype, length), the `state` buffers and the
    /// parameter `param` the master is rounded into.
    pub fn new(
        step: OptimStep,
        master: (DType, usize),
        grad: (DType, usize),
        state: &[(DType, usize)],
        param: (DType, usize),
        grad_scale: f64,
    ) -> Result<Self> {
        let op = step.name();
        if !matches!(param.0, DType::F16 | DType::BF16) {
            let hint = " (an f32 master copy is kept for f16 and bf16 parameters)";
            return Err(Error::UnsupportedDType { op, dtype: param.0, hint }.into());
        }
        if master.0 != DType::F32 {
            let hint = " (the master copy of a half-precision parameter is f32)";
            return Err(Error::UnsupportedDType { op, dtype: master.0, hint }.into());
        }
        if param.1 != master.1 {
            let msg = format!("a master of {} elements for a parameter of {}", master.1, param.1);
            return Err(Error::InvalidArgument { op, msg }.into());
        }
        let update = OptimPlan::new(step, master, grad, state)?.with_grad_scale(grad_scale);
        Ok(MasterOptimPlan { update, half: param.0 })
    }
}
