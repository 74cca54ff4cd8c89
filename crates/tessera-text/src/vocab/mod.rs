//! Vocabularies (token <-> id with special tokens) and the character- and word-level tokenizers.

mod char_level;
mod word_level;

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::hash::FastMap;
use crate::io::{read_text, write_atomic};

pub use char_level::CharTokenizer;
pub use word_level::WordTokenizer;

/// Padding token.
pub const PAD: &str = "<pad>";
/// Unknown token.
pub const UNK: &str = "<unk>";
/// Beginning of sequence.
pub const BOS: &str = "<bos>";
/// End of sequence.
pub const EOS: &str = "<eos>";

/// A vocabulary: tokens in id order; the special tokens `<pad> <unk> <bos> <eos>` take ids 0..4.
///
/// ```
/// use tessera_text::{Vocab, VocabBuilder};
/// let mut b = VocabBuilder::new();
/// b.add_tokens(["a", "b", "a"]);
/// let vocab = b.min_freq(1).build();
/// assert_eq!(vocab.id("a"), Some(4));
/// assert_eq!(vocab.id_or_unk("zzz"), vocab.unk_id());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vocab {
    tokens: Vec<String>,
    ids: FastMap<String, u32>,
}

#[derive(Serialize, Deserialize)]
struct VocabFile {
    kind: String,
    tokens: Vec<String>,
}

impl Vocab {
    /// A vocabulary with the four special tokens followed by `tokens` (duplicates and empty
    /// strings are skipped, so that the saved vocabulary loads again).
    pub fn from_tokens(tokens: impl IntoIterator<Item = String>) -> Self {
        let mut v = Self { tokens: Vec::new(), ids: FastMap::default() };
        for t in [PAD, UNK, BOS, EOS].into_iter().map(str::to_string).chain(tokens) {
            if !t.is_empty() && !v.ids.contains_key(&t) {
                v.push(t);
            }
        }
        v
    }

    fn push(&mut self, token: String) {
        self.ids.insert(token.clone(), self.tokens.len() as u32);
        self.tokens.push(token);
    }

    /// Number of tokens, special tokens included.
    pub fn len(&self) -> usize {
        self.tokens.len()
    }

    /// Whether the vocabulary has no tokens (never true: special tokens are always present).
    pub fn is_empty(&self) -> bool {
        self.tokens.is_empty()
    }

    /// Id of `token`.
    pub fn id(&self, token: &str) -> Option<u32> {
        self.ids.get(token).copied()
    }

    /// Id of `token`, or the `<unk>` id.
    pub fn id_or_unk(&self, token: &str) -> u32 {
        self.id(token).unwrap_or(self.unk_id())
    }

    /// Token of `id`.
    pub fn token(&self, id: u32) -> Option<&str> {
        self.tokens.get(id as usize).map(String::as_str)
    }

    /// Token of `id`, or an error naming the id.
    pub fn token_checked(&self, id: u32) -> Result<&str> {
        self.token(id).ok_or(Error::UnknownId { id, vocab_size: self.len() })
    }

    /// All tokens in id order.
    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }

    /// Id of `<pad>` (0).
    pub fn pad_id(&self) -> u32 {
        0
    }

    /// Id of `<unk>` (1).
    pub fn unk_id(&self) -> u32 {
        1
    }

    /// Id of `<bos>` (2).
    pub fn bos_id(&self) -> u32 {
        2
    }

    /// Id of `<eos>` (3).
    pub fn eos_id(&self) -> u32 {
        3
    }

    /// The vocabulary as JSON (`{"kind": ..., "tokens": [...]}`).
    pub fn to_json(&self, kind: &str) -> String {
        let file = VocabFile { kind: kind.to_string(), tokens: self.tokens.clone() };
        serde_json::to_string_pretty(&file).unwrap_or_default()
    }

    /// Saves as JSON, atomically; `kind` records which tokenizer it belongs to.
    pub fn save(&self, path: impl AsRef<Path>, kind: &str) -> Result<()> {
        write_atomic(path, self.to_json(kind).as_bytes())
    }

    /// Loads a vocabulary saved by [`Vocab::save`], returning it with its kind.
    pub fn load(path: impl AsRef<Path>) -> Result<(Self, String)> {
        let path = path.as_ref();
        Self::from_json(&read_text(path)?, &path.display().to_string())
    }

    /// Parses a vocabulary JSON document (`{"kind": ..., "tokens": [...]}`, the tokens in id
    /// order), returning it with its kind; `source` names it in errors.
    ///
    /// Invalid JSON (nesting deeper than 128 levels included), other first tokens than
    /// `<pad> <unk> <bos> <eos>`, an empty token and a token given twice are errors; the last two
    /// name the token's id.
    ///
    /// ```
    /// let text = r#"{"kind": "word", "tokens": ["<pad>", "<unk>", "<bos>", "<eos>", "a", "b", "a"]}"#;
    /// let err = tessera_text::Vocab::from_json(text, "v.json").unwrap_err();
    /// assert_eq!(err.to_string(), "malformed file `v.json`: token 6 (`a`) repeats token 4");
    /// ```
    pub fn from_json(text: &str, source: &str) -> Result<(Self, String)> {
        let file: VocabFile =
            serde_json::from_str(text).map_err(|e| Error::malformed(source, format!("not a vocabulary file: {e}")))?;
        let specials = [PAD, UNK, BOS, EOS];
        if file.tokens.len() < 4 || file.tokens[..4] != specials {
            return Err(Error::malformed(source, "the first four tokens must be <pad> <unk> <bos> <eos>"));
        }
        let mut vocab = Self { tokens: Vec::with_capacity(file.tokens.len()), ids: FastMap::default() };
        for (id, token) in file.tokens.into_iter().enumerate() {
            if token.is_empty() {
                return Err(Error::malformed(source, format!("token {id} is empty")));
            }
            if let Some(first) = vocab.id(&token) {
                return Err(Error::malformed(source, format!("token {id} (`{token}`) repeats token {first}")));
            }
            vocab.push(token);
        }
        Ok((vocab, file.kind))
    }

    /// [`Vocab::load`] for a file that must hold a vocabulary of `kind` (`char` or `word`).
    pub fn load_of_kind(path: impl AsRef<Path>, kind: &str) -> Result<Self> {
        let path = path.as_ref();
        Self::from_json_of_kind(&read_text(path)?, &path.display().to_string(), kind)
    }

    /// [`Vocab::from_json`] for a document that must be of `kind` (`char` or `word`).
    pub fn from_json_of_kind(text: &str, source: &str, kind: &str) -> Result<Self> {
        let (vocab, found) = Self::from_json(text, source)?;
        if found != kind {
            return Err(Error::malformed(source, format!("a `{found}` vocabulary, not a `{kind}` one")));
        }
        Ok(vocab)
    }
}

/// Counts tokens and builds a [`Vocab`] from the most frequent ones.
#[derive(Debug, Clone)]
pub struct VocabBuilder {
    counts: FastMap<String, u64>,
    min_freq: u64,
    max_size: Option<usize>,
}

impl Default for VocabBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl VocabBuilder {
    /// An empty builder (minimum frequency 1, no size limit).
    pub fn new() -> Self {
        Self { counts: FastMap::default(), min_freq: 1, max_size: None }
    }

    /// Tokens seen fewer times are left out.
    pub fn min_freq(mut self, min_freq: u64) -> Self {
        self.min_freq = min_freq;
        self
    }

    /// At most this many tokens in all, special tokens included.
    pub fn max_size(mut self, max_size: usize) -> Self {
        self.max_size = Some(max_size);
        self
    }

    /// Counts one token.
    pub fn add(&mut self, token: &str) {
        match self.counts.get_mut(token) {
            Some(c) => *c += 1,
            None => {
                self.counts.insert(token.to_string(), 1);
            }
        }
    }

    /// Counts many tokens.
    pub fn add_tokens<'a>(&mut self, tokens: impl IntoIterator<Item = &'a str>) {
        for t in tokens {
            self.add(t);
        }
    }

    /// The vocabulary: specials, then tokens by falling count (ties in text order of the token).
    pub fn build(&self) -> Vocab {
        let mut entries: Vec<(&String, u64)> =
            self.counts.iter().filter(|(_, c)| **c >= self.min_freq).map(|(t, c)| (t, *c)).collect();
        entries.sort_unstable_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        let room = self.max_size.map_or(usize::MAX, |m| m.saturating_sub(4));
        Vocab::from_tokens(entries.into_iter().take(room).map(|(t, _)| t.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn min_freq_and_max_size_limit_the_vocab() {
        let mut b = VocabBuilder::new();
        b.add_tokens("a a a b b c".split(' '));
        let v = b.clone().min_freq(2).build();
        assert_eq!(&v.tokens()[4..], ["a", "b"]);
        let v = b.max_size(5).build();
        assert_eq!(v.len(), 5);
    }

    #[test]
    fn json_round_trip_and_malformed_file() {
        let v = Vocab::from_tokens(["x".to_string(), "y".to_string()]);
        let (back, kind) = Vocab::from_json(&v.to_json("word"), "v.json").unwrap();
        assert_eq!((back, kind.as_str()), (v, "word"));
        let err = Vocab::from_json("{\"kind\":\"word\",\"tokens\":[\"a\"]}", "v.json").unwrap_err();
        assert!(err.to_string().contains("v.json"));
    }
}
