//! Tessera: one dependency for the whole framework.
//!
//! Re-exports the workspace crates under short names (`tensor`, `autograd`, `nn`, `train`, `text`,
//! `core`); the `tessera` binary in this crate is the command-line program.
//!
//! ```
//! let gpt2 = tessera::text::ByteLevelBpe::gpt2();
//! assert_eq!(gpt2.encode("Hello"), [15496]);
//! ```

pub use tessera_autograd as autograd;
pub use tessera_core as core;
pub use tessera_nn as nn;
pub use tessera_tensor as tensor;
pub use tessera_text as text;
pub use tessera_train as train;
