//! Word-level tokenizer: whitespace and punctuation splitting, then a vocabulary lookup.

use super::{Vocab, VocabBuilder};
use std::path::Path;

use crate::bpe::Encoding;
use crate::error::Result;
use crate::io::read_text;
use crate::normalize::Normalizer;
use crate::pretokenize::split_whitespace_punctuation;

/// Splits text into words and punctuation and maps them to ids; unknown words become `<unk>`.
///
/// ```
/// use tessera_text::WordTokenizer;
/// let tok = WordTokenizer::train(["the cat sat.", "the dog sat!"], 1, None);
/// let ids = tok.encode("the cat barked.");
/// assert_eq!(tok.decode(&ids).unwrap(), "the cat <unk> .");
/// ```
#[derive(Debug, Clone)]
pub struct WordTokenizer {
    vocab: Vocab,
    normalizer: Normalizer,
}

impl WordTokenizer {
    /// A tokenizer over an existing vocabulary.
    pub fn new(vocab: Vocab) -> Self {
        Self { vocab, normalizer: Normalizer::new() }
    }

    /// Builds the vocabulary from `texts` with a minimum frequency and optional maximum size.
    pub fn train<'a>(texts: impl IntoIterator<Item = &'a str>, min_freq: u64, max_size: Option<usize>) -> Self {
        let mut builder = VocabBuilder::new().min_freq(min_freq);
        if let Some(m) = max_size {
            builder = builder.max_size(m);
        }
        for text in texts {
            builder.add_tokens(Self::words(text));
        }
        Self::new(builder.build())
    }

    /// Normalises text before splitting (apply the same normaliser when training).
    pub fn with_normalizer(mut self, normalizer: Normalizer) -> Self {
        self.normalizer = normalizer;
        self
    }

    /// Saves the vocabulary (JSON, kind `word`), atomically.
    pub fn save(&self, path: impl AsRef<Path>) -> Result<()> {
        self.vocab.save(path, "word")
    }

    /// Loads a vocabulary saved by [`WordTokenizer::save`].
    pub fn load(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        Self::from_json(&read_text(path)?, &path.display().to_string())
    }

    /// Parses a vocabulary saved by [`WordTokenizer::save`]; `source` names it in errors (those of
    /// [`Vocab::from_json`], and a vocabulary of another kind).
    pub fn from_json(text: &str, source: &str) -> Result<Self> {
        Vocab::from_json_of_kind(text, source, "word").map(Self::new)
    }

    /// The vocabulary.
    pub fn vocab(&self) -> &Vocab {
        &self.vocab
    }

    /// The words of `text` (whitespace and punctuation split).
    pub fn words(text: &str) -> impl Iterator<Item = &str> {
        split_whitespace_punctuation(text).into_iter().map(move |(s, e)| &text[s..e])
    }

    /// Token strings of `text` (after normalisation).
    pub fn tokenize(&self, text: &str) -> Vec<String> {
        let text = self.normalizer.normalize(text);
        Self::words(&text).map(str::to_string).collect()
    }

    /// Ids of `text`.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let text = self.normalizer.normalize(text);
        Self::words(&text).map(|w| self.vocab.id_or_unk(w)).collect()
    }

    /// Ids of `text` with the byte span of each word in the original (un-normalised) text.
    ///
    /// ```
    /// use tessera_text::{Normalizer, WordTokenizer};
    /// let tok = WordTokenizer::train(["cafe ole"], 1, None)
    ///     .with_normalizer(Normalizer::new().strip_accents().lowercase());
    /// let enc = tok.encode_with_offsets("Café, OLÉ");
    /// assert_eq!(enc.offsets, [(0, 5), (5, 6), (7, 11)]);
    /// ```
    pub fn encode_with_offsets(&self, text: &str) -> Encoding {
        let normalized = self.normalizer.normalize_aligned(text);
        let norm = normalized.text();
        let mut enc = Encoding::default();
        for (s, e) in split_whitespace_punctuation(norm) {
            enc.ids.push(self.vocab.id_or_unk(&norm[s..e]));
            enc.offsets.push(normalized.source_span(s, e));
        }
        enc
    }

    /// Words of `ids` joined with single spaces.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        let words: Result<Vec<&str>> = ids.iter().map(|id| self.vocab.token_checked(*id)).collect();
        Ok(words?.join(" "))
    }
}
