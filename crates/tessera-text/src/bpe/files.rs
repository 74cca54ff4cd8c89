//! Loading GPT-2's `encoder.json` + `vocab.bpe`, including the copy shipped in this crate.

use std::path::Path;

use super::model::BpeModel;
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

/// Merges from text lines `left right`, resolved to id pairs.
pub(crate) fn merges_from_lines<'a>(
    lines: impl Iterator<Item = &'a str>,
    vocab: &FastMap<&str, u32>,
    source: &str,
) -> Result<Vec<(u32, u32)>> {
    let mut merges = Vec::new();
    for (i, line) in lines.enumerate() {
        if (i == 0 && line.starts_with("#version")) || line.trim().is_empty() {
            continue;
        }
        let mut parts = line.split(' ');
        let (Some(a), Some(b), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(Error::BadLine {
                path: source.to_string(),
                line: i + 1,
                reason: format!("expected two tokens separated by one space, found `{line}`"),
            });
        };
        merges.push(merge_pair(a, b, vocab, source, i + 1)?);
    }
    Ok(merges)
}

pub(crate) fn merge_pair(
    a: &str,
    b: &str,
    vocab: &FastMap<&str, u32>,
    source: &str,
    line: usize,
) -> Result<(u32, u32)> {
    let lookup = |t: &str| {
        vocab.get(t).copied().ok_or_else(|| Error::BadLine {
            path: source.to_string(),
            line,
            reason: format!("merge token `{t}` is not in the vocabulary"),
        })
    };
    Ok((lookup(a)?, lookup(b)?))
}

fn gpt2_from_strs(encoder: &str, merges: &str, encoder_name: &str, merges_name: &str) -> Result<ByteLevelBpe> {
    let value: serde_json::Value =
        serde_json::from_str(encoder).map_err(|e| Error::malformed(encoder_name, format!("invalid JSON: {e}")))?;
    let map =
        value.as_object().ok_or_else(|| Error::malformed(encoder_name, "expected a JSON object of token -> id"))?;
    let tokens = tokens_from_vocab_map(map, encoder_name)?;
    let vocab: FastMap<&str, u32> = tokens.iter().enumerate().map(|(i, t)| (t.as_str(), i as u32)).collect();
    let merges = merges_from_lines(merges.lines(), &vocab, merges_name)?;
    let special = vocab.get(GPT2_END_OF_TEXT).map(|id| (GPT2_END_OF_TEXT.to_string(), *id));
    drop(vocab);
    let model = BpeModel::new(tokens, merges, encoder_name)?;
    Ok(ByteLevelBpe::from_parts(model, special.into_iter().collect(), false, false))
}

impl ByteLevelBpe {
    /// GPT-2's tokenizer from the copy of `encoder.json` and `vocab.bpe` shipped in this crate.
    ///
    /// Text is encoded like `tiktoken`'s `encode_ordinary`: `<|endoftext|>` written in the text is
    /// plain text unless [`ByteLevelBpe::set_split_special`] turns special tokens on.
    pub fn gpt2() -> Self {
        match gpt2_from_strs(GPT2_ENCODER, GPT2_MERGES, "data/gpt2/encoder.json", "data/gpt2/vocab.bpe") {
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
        gpt2_from_strs(&encoder, &merges, &enc_path.display().to_string(), &merges_path.display().to_string())
    }
}
