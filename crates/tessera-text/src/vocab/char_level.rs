//! Character-level tokenizer.

use super::{Vocab, VocabBuilder};
use std::path::Path;

use crate::bpe::Encoding;
use crate::error::Result;
use crate::io::read_text;

/// One token per Unicode scalar value; characters outside the vocabulary become `<unk>`.
///
/// ```
/// use tessera_text::CharTokenizer;
/// let tok = CharTokenizer::train(["hello"]);
/// let ids = tok.encode("hole");
/// assert_eq!(tok.decode(&ids).unwrap(), "hole");
/// ```
#[derive(Debug, Clone)]
pub struct CharTokenizer {
    vocab: Vocab,
}

impl CharTokenizer {
    /// A tokenizer over an existing vocabulary.
    pub fn new(vocab: Vocab) -> Self {
        Self { vocab }
    }

    /// Builds the vocabulary from every character of `texts`, most frequent first.
    pub fn train<'a>(texts: impl IntoIterator<Item = &'a str>) -> Self {
        let mut builder = VocabBuilder::new();
        let mut buf = [0u8; 4];
        for text in texts {
            for c in text.chars() {
                builder.add(c.encode_utf8(&mut buf));
            }
        }
        Self::new(builder.build())
    }

    /// Saves the vocabulary (JSON, kind `char`), atomically.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        self.vocab.save(path, "char")
    }

    /// Loads a vocabulary saved by [`CharTokenizer::save`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        Self::from_json(&read_text(path)?, &path.display().to_string())
    }

    /// Parses a vocabulary saved by [`CharTokenizer::save`]; `source` names it in errors (those of
    /// [`Vocab::from_json`], and a vocabulary of another kind).
    pub fn from_json(text: &str, source: &str) -> Result<Self> {
        Vocab::from_json_of_kind(text, source, "char").map(Self::new)
    }

    /// The vocabulary.
    pub fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    /// Ids of `text`.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut buf = [0u8; 4];
        text.chars().map(|c| self.vocab.id_or_unk(c.encode_utf8(&mut buf))).collect()
    }

    /// Ids of `text` with the byte span of each character.
    pub fn encode_with_offsets(&self, text: &str) -> Encoding {
        let mut buf = [0u8; 4];
        let mut enc = Encoding::default();
        for (i, c) in text.char_indices() {
            enc.ids.push(self.vocab.id_or_unk(c.encode_utf8(&mut buf)));
            enc.offsets.push((i, i + c.len_utf8()));
        }
        enc
    }

    /// The characters of `text` as token strings.
    pub fn tokenize(&self, text: &str) -> Vec<String> {
        text.chars().map(String::from).collect()
    }

    /// Text of `ids` (special tokens are written out as their names).
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        let mut out = String::with_capacity(ids.len());
        for id in ids {
            out.push_str(self.vocab.token_checked(*id)?);
        }
        Ok(out)
    }
}
