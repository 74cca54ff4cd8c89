//! Word-pair similarity benchmarks (WordSim-353 format): Spearman's correlation between the
//! vectors' cosine similarities and human scores.

use super::search::Searcher;
use super::stats::{pearson, spearman};
use crate::error::{Error, Place, Result};
use std::path::Path;

/// One scored pair of a similarity file.
#[derive(Debug, Clone, PartialEq)]
pub struct WordPair {
    /// First word.
    pub a: String,
    /// Second word.
    pub b: String,
    /// The human score.
    pub score: f64,
    /// Its 1-based line in the file.
    pub line: usize,
}

/// Reads a word-pair file: `word1 word2 score` per line, separated by tabs (or, in a line
/// without tabs, by spaces); lines starting with `#` and blank lines are skipped.
pub fn read_word_pairs(path: &Path) -> Result<Vec<WordPair>> {
    let text = tessera_text::io::read_text(path)?;
    parse_word_pairs(&text, &path.display().to_string())
}

/// [`read_word_pairs`] on text; `source` names it in errors.
///
/// ```
/// let pairs = tessera_embed::eval::parse_word_pairs("# comment\ntiger\tcat\t7.35\n", "ws.tsv")?;
/// assert_eq!((pairs[0].a.as_str(), pairs[0].score, pairs[0].line), ("tiger", 7.35, 2));
/// let err = tessera_embed::eval::parse_word_pairs("a b\n", "ws.tsv").unwrap_err();
/// assert!(err.to_string().starts_with("ws.tsv: line 1:"));
/// # Ok::<(), tessera_embed::Error>(())
/// ```
pub fn parse_word_pairs(text: &str, source: &str) -> Result<Vec<WordPair>> {
    let mut pairs = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let fields: Vec<&str> = if line.contains('\t') {
            line.split('\t').map(str::trim).collect()
        } else {
            line.split_whitespace().collect()
        };
        let bad = |reason: String| Error::malformed(source, Place::Line(i + 1), reason);
        if fields.len() != 3 || fields.iter().any(|f| f.is_empty()) {
            return Err(bad(format!("expected `word1 word2 score`, found {} fields", fields.len())));
        }
        let score = fields[2]
            .parse::<f64>()
            .ok()
            .filter(|s| s.is_finite())
            .ok_or_else(|| bad(format!("the score `{}` is not a number", fields[2])))?;
        pairs.push(WordPair { a: fields[0].to_string(), b: fields[1].to_string(), score, line: i + 1 });
    }
    Ok(pairs)
}

/// How the vectors agree with the human scores.
#[derive(Debug, Clone, PartialEq)]
pub struct SimilarityScore {
    /// Pairs with both words in the vectors (the ones scored).
    pub pairs: usize,
    /// Pairs left out because a word is missing.
    pub oov: usize,
    /// Spearman's rank correlation (ties get their mean rank).
    pub spearman: f64,
    /// Pearson's correlation of the raw values.
    pub pearson: f64,
    /// The first few missing pairs, for the report.
    pub oov_examples: Vec<(String, String)>,
}

/// Scores `pairs` with `searcher`'s vectors; words match ignoring case, as gensim's
/// `evaluate_word_pairs` does by default.
pub fn evaluate_similarity(searcher: &Searcher<'_>, pairs: &[WordPair]) -> SimilarityScore {
    let (mut human, mut model, mut oov_examples) = (Vec::new(), Vec::new(), Vec::new());
    for p in pairs {
        match (searcher.id_folded(&p.a), searcher.id_folded(&p.b)) {
            (Some(a), Some(b)) => {
                human.push(p.score);
                model.push(searcher.cosine(a, b) as f64);
            }
            _ => {
                if oov_examples.len() < 5 {
                    oov_examples.push((p.a.clone(), p.b.clone()));
                }
            }
        }
    }
    SimilarityScore {
        pairs: human.len(),
        oov: pairs.len() - human.len(),
        spearman: spearman(&human, &model),
        pearson: pearson(&human, &model),
        oov_examples,
    }
}
