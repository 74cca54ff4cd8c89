//! Tessera: one dependency for the whole framework.
//!
//! Re-exports the workspace crates under short names; the `tessera` binary in this crate is the
//! command-line program.
//!
//! ```
//! let gpt2 = tessera::text::ByteLevelBpe::gpt2();
//! assert_eq!(gpt2.encode("Hello"), [15496]);
//! ```

pub use tessera_text as text;
