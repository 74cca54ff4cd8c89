//! `Embeddings`: words and their vectors, in one contiguous `f32` matrix.

use crate::error::{Error, Result};
use crate::words::WordTable;

/// Words (in file order: most frequent first for word2vec output) and one vector of `dim`
/// values each, stored row-major in one `Vec<f32>`.
///
/// ```
/// use tessera_embed::Embeddings;
/// let mut e = Embeddings::new(2);
/// assert!(e.push("king", &[1.0, 0.5])?);
/// assert!(!e.push("king", &[9.0, 9.0])?); // a duplicate: the first one wins
/// assert_eq!(e.get("king"), Some(&[1.0, 0.5][..]));
/// assert_eq!((e.len(), e.dim()), (1, 2));
/// # Ok::<(), tessera_embed::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct Embeddings {
    words: WordTable,
    dim: usize,
    data: Vec<f32>,
}

impl Embeddings {
    /// No words yet; vectors of `dim` values.
    pub fn new(dim: usize) -> Self {
        Embeddings { words: WordTable::new(), dim, data: Vec::new() }
    }

    /// No words yet, with room for `words` vectors (`word_bytes` bytes of word text in all).
    pub fn with_capacity(dim: usize, words: usize, word_bytes: usize) -> Self {
        Embeddings {
            words: WordTable::with_capacity(words, word_bytes),
            dim,
            data: Vec::with_capacity(words.saturating_mul(dim)),
        }
    }

    /// From words and their vectors (`data.len() == words.len() * dim`); a repeated word is an
    /// error.
    pub fn from_parts(words: impl IntoIterator<Item = impl AsRef<str>>, dim: usize, data: Vec<f32>) -> Result<Self> {
        let mut table = WordTable::new();
        for w in words {
            if table.insert(w.as_ref()).is_err() {
                return Err(Error::Config(format!("the word `{}` is given twice", w.as_ref())));
            }
        }
        if data.len() != table.len() * dim {
            return Err(Error::Config(format!(
                "{} words of dimension {dim} need {} values, got {}",
                table.len(),
                table.len() * dim,
                data.len()
            )));
        }
        Ok(Embeddings { words: table, dim, data })
    }

    /// Adds `word` with `vector`; returns `false` (and keeps the first vector) when the word is
    /// already present. The vector must have `dim` values.
    pub fn push(&mut self, word: &str, vector: &[f32]) -> Result<bool> {
        if vector.len() != self.dim {
            return Err(Error::Config(format!("`{word}` has {} values, the vectors have {}", vector.len(), self.dim)));
        }
        if self.words.insert(word).is_err() {
            return Ok(false);
        }
        self.data.extend_from_slice(vector);
        Ok(true)
    }

    /// Adds `word` whose vector the caller has just appended to the data (readers parse straight
    /// into the matrix); a duplicate's values are removed again. Returns whether it was new.
    pub(crate) fn commit_row(&mut self, word: &str) -> bool {
        debug_assert_eq!(self.data.len(), (self.words.len() + 1) * self.dim);
        if self.words.insert(word).is_err() {
            self.data.truncate(self.words.len() * self.dim);
            return false;
        }
        true
    }

    /// The matrix being filled, for readers (see [`Embeddings::commit_row`]).
    pub(crate) fn data_mut(&mut self) -> &mut Vec<f32> {
        &mut self.data
    }

    /// Number of words.
    pub fn len(&self) -> usize {
        self.words.len()
    }

    /// Whether there are no words.
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Values per vector.
    pub fn dim(&self) -> usize {
        self.dim
    }

    /// The words, in order.
    pub fn words(&self) -> &WordTable {
        &self.words
    }

    /// Word `i` (panics when `i >= len()`).
    pub fn word(&self, i: usize) -> &str {
        self.words.word(i)
    }

    /// The index of `word`, if present.
    pub fn id(&self, word: &str) -> Option<usize> {
        self.words.id(word).map(|i| i as usize)
    }

    /// Vector `i` (panics when `i >= len()`).
    pub fn vector(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }

    /// The vector of `word`, if present.
    pub fn get(&self, word: &str) -> Option<&[f32]> {
        self.id(word).map(|i| self.vector(i))
    }

    /// All vectors, row-major `[len, dim]`.
    pub fn as_slice(&self) -> &[f32] {
        &self.data
    }

    /// Keeps the first `n` words (the most frequent in a word2vec file).
    pub fn truncate(&mut self, n: usize) {
        self.words.truncate(n);
        self.data.truncate(self.words.len() * self.dim);
    }

    /// Releases spare capacity (after reading).
    pub fn shrink_to_fit(&mut self) {
        self.words.shrink_to_fit();
        self.data.shrink_to_fit();
    }
}
