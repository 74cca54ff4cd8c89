//! Finding special tokens in text: leftmost match first, the longest among those starting there.

/// Walks the special-token matches of one text left to right.
///
/// Remembers, for every token, where it next occurs, and searches again only when a match has
/// been passed; so each token's searches cover the text about once, and a text full of one token
/// costs time linear in its length, not in its length times its matches.
pub(crate) struct SpecialMatches<'a> {
    text: &'a str,
    tokens: &'a [(String, u32)],
    /// Byte position of each token's next occurrence at or after the last search start.
    next: Vec<Option<usize>>,
    pos: usize,
}

impl<'a> SpecialMatches<'a> {
    /// The matches of `tokens` (content, id) in `text`; empty contents never match.
    pub fn new(text: &'a str, tokens: &'a [(String, u32)]) -> Self {
        let next = tokens.iter().map(|(content, _)| find(text, content, 0)).collect();
        Self { text, tokens, next, pos: 0 }
    }
}

fn find(text: &str, content: &str, from: usize) -> Option<usize> {
    if content.is_empty() {
        return None;
    }
    text[from..].find(content).map(|i| from + i)
}

impl Iterator for SpecialMatches<'_> {
    /// `(start, length, id)` of the next match.
    type Item = (usize, usize, u32);

    fn next(&mut self) -> Option<Self::Item> {
        for (next, (content, _)) in self.next.iter_mut().zip(self.tokens) {
            if next.is_some_and(|at| at < self.pos) {
                *next = find(self.text, content, self.pos);
            }
        }
        let mut best: Option<(usize, usize, u32)> = None;
        for (next, (content, id)) in self.next.iter().zip(self.tokens) {
            let Some(start) = *next else { continue };
            if best.is_none_or(|(s, len, _)| start < s || (start == s && content.len() > len)) {
                best = Some((start, content.len(), *id));
            }
        }
        let found = best?;
        self.pos = found.0 + found.1;
        Some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matches(text: &str, tokens: &[(&str, u32)]) -> Vec<(usize, usize, u32)> {
        let tokens: Vec<(String, u32)> = tokens.iter().map(|(t, id)| (t.to_string(), *id)).collect();
        SpecialMatches::new(text, &tokens).collect()
    }

    #[test]
    fn leftmost_then_longest_without_overlaps() {
        let tokens = [("<a>", 1), ("<a><b>", 2), ("", 3), ("b>", 4)];
        assert_eq!(matches("x<a><b>b><a>", &tokens), [(1, 6, 2), (7, 2, 4), (9, 3, 1)]);
        assert_eq!(matches("aaaa", &[("aa", 5)]), [(0, 2, 5), (2, 2, 5)]);
        assert!(matches("", &tokens).is_empty());
    }

    #[test]
    fn a_text_full_of_one_token_with_another_absent_is_linear() {
        let text = "<s>".repeat(1_000_000);
        let tokens = [("<s>", 0), ("</s>", 1)];
        assert_eq!(matches(&text, &tokens).len(), 1_000_000);
    }
}
