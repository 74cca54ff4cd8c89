//! `Sequential`: layers applied in order.

use crate::{MapFn, Module, ModuleField, ModuleParts, Part, Result};
use tessera_autograd::Var;

/// Layers applied one after another; parameters are named by position (`0.weight`), as in
/// PyTorch's `nn.Sequential`.
#[derive(Default)]
pub struct Sequential {
    layers: Vec<Box<dyn Module>>,
}

impl Sequential {
    /// An empty stack.
    pub fn new() -> Self {
        Sequential::default()
    }

    /// Appends a layer.
    #[allow(clippy::should_implement_trait)]
    pub fn add(mut self, layer: impl Module + 'static) -> Self {
        self.layers.push(Box::new(layer));
        self
    }

    /// The layers.
    pub fn layers(&self) -> &[Box<dyn Module>] {
        &self.layers
    }
}

/// The layers, named by position (`0`, `1`, ...) rather than below a field name.
impl ModuleParts for Sequential {
    fn parts(&self) -> Vec<(String, Part<'_>)> {
        self.layers.iter().enumerate().map(|(i, l)| (i.to_string(), Part::Module(l.as_ref()))).collect()
    }

    fn map_parameters(&mut self, f: &mut MapFn<'_>) -> Result<()> {
        for (i, layer) in self.layers.iter_mut().enumerate() {
            layer.map_parts(&i.to_string(), f)?;
        }
        Ok(())
    }
}

impl Module for Sequential {
    fn forward(&self, x: &Var) -> Result<Var> {
        let mut x = x.clone();
        for layer in &self.layers {
            x = layer.forward(&x)?;
        }
        Ok(x)
    }

    fn describe(&self) -> String {
        format!("Sequential({} layers)", self.layers.len())
    }
}
