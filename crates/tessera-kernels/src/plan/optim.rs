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
        Ok(OptimPlan { step, dtype: param.0, len: param.1 })
    }
}
