//! `#[derive(Module)]` for Tessera's `tessera-nn`.
//!
//! Use it through `tessera-nn` (or the `tessera` facade), which re-exports it beside the trait of
//! the same name: `use tessera_nn::Module; #[derive(Module)] struct Net { .. }`.
//!
//! The derive implements `tessera_nn::ModuleParts` for a struct: every field is a parameter (a
//! `Var`), a module, or a `Vec` or `Option` of those, named after the field (`fc1`, `layers.0`
//! for the first element of a `Vec`, the index for tuple-struct fields), unless it is marked
//! `#[module(skip)]`. It does not write `forward`: that is the `impl Module for ..` block the
//! user writes, whose provided methods (`parameters`, `set_training`, `children`, `describe`,
//! `to_device_`) are built on the derived parts.
//!
//! Attributes:
//! - `#[module(skip)]` on a field: not a parameter and not a sub-module (configuration, caches).
//! - `#[module(crate = "path")]` on the struct: where `tessera-nn` is. Without it, the generated
//!   code names `::tessera_nn`, or `::tessera::nn` when the deriving crate's `Cargo.toml` depends
//!   on the `tessera` facade and not on `tessera-nn` (a renamed dependency needs the attribute).

mod expand;

use proc_macro::TokenStream;

/// Derives `tessera_nn::ModuleParts` from a struct's fields: see the crate documentation.
#[proc_macro_derive(Module, attributes(module))]
pub fn derive_module(input: TokenStream) -> TokenStream {
    let input = syn::parse_macro_input!(input as syn::DeriveInput);
    expand::module_parts(&input).unwrap_or_else(syn::Error::into_compile_error).into()
}
