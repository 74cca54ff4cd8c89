//! One interface over the tokenizers, for code that takes any of them.

use crate::bpe::{ByteLevelBpe, Encoding};
use crate::error::Result;
use crate::vocab::{CharTokenizer, WordTokenizer};

/// Text to ids and back.
///
/// ```
/// use tessera_text::{ByteLevelBpe, CharTokenizer, Tokenizer};
/// fn count(t: &dyn Tokenizer, text: &str) -> usize { t.encode(text).len() }
/// assert_eq!(count(&ByteLevelBpe::gpt2(), "Hello world"), 2);
/// assert_eq!(count(&CharTokenizer::train(["abc"]), "cab"), 3);
/// ```
pub trait Tokenizer {
    /// Ids of `text`.
    fn encode(&self, text: &str) -> Vec<u32>;
    /// Ids of `text` with the byte span in `text` of each token.
    fn encode_with_offsets(&self, text: &str) -> Encoding;
    /// Text of `ids`; ids outside the vocabulary are an error.
    fn decode(&self, ids: &[u32]) -> Result<String>;
    /// Number of ids the tokenizer can produce.
    fn vocab_size(&self) -> usize;
}

impl Tokenizer for ByteLevelBpe {
    fn encode(&self, text: &str) -> Vec<u32> {
        ByteLevelBpe::encode(self, text)
    }
    fn encode_with_offsets(&self, text: &str) -> Encoding {
        ByteLevelBpe::encode_with_offsets(self, text)
    }
    fn decode(&self, ids: &[u32]) -> Result<String> {
        ByteLevelBpe::decode(self, ids)
    }
    fn vocab_size(&self) -> usize {
        ByteLevelBpe::vocab_size(self)
    }
}

impl Tokenizer for CharTokenizer {
    fn encode(&self, text: &str) -> Vec<u32> {
        CharTokenizer::encode(self, text)
    }
    fn encode_with_offsets(&self, text: &str) -> Encoding {
        CharTokenizer::encode_with_offsets(self, text)
    }
    fn decode(&self, ids: &[u32]) -> Result<String> {
        CharTokenizer::decode(self, ids)
    }
    fn vocab_size(&self) -> usize {
        self.vocab().len()
    }
}

impl Tokenizer for WordTokenizer {
    fn encode(&self, text: &str) -> Vec<u32> {
        WordTokenizer::encode(self, text)
    }
    fn encode_with_offsets(&self, text: &str) -> Encoding {
        WordTokenizer::encode_with_offsets(self, text)
    }
    fn decode(&self, ids: &[u32]) -> Result<String> {
        WordTokenizer::decode(self, ids)
    }
    fn vocab_size(&self) -> usize {
        self.vocab().len()
    }
}
