//! Character classes that cut text into blocks before segmentation (jieba's regular expressions).

use crate::chars::is_decimal_digit;

/// Characters segmented with the dictionary: CJK ideographs, ASCII letters and digits, `+#&._%-`.
#[inline]
pub(crate) fn is_block_char(c: char) -> bool {
    if c.is_ascii() {
        return c.is_ascii_alphanumeric() || matches!(c, '+' | '#' | '&' | '.' | '_' | '%' | '-');
    }
    matches!(c as u32,
        0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xF900..=0xFAFF
        | 0x20000..=0x2A6DF
        | 0x2A700..=0x2B73F
        | 0x2B740..=0x2B81F
        | 0x2B820..=0x2CEAF
        | 0x2CEB0..=0x2EBEF
        | 0x2F800..=0x2FA1F)
}

/// Characters the HMM segments: the basic CJK block as jieba defines it.
#[inline]
pub(crate) fn is_hmm_han(c: char) -> bool {
    ('\u{4E00}'..='\u{9FD5}').contains(&c)
}

/// Splits `text` into maximal runs where `pred` holds or does not; calls `f(run, matched)`.
pub(crate) fn for_each_run<'a>(text: &'a str, pred: impl Fn(char) -> bool, mut f: impl FnMut(&'a str, bool)) {
    let mut start = 0;
    let mut state: Option<bool> = None;
    for (i, c) in text.char_indices() {
        let m = pred(c);
        match state {
            Some(s) if s != m => {
                f(&text[start..i], s);
                start = i;
            }
            _ => {}
        }
        state = Some(m);
    }
    if let Some(s) = state {
        f(&text[start..], s);
    }
}

/// Pieces of a non-CJK run inside an HMM span, following jieba's
/// `[a-zA-Z0-9]+(?:.\d+)?%?` (matched pieces and the text between them).
pub(crate) fn split_alnum_runs<'a>(text: &'a str, out: &mut Vec<&'a str>) {
    let mut pos = 0;
    let mut gap_start = 0;
    let bytes = text.as_bytes();
    while pos < text.len() {
        if !bytes[pos].is_ascii_alphanumeric() {
            pos += text[pos..].chars().next().map_or(1, char::len_utf8);
            continue;
        }
        let start = pos;
        while pos < bytes.len() && bytes[pos].is_ascii_alphanumeric() {
            pos += 1;
        }
        // Optional: any one character but a newline, then one or more digits.
        let mut rest = text[pos..].chars();
        if let Some(sep) = rest.next() {
            if sep != '\n' {
                let digits_start = pos + sep.len_utf8();
                let digits_len: usize =
                    text[digits_start..].chars().take_while(|c| is_decimal_digit(*c)).map(char::len_utf8).sum();
                if digits_len > 0 {
                    pos = digits_start + digits_len;
                }
            }
        }
        if text[pos..].starts_with('%') {
            pos += 1;
        }
        if gap_start < start {
            out.push(&text[gap_start..start]);
        }
        out.push(&text[start..pos]);
        gap_start = pos;
    }
    if gap_start < text.len() {
        out.push(&text[gap_start..]);
    }
}

/// Pieces of text outside the blocks: `\r\n` and each whitespace character alone, every other
/// character alone.
pub(crate) fn split_other<'a>(text: &'a str, out: &mut Vec<&'a str>) {
    let mut iter = text.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        if c == '\r' && text[i + 1..].starts_with('\n') {
            iter.next();
            out.push(&text[i..i + 2]);
        } else {
            out.push(&text[i..i + c.len_utf8()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alnum_runs_follow_jiebas_pattern() {
        let mut out = Vec::new();
        split_alnum_runs("ab3.14%xy-z", &mut out);
        assert_eq!(out, ["ab3.14%", "xy", "-", "z"]);
    }

    #[test]
    fn other_keeps_crlf_together() {
        let mut out = Vec::new();
        split_other("，\r\n ！", &mut out);
        assert_eq!(out, ["，", "\r\n", " ", "！"]);
    }
}
