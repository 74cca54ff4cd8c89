//! GPT-2's pre-tokenization pattern as a hand-written state machine.
//!
//! The pattern is
//! `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`.
//! The `(?!\S)` look-ahead means a run of whitespace before a non-space character gives up its
//! last character, so that a single space can join the following word.

use super::Span;
use crate::chars::{is_letter, is_number, is_space};

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Letter,
    Number,
    Other,
    Space,
}

#[inline]
fn class_of(c: char) -> Class {
    if c.is_ascii() {
        let b = c as u8;
        return if b.is_ascii_alphabetic() {
            Class::Letter
        } else if b.is_ascii_digit() {
            Class::Number
        } else if matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c) {
            Class::Space
        } else {
            Class::Other
        };
    }
    if is_space(c) {
        Class::Space
    } else if is_letter(c) {
        Class::Letter
    } else if is_number(c) {
        Class::Number
    } else {
        Class::Other
    }
}

/// Iterator over the GPT-2 pre-token spans of a string.
///
/// ```
/// use tessera_text::pretokenize::gpt2_split;
/// let text = "Hello world's  end!";
/// let words: Vec<&str> = gpt2_split(text).map(|(s, e)| &text[s..e]).collect();
/// assert_eq!(words, ["Hello", " world", "'s", " ", " end", "!"]);
/// ```
#[derive(Debug, Clone)]
pub struct Gpt2Splitter<'a> {
    text: &'a str,
    pos: usize,
}

/// Splits `text` with GPT-2's pre-tokenization rule; the spans cover the text exactly.
pub fn gpt2_split(text: &str) -> Gpt2Splitter<'_> {
    Gpt2Splitter { text, pos: 0 }
}

impl Iterator for Gpt2Splitter<'_> {
    type Item = Span;

    fn next(&mut self) -> Option<Span> {
        if self.pos >= self.text.len() {
            return None;
        }
        let start = self.pos;
        let end = token_end(self.text, start);
        self.pos = end;
        Some((start, end))
    }
}

/// End of the run of characters of class `class` starting at byte `pos`.
#[inline]
fn run_end(text: &str, mut pos: usize, class: Class) -> usize {
    let bytes = text.as_bytes();
    while pos < bytes.len() {
        let b = bytes[pos];
        if b < 0x80 {
            if class_of(b as char) != class {
                return pos;
            }
            pos += 1;
        } else {
            let Some(c) = text[pos..].chars().next() else {
                return pos;
            };
            if class_of(c) != class {
                return pos;
            }
            pos += c.len_utf8();
        }
    }
    pos
}

fn token_end(text: &str, start: usize) -> usize {
    let rest = &text[start..];
    let bytes = rest.as_bytes();
    let mut chars = rest.chars();
    let Some(first) = chars.next() else {
        return start;
    };
    if first == '\'' && bytes.len() >= 2 {
        match bytes[1] {
            b's' | b't' | b'm' | b'd' => return start + 2,
            _ => {}
        }
        if bytes.len() >= 3 && matches!((bytes[1], bytes[2]), (b'r', b'e') | (b'v', b'e') | (b'l', b'l')) {
            return start + 3;
        }
    }
    let first_class = class_of(first);
    if first == ' ' {
        if let Some(next) = chars.next() {
            let next_class = class_of(next);
            if next_class != Class::Space {
                return run_end(text, start + 1, next_class);
            }
        }
    }
    if first_class != Class::Space {
        return run_end(text, start, first_class);
    }
    // A whitespace run: keep the last character back when a non-space follows.
    let end = run_end(text, start, Class::Space);
    if end == text.len() {
        return end;
    }
    let last_start = text[start..end].char_indices().next_back().map(|(i, _)| start + i).unwrap_or(start);
    if last_start > start {
        last_start
    } else {
        end
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pieces(text: &str) -> Vec<&str> {
        gpt2_split(text).map(|(s, e)| &text[s..e]).collect()
    }

    #[test]
    fn contractions_and_words() {
        assert_eq!(pieces("I'll don't we've"), ["I", "'ll", " don", "'t", " we", "'ve"]);
        assert_eq!(pieces("?'s"), ["?'", "s"]);
    }

    #[test]
    fn whitespace_runs_leave_one_space_for_the_next_word() {
        assert_eq!(pieces("a   b"), ["a", "  ", " b"]);
        assert_eq!(pieces("a\n\nb"), ["a", "\n", "\n", "b"]);
        assert_eq!(pieces("a  "), ["a", "  "]);
        assert_eq!(pieces(" \tx"), [" ", "\t", "x"]);
    }

    #[test]
    fn numbers_letters_and_symbols() {
        assert_eq!(pieces("abc123 456!!"), ["abc", "123", " 456", "!!"]);
        assert_eq!(pieces("你好 世界🙂"), ["你好", " 世界", "🙂"]);
        assert!(pieces("").is_empty());
    }
}
