//! The `Module` trait: what every layer and model implements, and [`ModuleParts`], what a module
//! is made of (written by `#[derive(Module)]`).

mod buffer;
mod parts;

pub use buffer::{Buffer, StateEntry};
pub use parts::{MapFn, ModuleField, ModuleParts, Part};

use crate::Result;
use tessera_autograd::Var;
use tessera_tensor::Device;

/// Named parameters, in a fixed order (the order of registration).
pub type Parameters = Vec<(String, Var)>;

/// A layer or a model: a forward computation with named, trainable parameters.
///
/// Only [`forward`](Module::forward) is required. What the module holds comes from its
/// [`ModuleParts`], usually derived: `#[derive(Module)]` on a struct, then an
/// `impl Module for ..` block with the forward pass. The other methods are built on the parts and
/// can be overridden (a leaf with state of its own, like dropout, overrides `set_training`).
///
/// ```
/// use tessera_autograd::Var;
/// use tessera_nn::{Linear, Module, Result};
/// use tessera_tensor::{DType, Device, Generator, Tensor};
///
/// #[derive(Module)]
/// struct Mlp {
///     hidden: Vec<Linear>,
///     out: Option<Linear>,
///     #[module(skip)]
///     name: String,
/// }
///
/// impl Module for Mlp {
///     fn forward(&self, x: &Var) -> Result<Var> {
///         let mut x = x.clone();
///         for layer in &self.hidden {
///             x = layer.forward(&x)?.relu()?;
///         }
///         match &self.out {
///             Some(out) => out.forward(&x),
///             None => Ok(x),
///         }
///     }
/// }
///
/// let (mut g, cpu) = (Generator::new(0), Device::Cpu);
/// let mlp = Mlp {
///     hidden: vec![Linear::new(&mut g, 4, 8, DType::F32, &cpu)?, Linear::new(&mut g, 8, 8, DType::F32, &cpu)?],
///     out: Some(Linear::new(&mut g, 8, 2, DType::F32, &cpu)?),
///     name: "mlp".into(),
/// };
/// let names: Vec<String> = mlp.parameters().into_iter().map(|(n, _)| n).collect();
/// assert_eq!(names, ["hidden.0.weight", "hidden.0.bias", "hidden.1.weight", "hidden.1.bias", "out.weight", "out.bias"]);
/// let y = mlp.forward(&Var::constant(Tensor::zeros([3, 4], DType::F32, &cpu)?))?;
/// assert_eq!(y.dims(), [3, 2]);
/// # Ok::<(), tessera_nn::Error>(())
/// ```
pub trait Module: ModuleParts + Send + Sync {
    /// Computes the output for `input`.
    fn forward(&self, input: &Var) -> Result<Var>;

    /// A short description for summaries, e.g. `Linear(784 -> 128)`; by default the type's name.
    fn describe(&self) -> String {
        short_type_name(std::any::type_name::<Self>())
    }

    /// Floating-point operations per example for an input of `input_dims` (one example, without
    /// the batch dim), counting a multiply-add as 2.
    fn flops_per_example(&self, _input_dims: &[usize]) -> u64 {
        0
    }

    /// The parameters, named relative to this module (`weight`, `0.bias`,
    /// `encoder.lstm.weight_ih_l0`), as PyTorch's `named_parameters()` names them: this module's
    /// parts in order, a sub-module's parameters prefixed with its name.
    fn parameters(&self) -> Parameters {
        let mut params = Vec::new();
        for (name, part) in self.parts() {
            match part {
                Part::Parameter(p) => params.push((name, p.clone())),
                Part::Module(m) => params.extend(prefixed(&name, m.parameters())),
                Part::Buffer(_) => {}
            }
        }
        params
    }

    /// The buffers (saved, untrained tensors such as batch norm's running statistics), named as
    /// [`parameters`](Module::parameters) are.
    fn buffers(&self) -> Vec<(String, Buffer)> {
        let mut out = Vec::new();
        for (name, part) in self.parts() {
            match part {
                Part::Buffer(b) => out.push((name, b.clone())),
                Part::Module(m) => {
                    out.extend(m.buffers().into_iter().map(|(n, b)| (format!("{name}.{n}"), b)));
                }
                Part::Parameter(_) => {}
            }
        }
        out
    }

    /// Everything saved with the module: each module's parameters and buffers, named as
    /// PyTorch's `state_dict()` names them.
    fn state_entries(&self) -> Vec<(String, StateEntry)> {
        let params = self.parameters().into_iter().map(|(n, p)| (n, StateEntry::Parameter(p)));
        params.chain(self.buffers().into_iter().map(|(n, b)| (n, StateEntry::Buffer(b)))).collect()
    }

    /// The direct sub-modules with their names, for summaries (empty for leaf layers).
    fn children(&self) -> Vec<(String, &dyn Module)> {
        self.parts()
            .into_iter()
            .filter_map(|(name, part)| match part {
                Part::Module(m) => Some((name, m)),
                Part::Parameter(_) | Part::Buffer(_) => None,
            })
            .collect()
    }

    /// Switches between training (dropout active) and evaluation mode; by default it is passed
    /// on to every sub-module.
    fn set_training(&self, training: bool) {
        for (_, child) in self.children() {
            child.set_training(training);
        }
    }

    /// Restarts the random streams of the module's dropout layers from `seed` (each sub-module
    /// from a seed mixed with its position), so that an epoch resumed from a checkpoint draws
    /// the masks an unbroken run draws; by default it is passed on to every sub-module.
    fn reseed(&self, seed: u64) {
        for (i, (_, child)) in self.children().into_iter().enumerate() {
            child.reseed(seed ^ (i as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15));
        }
    }

    /// Makes every dropout mask the module draws part `part` of `parts` parts of one mask over
    /// `parts` times its elements ([`Generator::set_share`](tessera_tensor::Generator::set_share)):
    /// data-parallel training calls it with the process's rank and the number of processes, so
    /// that the processes, each holding its rows of a batch, draw between them the masks one
    /// process draws for the whole batch. `(0, 1)` restores whole masks. By default it is
    /// passed on to every sub-module.
    fn share_dropout(&self, part: usize, parts: usize) -> Result<()> {
        self.children().into_iter().try_for_each(|(_, child)| child.share_dropout(part, parts))
    }

    /// Moves every parameter and buffer to `device`, in place. A parameter already there is kept as it is;
    /// the others are replaced by copies on `device` (without their gradients), so build the
    /// optimizer after the move: it then shares the moved parameters, as with PyTorch's
    /// `model.to(device)` before `optim.Adam(model.parameters())`.
    fn to_device_(&mut self, device: &Device) -> Result<()> {
        self.map_parameters(&mut |_, p| {
            if p.device() == device {
                return Ok(p.clone());
            }
            Ok(Var::new(p.tensor().to_device(device)?, p.requires_grad())?)
        })?;
        for (_, b) in self.buffers() {
            b.set(b.get().to_device(device)?);
        }
        Ok(())
    }

    /// Number of trainable scalars.
    fn parameter_count(&self) -> usize {
        self.parameters().iter().map(|(_, p)| p.tensor().elem_count()).sum()
    }

    /// Forgets every parameter's accumulated gradient.
    fn zero_grad(&self) {
        for (_, p) in self.parameters() {
            p.zero_grad();
        }
    }
}

/// Prefixes every parameter name with `prefix.` (for models that hold layers as fields).
pub fn prefixed(prefix: &str, params: Parameters) -> Parameters {
    params.into_iter().map(|(n, p)| (format!("{prefix}.{n}"), p)).collect()
}

/// `my_crate::model::Net<f32>` as `Net`.
fn short_type_name(full: &str) -> String {
    let base = full.split('<').next().unwrap_or(full);
    base.rsplit("::").next().unwrap_or(base).to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn short_type_names_drop_paths_and_generics() {
        assert_eq!(super::short_type_name("a::b::Net<c::D>"), "Net");
        assert_eq!(super::short_type_name("Net"), "Net");
    }
}
