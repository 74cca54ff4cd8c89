//! Tokenizers, vocabularies and dictionaries.

use super::{text_with, utf8};
use crate::corpus::{outcome, signature, OUTCOME_PARTS};
use crate::input::{scratch_file, split2};
use tessera_text::{ByteLevelBpe, CharTokenizer, SegmentMode, Segmenter, Vocab, WordTokenizer};
use tessera_train::seq2seq::{Columns, PairSet};

/// Encodes and decodes text with an accepted tokenizer, and saves and reloads it.
fn use_bpe(bpe: &ByteLevelBpe, data: &[u8]) -> String {
    let ids = bpe.encode(&text_with(data));
    let decoded = bpe.decode(&ids);
    let reloaded = ByteLevelBpe::from_tokenizer_json_str(&bpe.to_tokenizer_json(), "saved tokenizer.json");
    format!("ok; decode {}; reload {}", outcome(&decoded), outcome(&reloaded))
}

pub(super) fn tokenizer_json(data: &[u8]) -> String {
    match utf8(data, "tokenizer.json").and_then(|t| ByteLevelBpe::from_tokenizer_json_str(&t, "tokenizer.json")) {
        Ok(bpe) => use_bpe(&bpe, data),
        Err(e) => signature(&e.to_string()),
    }
}

/// Encodes and decodes text with the char and word tokenizers of an accepted vocabulary.
fn use_vocab(vocab: Vocab, data: &[u8]) -> String {
    let text = text_with(data);
    let chars = CharTokenizer::new(vocab.clone());
    let char_decoded = chars.decode(&chars.encode(&text));
    let words = WordTokenizer::new(vocab);
    let word_decoded = words.decode(&words.encode(&text));
    format!("ok; chars {}; words {}", outcome(&char_decoded), outcome(&word_decoded))
}

pub(super) fn vocab(data: &[u8]) -> String {
    let (first, second) = split2(data);
    let vocab = match utf8(first, "vocab.json").and_then(|t| Vocab::from_json(&t, "vocab.json")) {
        Ok((vocab, _kind)) => use_vocab(vocab, data),
        Err(e) => signature(&e.to_string()),
    };
    let files = utf8(first, "encoder.json").and_then(|e| Ok((e, utf8(second, "vocab.bpe")?)));
    let gpt2 = files.and_then(|(e, m)| ByteLevelBpe::from_gpt2_strs(&e, &m, "encoder.json", "vocab.bpe"));
    let gpt2 = match gpt2 {
        Ok(bpe) => use_bpe(&bpe, data),
        Err(e) => signature(&e.to_string()),
    };
    [format!("vocab {vocab}"), format!("gpt2 {gpt2}")].join(OUTCOME_PARTS)
}

/// Segments text in every mode with an accepted dictionary.
fn use_segmenter(seg: &Segmenter, data: &[u8]) -> String {
    let text = text_with(data);
    let words = seg.cut(&text).len() + seg.cut_with(&text, false).len() + seg.cut_all(&text).len();
    let search = seg.tokenize(&text, SegmentMode::Search, true).len();
    format!("ok; {} words", if words + search > 0 { "some" } else { "no" })
}

pub(super) fn jieba_dict(data: &[u8]) -> String {
    let dict = match utf8(data, "dict.txt").and_then(|t| Segmenter::from_dict_str(&t, "dict.txt")) {
        Ok(seg) => use_segmenter(&seg, data),
        Err(e) => signature(&e.to_string()),
    };
    let mut seg = Segmenter::empty();
    let user = match utf8(data, "user.dict").and_then(|t| seg.load_user_dict_str(&t, "user.dict")) {
        Ok(()) => use_segmenter(&seg, data),
        Err(e) => signature(&e.to_string()),
    };
    [format!("dict {dict}"), format!("user {user}")].join(OUTCOME_PARTS)
}

/// A tab-separated pairs file (`train seq2seq --pairs`) read with each column rule; an
/// accepted one is summarised and its sides tokenized as characters.
pub(super) fn pairs(data: &[u8]) -> String {
    let path = match scratch_file("pairs.tsv", data) {
        Ok(p) => p,
        Err(e) => return format!("scratch file: {e}"),
    };
    [Columns::Exactly2, Columns::FirstTwo]
        .map(|columns| match PairSet::read_with(&path, columns) {
            Ok(set) => {
                let (sources, targets): (Vec<&str>, Vec<&str>) =
                    set.pairs.iter().map(|p| (p.source.as_str(), p.target.as_str())).unzip();
                let [source, target] = [sources, targets].map(|side| {
                    let chars = CharTokenizer::train(side.iter().copied());
                    side.iter().map(|s| chars.encode(s).len()).sum::<usize>()
                });
                let taken = if set.is_empty() { "no" } else { "some" };
                let summary = if set.summary().is_empty() { "empty" } else { "written" };
                format!(
                    "ok; {taken} pairs, {} skipped; summary {summary}; {} tokens",
                    set.skipped.len().min(1),
                    (source + target).min(1)
                )
            }
            Err(e) => signature(&e.to_string()),
        })
        .join(OUTCOME_PARTS)
}
