//! Word vectors (word2vec text and binary, GloVe text) and the benchmark files that evaluate
//! them (word2vec's analogy questions, WordSim-style similarity pairs).

use super::utf8;
use crate::corpus::{outcome, signature, OUTCOME_PARTS};
use crate::input::{scratch_file, split2};
use std::io::Cursor;
use tessera_embed::eval::{evaluate_analogies, evaluate_similarity, parse_analogies, parse_word_pairs, Searcher};
use tessera_embed::{format, Embeddings, Format, Loaded};

/// Searches the vectors of an accepted file (the first word's neighbours and an analogy on the
/// first three words) and writes them back in every format.
fn use_vectors(loaded: &Loaded) -> String {
    let e = &loaded.embeddings;
    let searcher = Searcher::new(e, None);
    let words: Vec<&str> = (0..e.len().min(3)).map(|i| e.word(i)).collect();
    let neighbours = match words.first() {
        Some(w) => outcome(&searcher.neighbours(w, 3)),
        None => "none".into(),
    };
    let analogy = match words[..] {
        [a, b, c] => outcome(&searcher.analogy(a, b, c, 2)),
        _ => "none".into(),
    };
    let written = [Format::Text, Format::Binary, Format::Glove]
        .map(|f| format!("{} {}", f.name(), outcome(&format::write_to(e, Vec::new(), f))))
        .join(", ");
    format!("ok; neighbours {neighbours}; analogy {analogy}; write {written}")
}

/// A vector file read as each format, then as [`Format::detect`] guesses it from a file.
pub(super) fn embeddings(data: &[u8]) -> String {
    let size = Some(data.len() as u64);
    let mut parts: Vec<String> = [Format::Text, Format::Binary, Format::Glove]
        .into_iter()
        .map(|f| {
            let read = format::read_from(Cursor::new(data), f, "vectors", size);
            let result = match &read {
                Ok(loaded) => use_vectors(loaded),
                Err(e) => signature(&e.to_string()),
            };
            format!("{} {result}", f.name())
        })
        .collect();
    let detected = match scratch_file("vectors", data) {
        Ok(path) => format::read(&path, None).map(|l| l.format.name()),
        Err(e) => return format!("scratch file: {e}"),
    };
    parts.push(format!("detect {}", outcome(&detected)));
    parts.join(OUTCOME_PARTS)
}

/// Vectors the benchmark files are scored with: a handful of words every seed mentions.
fn benchmark_vectors() -> Option<Embeddings> {
    let words = ["king", "queen", "man", "woman", "paris", "france", "rome", "italy", "cat", "dog"];
    let data: Vec<f32> = (0..words.len() * 4).map(|i| ((i * 37 % 11) as f32 - 5.0) / 5.0).collect();
    Embeddings::from_parts(words, 4, data).ok()
}

/// An analogy file and a similarity file (two files), each parsed and, when accepted, scored.
pub(super) fn embed_eval(data: &[u8]) -> String {
    let Some(vectors) = benchmark_vectors() else { return "vectors: not built".into() };
    let searcher = Searcher::new(&vectors, None);
    let (questions, pairs) = split2(data);
    let analogies = match utf8(questions, "questions-words.txt")
        .map_err(|e| e.to_string())
        .and_then(|t| parse_analogies(&t, "questions-words.txt").map_err(|e| e.to_string()))
    {
        Ok(sections) => {
            let score = evaluate_analogies(&searcher, &sections, 2);
            format!("ok; {} asked", if score.sections.iter().any(|s| s.asked > 0) { "some" } else { "none" })
        }
        Err(e) => signature(&e),
    };
    let similarity = match utf8(pairs, "wordsim.txt")
        .map_err(|e| e.to_string())
        .and_then(|t| parse_word_pairs(&t, "wordsim.txt").map_err(|e| e.to_string()))
    {
        Ok(pairs) => {
            let score = evaluate_similarity(&searcher, &pairs);
            format!("ok; spearman {}", if score.spearman.is_finite() { "finite" } else { "not finite" })
        }
        Err(e) => signature(&e),
    };
    [format!("analogies {analogies}"), format!("similarity {similarity}")].join(OUTCOME_PARTS)
}
