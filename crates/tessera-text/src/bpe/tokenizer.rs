//! The byte-level BPE tokenizer: GPT-2 pre-tokenization, a per-word cache, and the BPE model.

use std::sync::Mutex;

use super::model::BpeModel;
use super::specials::SpecialMatches;
use crate::error::{Error, Result};
use crate::hash::FastMap;
use crate::pretokenize::gpt2_split;

/// The cache is cleared when it holds this many words, bounding memory on unbounded input.
const CACHE_LIMIT: usize = 500_000;

/// Ids of an encoded text with the byte span in the original text of each token.
///
/// A token covering part of a multi-byte character (byte-level BPE can split an emoji) has a span
/// that starts or ends inside that character.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Encoding {
    /// Token ids.
    pub ids: Vec<u32>,
    /// Byte span `start..end` of each token in the input.
    pub offsets: Vec<(usize, usize)>,
}

/// A byte-level BPE tokenizer (GPT-2 style).
///
/// ```
/// use tessera_text::ByteLevelBpe;
/// let gpt2 = ByteLevelBpe::gpt2();
/// let ids = gpt2.encode("Hello world");
/// assert_eq!(ids, [15496, 995]);
/// assert_eq!(gpt2.decode(&ids).unwrap(), "Hello world");
/// ```
#[derive(Debug)]
pub struct ByteLevelBpe {
    pub(crate) model: BpeModel,
    /// Special tokens (content, id), matched in the raw text before pre-tokenization.
    pub(crate) special_tokens: Vec<(String, u32)>,
    /// Whether `encode` splits out special tokens found in the text.
    pub(crate) split_special: bool,
    /// Add a space in front of text that does not start with whitespace.
    pub(crate) add_prefix_space: bool,
    cache: Mutex<FastMap<Box<str>, Box<[u32]>>>,
}

impl Clone for ByteLevelBpe {
    fn clone(&self) -> Self {
        Self::from_parts(self.model.clone(), self.special_tokens.clone(), self.split_special, self.add_prefix_space)
    }
}

impl ByteLevelBpe {
    /// A tokenizer around `model` with no special tokens.
    pub fn new(model: BpeModel) -> Self {
        Self::from_parts(model, Vec::new(), false, false)
    }

    pub(crate) fn from_parts(
        model: BpeModel,
        special_tokens: Vec<(String, u32)>,
        split_special: bool,
        add_prefix_space: bool,
    ) -> Self {
        Self { model, special_tokens, split_special, add_prefix_space, cache: Mutex::new(FastMap::default()) }
    }

    /// The underlying model.
    pub fn model(&self) -> &BpeModel {
        &self.model
    }

    /// Vocabulary size, special tokens included.
    pub fn vocab_size(&self) -> usize {
        self.model.vocab_size()
    }

    /// Special tokens as `(content, id)`.
    pub fn special_tokens(&self) -> &[(String, u32)] {
        &self.special_tokens
    }

    /// Sets whether `encode` recognises special tokens written in the text (off for GPT-2, which
    /// like `tiktoken`'s `encode_ordinary` treats `<|endoftext|>` in text as plain text).
    pub fn set_split_special(&mut self, split: bool) {
        self.split_special = split;
    }

    /// Empties the per-word cache (memory, or a cold-start measurement).
    pub fn clear_cache(&self) {
        match self.cache.lock() {
            Ok(mut c) => c.clear(),
            Err(poisoned) => poisoned.into_inner().clear(),
        }
    }

    /// The id of a byte-level token string (or special token).
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.model.token_to_id(token)
    }

    /// The byte-level string of token `id`.
    pub fn id_to_token(&self, id: u32) -> Option<&str> {
        self.model.id_to_token(id)
    }

    /// Encodes text to token ids.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::with_capacity(text.len() / 3 + 1);
        self.encode_into(text, &mut ids, None);
        ids
    }

    /// Encodes text to ids with the byte span of every token.
    ///
    /// ```
    /// let gpt2 = tessera_text::ByteLevelBpe::gpt2();
    /// let enc = gpt2.encode_with_offsets("Hi there");
    /// assert_eq!(enc.offsets, [(0, 2), (2, 8)]);
    /// ```
    pub fn encode_with_offsets(&self, text: &str) -> Encoding {
        let mut enc = Encoding::default();
        self.encode_into(text, &mut enc.ids, Some(&mut enc.offsets));
        enc
    }

    /// The byte-level token strings of `ids` (unknown ids are an error).
    pub fn tokens(&self, ids: &[u32]) -> Result<Vec<String>> {
        ids.iter()
            .map(|id| {
                self.model
                    .id_to_token(*id)
                    .map(str::to_string)
                    .ok_or(Error::UnknownId { id: *id, vocab_size: self.model.vocab_size() })
            })
            .collect()
    }

    /// The bytes that `ids` stand for.
    pub fn decode_bytes(&self, ids: &[u32]) -> Result<Vec<u8>> {
        let mut out = Vec::with_capacity(ids.len() * 4);
        for id in ids {
            let bytes =
                self.model.token_bytes(*id).ok_or(Error::UnknownId { id: *id, vocab_size: self.model.vocab_size() })?;
            out.extend_from_slice(bytes);
        }
        Ok(out)
    }

    /// Decodes ids to text. Exact for ids that came from `encode`; a byte sequence that is not
    /// UTF-8 (ids cut in the middle of a character) is decoded lossily with U+FFFD.
    pub fn decode(&self, ids: &[u32]) -> Result<String> {
        let bytes = self.decode_bytes(ids)?;
        Ok(match String::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        })
    }

    fn encode_into(&self, text: &str, ids: &mut Vec<u32>, mut offsets: Option<&mut Vec<(usize, usize)>>) {
        if self.split_special && !self.special_tokens.is_empty() {
            let mut pos = 0;
            for (start, len, id) in SpecialMatches::new(text, &self.special_tokens) {
                self.encode_plain(&text[pos..start], pos, ids, offsets.as_deref_mut());
                ids.push(id);
                if let Some(o) = offsets.as_deref_mut() {
                    o.push((start, start + len));
                }
                pos = start + len;
            }
            self.encode_plain(&text[pos..], pos, ids, offsets);
        } else {
            self.encode_plain(text, 0, ids, offsets);
        }
    }

    fn encode_plain(&self, text: &str, base: usize, ids: &mut Vec<u32>, mut offsets: Option<&mut Vec<(usize, usize)>>) {
        if text.is_empty() {
            return;
        }
        let prefixed;
        let (text, shift) = if self.add_prefix_space && !text.starts_with(' ') {
            prefixed = format!(" {text}");
            (prefixed.as_str(), 1usize)
        } else {
            (text, 0)
        };
        let mut cache = match self.cache.lock() {
            Ok(c) => c,
            Err(poisoned) => poisoned.into_inner(),
        };
        if cache.len() > CACHE_LIMIT {
            cache.clear();
        }
        let mut scratch = Vec::new();
        for (s, e) in gpt2_split(text) {
            let word = &text[s..e];
            let first = ids.len();
            match cache.get(word) {
                Some(cached) => ids.extend_from_slice(cached),
                None => {
                    scratch.clear();
                    self.model.encode_word(word.as_bytes(), &mut scratch);
                    ids.extend_from_slice(&scratch);
                    cache.insert(word.into(), scratch.as_slice().into());
                }
            }
            if let Some(o) = offsets.as_deref_mut() {
                let mut at = base + s;
                for id in &ids[first..] {
                    let len = self.model.token_bytes(*id).map_or(0, <[u8]>::len);
                    let start = at.saturating_sub(shift).max(base);
                    at += len;
                    o.push((start, at.saturating_sub(shift).max(base)));
                }
            }
        }
    }
}
