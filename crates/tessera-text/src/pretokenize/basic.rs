//! Whitespace, punctuation and CJK splitting (the BERT-style basic pre-tokenizer).

use super::Span;
use crate::chars::{is_cjk_ideograph, is_punctuation, is_space};

/// Options for [`BasicSplit`]: what, besides whitespace, starts a new span.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BasicSplit {
    /// Each punctuation character becomes its own span.
    pub punctuation: bool,
    /// Each CJK ideograph becomes its own span.
    pub cjk: bool,
}

impl BasicSplit {
    /// Splits `text`, dropping whitespace; returns byte spans.
    pub fn split(&self, text: &str) -> Vec<Span> {
        let mut spans = Vec::new();
        let mut word_start: Option<usize> = None;
        for (i, c) in text.char_indices() {
            let alone = (self.punctuation && is_punctuation(c)) || (self.cjk && is_cjk_ideograph(c));
            if is_space(c) || alone {
                if let Some(s) = word_start.take() {
                    spans.push((s, i));
                }
                if alone {
                    spans.push((i, i + c.len_utf8()));
                }
            } else if word_start.is_none() {
                word_start = Some(i);
            }
        }
        if let Some(s) = word_start {
            spans.push((s, text.len()));
        }
        spans
    }
}

/// Splits on whitespace only.
///
/// ```
/// let t = "a bc  d";
/// let spans = tessera_text::pretokenize::split_whitespace(t);
/// assert_eq!(spans, [(0, 1), (2, 4), (6, 7)]);
/// ```
pub fn split_whitespace(text: &str) -> Vec<Span> {
    BasicSplit::default().split(text)
}

/// Splits on whitespace and makes each punctuation character its own span.
///
/// ```
/// let t = "Hi, you!";
/// let words: Vec<&str> = tessera_text::pretokenize::split_whitespace_punctuation(t)
///     .into_iter().map(|(s, e)| &t[s..e]).collect();
/// assert_eq!(words, ["Hi", ",", "you", "!"]);
/// ```
pub fn split_whitespace_punctuation(text: &str) -> Vec<Span> {
    BasicSplit { punctuation: true, cjk: false }.split(text)
}

/// BERT's basic split: whitespace, punctuation, and every CJK ideograph on its own.
///
/// ```
/// let t = "我爱NLP!";
/// let words: Vec<&str> = tessera_text::pretokenize::split_cjk(t)
///     .into_iter().map(|(s, e)| &t[s..e]).collect();
/// assert_eq!(words, ["我", "爱", "NLP", "!"]);
/// ```
pub fn split_cjk(text: &str) -> Vec<Span> {
    BasicSplit { punctuation: true, cjk: true }.split(text)
}
