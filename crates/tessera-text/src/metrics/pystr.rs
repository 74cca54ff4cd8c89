//! Python's whitespace rules, which sacreBLEU's `str.split()` and `str.rstrip()` follow.

/// Python's `str.isspace()`: Unicode `White_Space` plus the ASCII information separators
/// U+001C..U+001F, which Python also treats as whitespace (their bidi class is B or S).
pub(crate) fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Python's `s.split()`: the non-empty runs between whitespace.
pub(crate) fn split(s: &str) -> impl Iterator<Item = &str> {
    s.split(is_space).filter(|w| !w.is_empty())
}

/// Python's `s.rstrip()`.
pub(crate) fn rstrip(s: &str) -> &str {
    s.trim_end_matches(is_space)
}

/// Python's `s.lower()` when `lowercase` is set, the text unchanged otherwise.
pub(crate) fn maybe_lower(s: &str, lowercase: bool) -> std::borrow::Cow<'_, str> {
    if lowercase {
        s.to_lowercase().into()
    } else {
        s.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_like_python() {
        let words: Vec<_> = split(" a\u{1c}b\u{a0}c\u{3000}\td \u{85}").collect();
        assert_eq!(words, ["a", "b", "c", "d"]);
        assert_eq!(split("").count(), 0);
        assert_eq!(rstrip("x \u{1f}\n"), "x");
    }
}
