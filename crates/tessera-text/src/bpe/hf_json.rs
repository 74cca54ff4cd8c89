//! Hugging Face `tokenizer.json` files for byte-level BPE models: load and save.

use std::path::Path;

use serde_json::{json, Map, Value};

use super::files::{merge_ids, split_merge, tokens_from_vocab_map};
use super::model::{BpeModel, MergePlaces};
use super::tokenizer::ByteLevelBpe;
use crate::error::{Error, Result};
use crate::hash::FastMap;
use crate::io::{read_text, write_atomic};

/// Reads the ByteLevel options out of a pre-tokenizer value; other kinds are unsupported.
fn byte_level_prefix_space(pre: &Value, source: &str) -> Result<bool> {
    match pre.get("type").and_then(Value::as_str) {
        None if pre.is_null() => Ok(false),
        Some("ByteLevel") => {
            if pre.get("use_regex").and_then(Value::as_bool) == Some(false) {
                return Err(Error::malformed(
                    source,
                    "ByteLevel pre-tokenizer with `use_regex: false` is not supported",
                ));
            }
            Ok(pre.get("add_prefix_space").and_then(Value::as_bool).unwrap_or(false))
        }
        Some("Sequence") => {
            let items = pre.get("pretokenizers").and_then(Value::as_array).cloned().unwrap_or_default();
            match items.as_slice() {
                [one] => byte_level_prefix_space(one, source),
                _ => Err(Error::malformed(source, "only a Sequence holding one ByteLevel pre-tokenizer is supported")),
            }
        }
        Some(other) => Err(Error::malformed(
            source,
            format!("pre-tokenizer `{other}` is not supported (byte-level BPE needs `ByteLevel`)"),
        )),
        None => Err(Error::malformed(source, "pre_tokenizer has no `type`")),
    }
}

fn parse(text: &str, source: &str) -> Result<ByteLevelBpe> {
    let root: Value = serde_json::from_str(text).map_err(|e| Error::malformed(source, format!("invalid JSON: {e}")))?;
    let model = root.get("model").ok_or_else(|| Error::malformed(source, "no `model` section"))?;
    match model.get("type").and_then(Value::as_str) {
        Some("BPE") | None => {}
        Some(other) => {
            return Err(Error::malformed(source, format!("model type `{other}` is not supported (only BPE)")))
        }
    }
    for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
        if let Some(s) = model.get(key).and_then(Value::as_str) {
            if !s.is_empty() {
                return Err(Error::malformed(source, format!("`{key}` = `{s}` is not supported")));
            }
        }
    }
    if root.get("normalizer").is_some_and(|n| !n.is_null()) {
        return Err(Error::malformed(source, "normalizers are not supported for byte-level BPE files"));
    }
    let add_prefix_space = byte_level_prefix_space(root.get("pre_tokenizer").unwrap_or(&Value::Null), source)?;
    let vocab_map = model
        .get("vocab")
        .and_then(Value::as_object)
        .ok_or_else(|| Error::malformed(source, "`model.vocab` is missing or not an object"))?;
    let tokens = tokens_from_vocab_map(vocab_map, source)?;
    let vocab: FastMap<&str, u32> = tokens.iter().enumerate().map(|(i, t)| (t.as_str(), i as u32)).collect();
    let merge_values = model
        .get("merges")
        .and_then(Value::as_array)
        .ok_or_else(|| Error::malformed(source, "`model.merges` is missing or not an array"))?;
    let places = MergePlaces::Ranks { path: source };
    let mut merges = Vec::with_capacity(merge_values.len());
    for (i, m) in merge_values.iter().enumerate() {
        let pair = match (m, &merge_values[0]) {
            (Value::String(s), Value::String(_)) => split_merge(s),
            (Value::Array(pair), Value::Array(_)) => match pair.as_slice() {
                [Value::String(a), Value::String(b)] => Ok((a.as_str(), b.as_str())),
                _ => Err("not a pair of strings".to_string()),
            },
            (Value::String(_) | Value::Array(_), _) => Err("merges mix the string and pair forms".to_string()),
            _ => Err("neither a string nor a pair".to_string()),
        };
        merges.push(pair.and_then(|(a, b)| merge_ids(a, b, &vocab)).map_err(|reason| places.error(i, reason))?);
    }
    let mut specials = Vec::new();
    if let Some(added) = root.get("added_tokens").and_then(Value::as_array) {
        for t in added {
            let (Some(content), Some(id)) =
                (t.get("content").and_then(Value::as_str), t.get("id").and_then(Value::as_u64))
            else {
                return Err(Error::malformed(source, "an added token lacks `content` or `id`"));
            };
            if vocab.get(content).map(|v| u64::from(*v)) != Some(id) {
                return Err(Error::malformed(
                    source,
                    format!("added token `{content}` (id {id}) is not in the vocabulary under that id"),
                ));
            }
            specials.push((content.to_string(), id as u32));
        }
    }
    drop(vocab);
    let mut bpe_model = BpeModel::with_merge_places(tokens, merges, source, places)?;
    bpe_model.set_ignore_merges(model.get("ignore_merges").and_then(Value::as_bool).unwrap_or(false));
    Ok(ByteLevelBpe::from_parts(bpe_model, specials, true, add_prefix_space))
}

impl ByteLevelBpe {
    /// Loads a Hugging Face `tokenizer.json` holding a byte-level BPE model.
    ///
    /// Added tokens become special tokens, recognised in the text by `encode`.
    pub fn from_tokenizer_json(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        parse(&read_text(path)?, &path.display().to_string())
    }

    /// Parses the contents of a `tokenizer.json`; `source` names it in errors.
    ///
    /// Every fault is an error naming `source`: invalid JSON (nesting deeper than 128 levels
    /// included), an unsupported component, vocabulary ids that repeat, leave gaps or exceed the
    /// number of tokens, a merge that is not two tokens of the vocabulary, makes a token missing
    /// from it or repeats an earlier merge (naming the merge's index), an added token whose id
    /// does not match the vocabulary.
    ///
    /// ```
    /// let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    /// let err = tessera_text::ByteLevelBpe::from_tokenizer_json_str(&deep, "t.json").unwrap_err();
    /// assert!(err.to_string().starts_with("malformed file `t.json`: invalid JSON: recursion limit exceeded"));
    /// ```
    pub fn from_tokenizer_json_str(text: &str, source: &str) -> Result<Self> {
        parse(text, source)
    }

    /// The `tokenizer.json` document (Hugging Face format) for this tokenizer.
    pub fn to_tokenizer_json(&self) -> String {
        let tokens = self.model.tokens();
        let vocab: Map<String, Value> = tokens.iter().enumerate().map(|(i, t)| (t.clone(), json!(i))).collect();
        let merges: Vec<Value> = self
            .model
            .merges()
            .iter()
            .map(|(a, b)| json!(format!("{} {}", tokens[*a as usize], tokens[*b as usize])))
            .collect();
        let added: Vec<Value> = self
            .special_tokens
            .iter()
            .map(|(content, id)| {
                json!({"id": id, "content": content, "single_word": false, "lstrip": false,
                       "rstrip": false, "normalized": false, "special": true})
            })
            .collect();
        let byte_level = |prefix: bool, trim: bool| json!({"type": "ByteLevel", "add_prefix_space": prefix, "trim_offsets": trim, "use_regex": true});
        let doc = json!({
            "version": "1.0",
            "truncation": null,
            "padding": null,
            "added_tokens": added,
            "normalizer": null,
            "pre_tokenizer": byte_level(self.add_prefix_space, false),
            "post_processor": byte_level(self.add_prefix_space, false),
            "decoder": byte_level(self.add_prefix_space, false),
            "model": {
                "type": "BPE",
                "dropout": null,
                "unk_token": null,
                "continuing_subword_prefix": null,
                "end_of_word_suffix": null,
                "fuse_unk": false,
                "byte_fallback": false,
                "ignore_merges": self.model.ignore_merges(),
                "vocab": vocab,
                "merges": merges,
            }
        });
        serde_json::to_string_pretty(&doc).unwrap_or_default()
    }

    /// Saves as a Hugging Face `tokenizer.json` (written atomically).
    pub fn save_tokenizer_json(&self, path: impl AsRef<Path>) -> Result<()> {
        write_atomic(path, self.to_tokenizer_json().as_bytes())
    }
}
