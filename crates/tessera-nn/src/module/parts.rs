//! What a module is made of: its parameters and sub-modules, by name. `#[derive(Module)]` writes
//! [`ModuleParts`] from a struct's fields through [`ModuleField`]; layers whose names do not
//! follow their fields (LSTM's `weight_ih_l0`, `Sequential`'s `0`) write it by hand.

use super::Module;
use crate::Result;
use tessera_autograd::Var;

/// One thing a module holds directly.
pub enum Part<'a> {
    /// A trainable tensor.
    Parameter(&'a Var),
    /// A sub-module (its own parts are named below it).
    Module(&'a dyn Module),
    /// A saved tensor that is not trained (see [`Buffer`](super::Buffer)).
    Buffer(&'a super::Buffer),
}

/// A function that replaces a parameter, given its dotted name relative to the module it is
/// applied to: what [`ModuleParts::map_parameters`] calls (moves between devices, casts).
pub type MapFn<'a> = dyn FnMut(&str, &Var) -> Result<Var> + 'a;

/// The parameters and sub-modules a module holds, by name: the half of a module that
/// `#[derive(Module)]` writes, on which [`Module`]'s provided methods are built.
///
/// The derive names each part after its field (`fc1`), the elements of a `Vec` field by index
/// below it (`layers.0`), an `Option` field only when it is `Some`, and leaves out the fields
/// marked `#[module(skip)]`. A leaf layer without parameters implements it with no items
/// (`impl ModuleParts for Dropout {}`).
pub trait ModuleParts {
    /// The parameters and sub-modules held directly, in field order.
    fn parts(&self) -> Vec<(String, Part<'_>)> {
        Vec::new()
    }

    /// Replaces every parameter, this module's and its sub-modules', by `f(name, parameter)`,
    /// with names dotted from this module (`encoder.weight`).
    fn map_parameters(&mut self, _f: &mut MapFn<'_>) -> Result<()> {
        Ok(())
    }
}

/// What a field of a `#[derive(Module)]` struct can be: a parameter ([`Var`]), a module, a boxed
/// module, or a `Vec` or `Option` of those. Any other field must be marked `#[module(skip)]`:
///
/// ```compile_fail
/// use tessera_autograd::Var;
/// use tessera_nn::{Linear, Module, Result};
///
/// #[derive(Module)]
/// struct Net {
///     fc: Linear,
///     scale: f64, // neither a module nor a parameter, and not skipped
/// }
///
/// impl Module for Net {
///     fn forward(&self, x: &Var) -> Result<Var> {
///         self.fc.forward(x)
///     }
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "the field type `{Self}` is neither a Module nor a Var (nor a Vec or Option of them)",
    note = "mark fields that hold no parameters and no sub-module `#[module(skip)]`"
)]
pub trait ModuleField {
    /// Adds this field's parts to `parts`, named `name` (or below it).
    fn collect_parts<'a>(&'a self, name: &str, parts: &mut Vec<(String, Part<'a>)>);

    /// Replaces this field's parameters by `f(dotted name, parameter)`.
    fn map_parts(&mut self, name: &str, f: &mut MapFn<'_>) -> Result<()>;
}

impl ModuleField for Var {
    fn collect_parts<'a>(&'a self, name: &str, parts: &mut Vec<(String, Part<'a>)>) {
        parts.push((name.to_string(), Part::Parameter(self)));
    }

    fn map_parts(&mut self, name: &str, f: &mut MapFn<'_>) -> Result<()> {
        *self = f(name, self)?;
        Ok(())
    }
}

/// A sub-module's parameters, mapped with names below `name`.
fn map_child(module: &mut dyn Module, name: &str, f: &mut MapFn<'_>) -> Result<()> {
    module.map_parameters(&mut |inner: &str, p: &Var| f(&format!("{name}.{inner}"), p))
}

impl<M: Module> ModuleField for M {
    fn collect_parts<'a>(&'a self, name: &str, parts: &mut Vec<(String, Part<'a>)>) {
        parts.push((name.to_string(), Part::Module(self)));
    }

    fn map_parts(&mut self, name: &str, f: &mut MapFn<'_>) -> Result<()> {
        map_child(self, name, f)
    }
}

impl ModuleField for Box<dyn Module> {
    fn collect_parts<'a>(&'a self, name: &str, parts: &mut Vec<(String, Part<'a>)>) {
        parts.push((name.to_string(), Part::Module(self.as_ref())));
    }

    fn map_parts(&mut self, name: &str, f: &mut MapFn<'_>) -> Result<()> {
        map_child(self.as_mut(), name, f)
    }
}

impl<T: ModuleField> ModuleField for Vec<T> {
    fn collect_parts<'a>(&'a self, name: &str, parts: &mut Vec<(String, Part<'a>)>) {
        for (i, item) in self.iter().enumerate() {
            item.collect_parts(&format!("{name}.{i}"), parts);
        }
    }

    fn map_parts(&mut self, name: &str, f: &mut MapFn<'_>) -> Result<()> {
        for (i, item) in self.iter_mut().enumerate() {
            item.map_parts(&format!("{name}.{i}"), f)?;
        }
        Ok(())
    }
}

impl<T: ModuleField> ModuleField for Option<T> {
    fn collect_parts<'a>(&'a self, name: &str, parts: &mut Vec<(String, Part<'a>)>) {
        if let Some(item) = self {
            item.collect_parts(name, parts);
        }
    }

    fn map_parts(&mut self, name: &str, f: &mut MapFn<'_>) -> Result<()> {
        match self {
            Some(item) => item.map_parts(name, f),
            None => Ok(()),
        }
    }
}
