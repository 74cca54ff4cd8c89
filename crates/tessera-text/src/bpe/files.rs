//! Loading GPT-2's `encoder.json` + `vocab.bpe`, including the copy shipped in this crate.

use std::path::Path;

use super::model::{BpeModel, MergePlaces};
use super::tokenizer::ByteLevelBpe;
use crate::error::{Error, Result};
use crate::hash::FastMap;
use crate::io::read_text;

static GPT2_ENCODER: &str = include_str!("../../data/gpt2/encoder.json");
static GPT2_MERGES: &str = include_str!("../../data/gpt2/vocab.bpe");

/// GPT-2's end-of-text token.
pub const GPT2_END_OF_TEXT: &str = "<|endoftext|>";

/// Tokens in id order from a `{"token": id}` JSON object; ids must be 0..n without gaps.
pub(crate) fn tokens_from_vocab_map(
    map: &serde_json::Map<String, serde_json::Value>,
    source: &str,
) -> Result<Vec<String>> {
    let mut tokens: Vec<Option<String>> = vec![None; map.len()];
    for (token, id) in map {
        let id = id.as_u64().ok_or_else(|| {
            Error::malformed(source, format!("the id of token `{token}` is not a non-negative integer"))
        })?;
        let slot = tokens.get_mut(id as usize).ok_or_else(|| {
            Error::malformed(
                source,
                format!("token `{token}` has id {id}, but the vocabulary has {} entries", map.len()),
            )
        })?;
        if slot.is_some() {
            return Err(Error::malformed(source, format!("id {id} is given to two tokens")));
        }
        *slot = Some(token.clone());
    }
    tokens
        .into_iter()
        .enumerate()
        .map(|(id, t)| t.ok_or_else(|| Error::malformed(source, format!("no token has id {id}"))))
        .collect()
}

/// Merges read from a text file: id pairs in rank order and the 1-based line of each.
#[derive(Debug, Default)]
pub(crate) struct MergeLines {
    /// The merges as id pairs.
    pub pairs: Vec<(u32, u32)>,
    /// The line of each merge.
    pub lines: Vec<usize>,
}

/// Merges from `left right` text lines (a `#version` first line and blank lines are skipped).
/// A line without exactly two tokens separated by one space, or naming a token missing from
/// `vocab`, is an error naming `source` and the line.
pub(crate) fn merges_from_lines(text: &str, vocab: &FastMap<&str, u32>, source: &str) -> Result<MergeLines> {
    let mut merges = MergeLines::default();
    for (i, line) in text.lines().enumerate() {
        if (i == 0 && line.starts_with("#version")) || line.trim().is_empty() {
            continue;
        }
        let pair = split_merge(line).and_then(|(a, b)| merge_ids(a, b, vocab));
        let pair = pair.map_err(|reason| Error::BadLine { path: source.to_string(), line: i + 1, reason })?;
        merges.pairs.push(pair);
        merges.lines.push(i + 1);
    }
    Ok(merges)
}

/// The two tokens of a `left right` merge, or why `merge` is not one.
pub(crate) fn split_merge(merge: &str) -> std::result::Result<(&str, &str), String> {
    let mut parts = merge.split(' ');
    match (parts.next(), parts.next(), parts.next()) {
        (Some(a), Some(b), None) => Ok((a, b)),
        _ => Err(format!("expected two tokens separated by one space, found `{merge}`")),
    }
}

/// The ids of a merge's two tokens, or which one is not in the vocabulary.
pub(crate) fn merge_ids(a: &str, b: &str, vocab: &FastMap<&str, u32>) -> std::result::Result<(u32, u32), String> {
    let lookup = |t: &str| vocab.get(t).copied().ok_or_else(|| format!("merge token `{t}` is not in the vocabulary"));
    Ok((lookup(a)?, lookup(b)?))
}

impl ByteLevelBpe {
    /// GPT-2's tokenizer from the copy of `encoder.json` and `vocab.bpe` shipped in this crate.
    ///
    /// Text is encoded like `tiktoken`'s `encode_ordinary`: `<|endoftext|>` written in the text is
    /// plain text unless [`ByteLevelBpe::set_split_special`] turns special tokens on.
    pub fn gpt2() -> Self {
        match Self::from_gpt2_strs(GPT2_ENCODER, GPT2_MERGES, "data/gpt2/encoder.json", "data/gpt2/vocab.bpe") {
            Ok(t) => t,
            // The embedded files are fixed at build time and checked by the tests.
            Err(e) => unreachable!("embedded GPT-2 files are invalid: {e}"),
        }
    }

    /// Loads a GPT-2 style tokenizer from `encoder.json` and `vocab.bpe` files.
    pub fn from_gpt2_files(encoder_json: impl AsRef<Path>, vocab_bpe: impl AsRef<Path>) -> Result<Self> {
        let (enc_path, merges_path) = (encoder_json.as_ref(), vocab_bpe.as_ref());
        let encoder = read_text(enc_path)?;
        let merges = read_text(merges_path)?;
        Self::from_gpt2_strs(&encoder, &merges, &enc_path.display().to_string(), &merges_path.display().to_string())
    }

    /// Parses the contents of GPT-2's `encoder.json` (a `{"token": id}` object, ids `0..n`
    /// without gaps or repeats) and `vocab.bpe` (`left right` merge lines); the names label the
    /// two texts in errors.
    ///
    /// Every fault is an error naming the text and, for merges, the line: a merge token missing
    /// from the vocabulary, a merge whose result is missing, a pair merged twice, a line without
    /// exactly two tokens.
    ///
    /// ```
    /// use tessera_text::ByteLevelBpe;
    /// let gpt2 = ByteLevelBpe::gpt2();
    /// let encoder = serde_json::to_string(&gpt2.model().tokens().iter().enumerate()
    ///     .map(|(id, t)| (t.clone(), id)).collect::<std::collections::BTreeMap<_, _>>()).unwrap();
    /// let err = ByteLevelBpe::from_gpt2_strs(&encoder, "#version: 0.2\nĠ t\nĠ zzz\n", "encoder.json", "vocab.bpe")
    ///     .unwrap_err();
    /// assert_eq!(err.to_string(), "`vocab.bpe` line 3: merge token `zzz` is not in the vocabulary");
    /// ```
    pub fn from_gpt2_strs(encoder_json: &str, vocab_bpe: &str, encoder_name: &str, merges_name: &str) -> Result<Self> {
        let value: serde_json::Value = serde_json::from_str(encoder_json)
            .map_err(|e| Error::malformed(encoder_name, format!("invalid JSON: {e}")))?;
        let map =
            value.as_object().ok_or_else(|| Error::malformed(encoder_name, "expected a JSON object of token -> id"))?;
        let tokens = tokens_from_vocab_map(map, encoder_name)?;
        let vocab: FastMap<&str, u32> = tokens.iter().enumerate().map(|(i, t)| (t.as_str(), i as u32)).collect();
        let merges = merges_from_lines(vocab_bpe, &vocab, merges_name)?;
        let special = vocab.get(GPT2_END_OF_TEXT).map(|id| (GPT2_END_OF_TEXT.to_string(), *id));
        drop(vocab);
        let places = MergePlaces::Lines { path: merges_name, lines: &merges.lines };
        let model = BpeModel::with_merge_places(tokens, merges.pairs, encoder_name, places)?;
        Ok(ByteLevelBpe::from_parts(model, special.into_iter().collect(), false, false))
    }
}
