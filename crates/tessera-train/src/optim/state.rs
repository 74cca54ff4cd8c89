//! The optimizer's per-parameter state: what it starts from (zeros, and an f32 master copy for a
//! half-precision parameter), what a step updates, and saving and restoring it.

use super::Optimizer;
use crate::{Error, Result};
use tessera_tensor::{DType, Tensor};

impl Optimizer {
    /// The optimizer state as named tensors (`<param>.state<k>`) plus the step count, for
    /// checkpoints. Groups and penalties are settings, not state: the code that builds the
    /// optimizer sets them again.
    pub fn state_dict(&self) -> (Vec<(String, Tensor)>, u64) {
        let tensors = self
            .params
            .iter()
            .zip(&self.state)
            .flat_map(|((n, _), s)| s.iter().enumerate().map(move |(k, t)| (format!("{n}.state{k}"), t.clone())))
            .collect();
        (tensors, self.steps)
    }

    /// Restores state saved by [`Optimizer::state_dict`] (in place).
    pub fn load_state_dict(&mut self, tensors: &[(String, Tensor)], steps: u64) -> Result<()> {
        let by_name: std::collections::HashMap<&str, &Tensor> = tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
        let expected: usize = self.state.iter().map(Vec::len).sum();
        if tensors.len() != expected {
            return Err(Error::Config(format!(
                "optimizer state holds {} tensors, this optimizer has {expected}",
                tensors.len()
            )));
        }
        for ((n, _), s) in self.params.iter().zip(&self.state) {
            for (k, t) in s.iter().enumerate() {
                let name = format!("{n}.state{k}");
                let src = by_name
                    .get(name.as_str())
                    .ok_or_else(|| Error::Config(format!("optimizer state '{name}' is missing")))?;
                t.assign_(&src.to_dtype(t.dtype())?)?;
            }
        }
        self.steps = steps;
        Ok(())
    }
}

/// Whether `dtype` keeps an f32 master copy in the optimizer.
fn has_master(dtype: DType) -> bool {
    matches!(dtype, DType::F16 | DType::BF16)
}

/// The zeroed state of a parameter for an update with `n` state tensors: in the parameter's
/// dtype, or f32 plus an f32 master copy for a half-precision parameter.
pub(super) fn fresh_state(param: &Tensor, n: usize) -> Result<Vec<Tensor>> {
    if !has_master(param.dtype()) {
        return Ok((0..n).map(|_| param.zeros_like()).collect::<std::result::Result<_, _>>()?);
    }
    let master = param.to_dtype(DType::F32)?;
    let mut state = (0..n).map(|_| master.zeros_like()).collect::<std::result::Result<Vec<_>, _>>()?;
    state.push(master);
    Ok(state)
}

/// What a step updates for a parameter with `state`: the master copy of a half-precision
/// parameter, or the parameter itself.
pub(super) fn updated<'a>(param: &'a Tensor, state: &'a [Tensor]) -> &'a Tensor {
    match state.last() {
        Some(master) if has_master(param.dtype()) => master,
        _ => param,
    }
}
