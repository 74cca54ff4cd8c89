//! Normalisation that remembers where every output character came from.

use unicode_normalization::char::canonical_combining_class;

use super::{apply_step, NormalizeStep, Normalizer};

/// Normalised text with, for every output character, the byte span of the input it came from.
///
/// ```
/// use tessera_text::Normalizer;
/// let n = Normalizer::new().fullwidth_to_halfwidth().strip_accents().lowercase();
/// let out = n.normalize_aligned("Ｃａｆé ÉTÉ");
/// assert_eq!(out.text(), "cafe ete");
/// assert_eq!(out.source_span(0, 4), (0, 11)); // "cafe" came from "Ｃａｆé"
/// assert_eq!(out.source_span(5, 8), (12, 17));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NormalizedText {
    text: String,
    spans: Vec<(usize, usize)>,
    starts: Vec<usize>,
}

impl NormalizedText {
    /// The normalised text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The input byte span that produced the output bytes `start..end` (clamped to the text).
    pub fn source_span(&self, start: usize, end: usize) -> (usize, usize) {
        let first = self.starts.partition_point(|&s| s <= start).saturating_sub(1);
        let last = self.starts.partition_point(|&s| s < end);
        match self.spans.get(first..last.max(first + 1).min(self.spans.len())) {
            Some(spans) if !spans.is_empty() => union(spans),
            _ => {
                let at = self.spans.last().map_or(0, |s| s.1);
                (at, at)
            }
        }
    }
}

fn union(spans: &[(usize, usize)]) -> (usize, usize) {
    let start = spans.iter().map(|s| s.0).min().unwrap_or(0);
    let end = spans.iter().map(|s| s.1).max().unwrap_or(start);
    (start, end)
}

impl Normalizer {
    /// Like [`Normalizer::normalize`] (same output), also mapping output back to input.
    ///
    /// Each step is applied piece by piece (a character, or a character with its combining
    /// marks for the Unicode forms); where that would not give the same text as the whole-string
    /// step (final sigma, compositions across pieces), the alignment falls back to the enclosing
    /// whitespace-delimited run, and if even that differs, to the whole text.
    pub fn normalize_aligned(&self, text: &str) -> NormalizedText {
        let mut current = text.to_string();
        let mut spans: Vec<(usize, usize)> = text.char_indices().map(|(i, c)| (i, i + c.len_utf8())).collect();
        for step in self.steps() {
            let (t, s) = align_step(*step, &current, &spans);
            current = t;
            spans = s;
        }
        let starts = current.char_indices().map(|(i, _)| i).collect();
        NormalizedText { text: current, spans, starts }
    }
}

/// Pieces (char index ranges) that a step transforms independently.
fn pieces(step: NormalizeStep, chars: &[(usize, char)]) -> Vec<(usize, usize)> {
    let grouped =
        matches!(step, NormalizeStep::Nfc | NormalizeStep::Nfkc | NormalizeStep::Nfd | NormalizeStep::StripAccents);
    let mut out: Vec<(usize, usize)> = Vec::with_capacity(chars.len());
    for (i, &(_, c)) in chars.iter().enumerate() {
        match out.last_mut() {
            Some(last) if grouped && canonical_combining_class(c) != 0 => last.1 = i + 1,
            _ => out.push((i, i + 1)),
        }
    }
    out
}

fn align_step(step: NormalizeStep, text: &str, spans: &[(usize, usize)]) -> (String, Vec<(usize, usize)>) {
    let whole = apply_step(step, text);
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let byte = |ci: usize| chars.get(ci).map_or(text.len(), |c| c.0);
    let pieces = pieces(step, &chars);
    let is_space = |p: (usize, usize)| chars[p.0].1.is_whitespace();
    let mut out = String::with_capacity(whole.len());
    let mut out_spans = Vec::with_capacity(whole.len());
    let mut i = 0;
    while i < pieces.len() {
        let mut j = i + 1;
        if !is_space(pieces[i]) {
            while j < pieces.len() && !is_space(pieces[j]) {
                j += 1;
            }
        }
        let (run_start, run_end) = (pieces[i].0, pieces[j - 1].1);
        let run_out = apply_step(step, &text[byte(run_start)..byte(run_end)]);
        let mut piecewise = String::with_capacity(run_out.len());
        let mut piece_spans = Vec::new();
        for &(a, b) in &pieces[i..j] {
            let piece_out = apply_step(step, &text[byte(a)..byte(b)]);
            let span = union(&spans[a..b]);
            piece_spans.extend(piece_out.chars().map(|_| span));
            piecewise.push_str(&piece_out);
        }
        if piecewise == run_out {
            out_spans.extend(piece_spans);
        } else {
            let span = union(&spans[run_start..run_end]);
            out_spans.extend(run_out.chars().map(|_| span));
        }
        out.push_str(&run_out);
        i = j;
    }
    if out != whole {
        let span = union(spans);
        let all = whole.chars().map(|_| span).collect();
        return (whole, all);
    }
    (out, out_spans)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_matches_plain_normalisation() {
        let text = "ΟΔΟΣ ΟΔΟΣ. Ｃａｆé e\u{301}\u{7} ﬁ İ 한국어 \u{1100}\u{1161}\u{11a8}";
        for n in [
            Normalizer::new().nfc(),
            Normalizer::new().nfkc().lowercase(),
            Normalizer::bert_uncased(),
            Normalizer::new().fullwidth_to_halfwidth().nfd().remove_control(),
        ] {
            let aligned = n.normalize_aligned(text);
            assert_eq!(aligned.text(), n.normalize(text), "{n:?}");
            assert_eq!(aligned.spans.len(), aligned.text().chars().count());
        }
    }

    #[test]
    fn composed_and_folded_characters_map_to_their_sources() {
        let out = Normalizer::new().nfc().normalize_aligned("ae\u{301}b");
        assert_eq!(out.text(), "a\u{e9}b");
        assert_eq!(out.source_span(1, 3), (1, 4));
        let out = Normalizer::new().nfkc().normalize_aligned("xﬁy");
        assert_eq!(out.text(), "xfiy");
        assert_eq!(out.source_span(1, 2), (1, 4));
        assert_eq!(Normalizer::new().normalize_aligned("").source_span(0, 0), (0, 0));
    }
}
