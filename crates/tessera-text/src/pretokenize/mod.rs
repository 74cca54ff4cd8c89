//! Pre-tokenization: cutting text into spans before a tokenizer model sees it.
//!
//! Every splitter returns byte spans `(start, end)` into the input, so offsets map back to the
//! original text.

mod basic;
mod gpt2;

pub use basic::{split_cjk, split_whitespace, split_whitespace_punctuation, BasicSplit};
pub use gpt2::{gpt2_split, Gpt2Splitter};

/// A byte span `start..end` into a string.
pub type Span = (usize, usize);
