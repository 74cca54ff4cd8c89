//! Tessera: one dependency for the whole framework.
//!
//! Re-exports the workspace crates under short names (`tensor`, `autograd`, `nn`, `train`, `text`,
//! `embed`, `core`); the `tessera` binary in this crate is the command-line program.
//!
//! ```
//! let gpt2 = tessera::text::ByteLevelBpe::gpt2();
//! assert_eq!(gpt2.encode("Hello"), [15496]);
//! ```
//!
//! A model derives `Module` (`tessera::nn::Module` is both the trait and the derive; in a crate
//! that depends on `tessera` only, the derive names `tessera::nn` by itself) and writes its
//! `forward`:
//!
//! ```
//! use tessera::autograd::Var;
//! use tessera::nn::{Linear, Module, Result};
//! use tessera::tensor::{DType, Device, Generator};
//!
//! #[derive(Module)]
//! struct Classifier {
//!     hidden: Linear,
//!     out: Linear,
//! }
//!
//! impl Module for Classifier {
//!     fn forward(&self, x: &Var) -> Result<Var> {
//!         self.out.forward(&self.hidden.forward(x)?.relu()?)
//!     }
//! }
//!
//! let (mut g, cpu) = (Generator::new(0), Device::Cpu);
//! let model = Classifier {
//!     hidden: Linear::new(&mut g, 784, 128, DType::F32, &cpu)?,
//!     out: Linear::new(&mut g, 128, 10, DType::F32, &cpu)?,
//! };
//! assert_eq!(model.parameters()[2].0, "out.weight");
//! # Ok::<(), tessera::nn::Error>(())
//! ```

pub use tessera_autograd as autograd;
pub use tessera_core as core;
pub use tessera_embed as embed;
pub use tessera_nn as nn;
pub use tessera_tensor as tensor;
pub use tessera_text as text;
pub use tessera_train as train;
