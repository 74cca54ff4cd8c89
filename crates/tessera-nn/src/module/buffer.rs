//! Buffers: tensors a module keeps and saves that are not trained (batch norm's running
//! statistics), PyTorch's `register_buffer`.

use super::parts::{MapFn, ModuleField, Part};
use crate::Result;
use std::sync::{Arc, RwLock};
use tessera_autograd::Var;
use tessera_tensor::Tensor;

/// A tensor held by a module that is saved with it, moved with it and loaded into it, but never
/// given to an optimizer: it changes only when the module replaces it (batch norm's
/// `running_mean` after a training step). Clones share the tensor, as [`Var`]s do.
///
/// ```
/// use tessera_nn::Buffer;
/// use tessera_tensor::{DType, Device, Tensor};
/// let b = Buffer::new(Tensor::zeros([3], DType::F32, &Device::Cpu)?);
/// b.set(Tensor::ones([3], DType::F32, &Device::Cpu)?);
/// assert_eq!(b.get().to_vec::<f32>()?, [1., 1., 1.]);
/// # Ok::<(), tessera_nn::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Buffer(Arc<RwLock<Tensor>>);

impl Buffer {
    /// A buffer holding `tensor`.
    pub fn new(tensor: Tensor) -> Buffer {
        Buffer(Arc::new(RwLock::new(tensor)))
    }

    /// The tensor it holds now (a shared handle).
    pub fn get(&self) -> Tensor {
        self.0.read().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Replaces the tensor it holds (every clone of the buffer sees the new one).
    pub fn set(&self, tensor: Tensor) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = tensor;
    }
}

impl ModuleField for Buffer {
    fn collect_parts<'a>(&'a self, name: &str, parts: &mut Vec<(String, Part<'a>)>) {
        parts.push((name.to_string(), Part::Buffer(self)));
    }

    /// Buffers are not parameters: mapping parameters leaves them alone.
    fn map_parts(&mut self, _name: &str, _f: &mut MapFn<'_>) -> Result<()> {
        Ok(())
    }
}

/// One named entry of a module's saved state: a parameter or a buffer.
#[derive(Debug, Clone)]
pub enum StateEntry {
    /// A trainable parameter.
    Parameter(Var),
    /// A buffer.
    Buffer(Buffer),
}

impl StateEntry {
    /// The tensor it holds now.
    pub fn tensor(&self) -> Tensor {
        match self {
            StateEntry::Parameter(p) => p.tensor().clone(),
            StateEntry::Buffer(b) => b.get(),
        }
    }

    /// Overwrites its values with `t` (same shape; converted to its dtype and device): a
    /// parameter in place, so that optimizers holding it see the change; a buffer by replacement.
    pub fn load(&self, t: &Tensor) -> Result<()> {
        let current = self.tensor();
        let t = t.to_dtype(current.dtype())?.to_device(current.device())?;
        match self {
            StateEntry::Parameter(p) => p.tensor().assign_(&t)?,
            StateEntry::Buffer(b) => b.set(t.contiguous()?),
        }
        Ok(())
    }
}
