//! Byte-level BPE: GPT-2 compatible encoding, decoding, training, and file formats.

mod byte_map;
mod corpus_symbols;
mod files;
mod hf_json;
mod model;
mod specials;
mod tokenizer;
mod train;

pub use model::BpeModel;
pub use tokenizer::{ByteLevelBpe, Encoding};
pub use train::BpeTrainer;
