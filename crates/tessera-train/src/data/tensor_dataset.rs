//! A dataset held in two tensors.

use super::{Batch, Dataset};
use crate::rng::SplitMix;
use crate::{Error, Result};
use tessera_tensor::{Device, Tensor};

/// Inputs `[n, ...]` and targets `[n, ...]` in memory.
#[derive(Debug, Clone)]
pub struct TensorDataset {
    inputs: Tensor,
    targets: Tensor,
}

impl TensorDataset {
    /// Pairs inputs and targets; both need the same first dim.
    pub fn new(inputs: Tensor, targets: Tensor) -> Result<Self> {
        let (n, m) = (inputs.dims().first().copied(), targets.dims().first().copied());
        if n.is_none() || n != m {
            return Err(Error::Config(format!(
                "inputs {} and targets {} must share their first dim",
                inputs.shape(),
                targets.shape()
            )));
        }
        Ok(TensorDataset { inputs, targets })
    }

    /// The inputs tensor.
    pub fn inputs(&self) -> &Tensor {
        &self.inputs
    }

    /// The targets tensor.
    pub fn targets(&self) -> &Tensor {
        &self.targets
    }

    /// The examples in `range` (a view, no copy).
    pub fn slice(&self, start: usize, len: usize) -> Result<TensorDataset> {
        Ok(TensorDataset { inputs: self.inputs.narrow(0, start, len)?, targets: self.targets.narrow(0, start, len)? })
    }

    /// Splits off the last `fraction` of the examples, after shuffling with `seed`: returns
    /// (train, validation). A fraction of 0 gives an empty validation set.
    pub fn split(&self, fraction: f64, seed: u64) -> Result<(TensorDataset, TensorDataset)> {
        if !(0.0..1.0).contains(&fraction) {
            return Err(Error::Config(format!("validation fraction {fraction} must be in [0, 1)")));
        }
        let n = self.len();
        let mut order: Vec<usize> = (0..n).collect();
        SplitMix::new(seed, u64::MAX).shuffle(&mut order);
        let held = (n as f64 * fraction).round() as usize;
        let (train, val) = order.split_at(n - held);
        let pick = |idx: &[usize]| -> Result<TensorDataset> {
            let b = self.batch(idx)?;
            TensorDataset::new(b.inputs, b.targets)
        };
        Ok((pick(train)?, pick(val)?))
    }
}

impl Dataset for TensorDataset {
    fn len(&self) -> usize {
        self.inputs.dims()[0]
    }

    fn batch(&self, indices: &[usize]) -> Result<Batch> {
        let idx: Vec<u32> = indices.iter().map(|&i| i as u32).collect();
        let idx = Tensor::from_vec(idx, [indices.len()], &Device::Cpu)?.to_device(self.inputs.device())?;
        Ok(Batch { inputs: self.inputs.index_select(0, &idx)?, targets: self.targets.index_select(0, &idx)? })
    }
}
