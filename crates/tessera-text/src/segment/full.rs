//! Full mode (jieba's `cut_all`): every dictionary word found anywhere in the text.

use std::borrow::Cow;

use super::blocks::{for_each_run, is_block_char};
use super::Segmenter;

impl Segmenter {
    /// Every dictionary word in `text`, overlapping ones included (Python jieba's
    /// `cut(text, cut_all=True)`). Runs of single ASCII letters and digits are joined into one
    /// word, as jieba does; outside the blocks, whitespace (and `\r\n`) stands alone and other
    /// runs are kept whole. Unlike Python jieba, no empty strings are returned.
    ///
    /// ```
    /// let seg = tessera_text::Segmenter::new();
    /// assert_eq!(seg.cut_all("我来到北京清华大学"),
    ///            ["我", "来到", "北京", "清华", "清华大学", "华大", "大学"]);
    /// ```
    pub fn cut_all<'a>(&self, text: &'a str) -> Vec<Cow<'a, str>> {
        self.dict.ensure_frozen();
        let mut out = Vec::new();
        for_each_run(text, is_block_char, |run, is_block| {
            if is_block {
                self.cut_all_block(run, &mut out);
            } else {
                split_whitespace_runs(run, &mut out);
            }
        });
        out
    }

    fn cut_all_block<'a>(&self, block: &'a str, out: &mut Vec<Cow<'a, str>>) {
        let chars: Vec<(usize, char)> = block.char_indices().collect();
        let n = chars.len();
        let byte_at = |i: usize| if i < n { chars[i].0 } else { block.len() };
        let mut ends: Vec<usize> = Vec::new();
        let mut last_end = 0usize; // one past jieba's `old_j`
        let mut english: Option<Cow<'a, str>> = None;
        for k in 0..n {
            if english.is_some() && !chars[k].1.is_ascii_alphanumeric() {
                out.extend(english.take());
            }
            ends.clear();
            self.dict.for_each_word_at(&chars, k, |end, log_freq| {
                if log_freq > f64::NEG_INFINITY {
                    ends.push(end);
                }
            });
            if ends.is_empty() {
                ends.push(k + 1);
            }
            if ends.len() == 1 && k >= last_end {
                let word = &block[byte_at(k)..byte_at(ends[0])];
                if chars[k].1.is_ascii_alphanumeric() {
                    english = Some(match english.take() {
                        None => Cow::Borrowed(word),
                        Some(buf) => join(buf, word, block),
                    });
                } else if english.is_none() {
                    out.push(Cow::Borrowed(word));
                }
                last_end = ends[0];
            } else {
                for &end in ends.iter().filter(|&&e| e > k + 1) {
                    out.push(Cow::Borrowed(&block[byte_at(k)..byte_at(end)]));
                    last_end = end;
                }
            }
        }
        out.extend(english);
    }
}

/// Appends `word` to `buf`, staying a borrowed slice of `block` when the two are adjacent, and
/// otherwise growing an owned string in place (amortised time linear in the appended length).
fn join<'a>(buf: Cow<'a, str>, word: &'a str, block: &'a str) -> Cow<'a, str> {
    match buf {
        Cow::Borrowed(b) => {
            let start = b.as_ptr() as usize - block.as_ptr() as usize;
            let word_start = word.as_ptr() as usize - block.as_ptr() as usize;
            if start + b.len() == word_start {
                Cow::Borrowed(&block[start..word_start + word.len()])
            } else {
                Cow::Owned(format!("{b}{word}"))
            }
        }
        Cow::Owned(mut s) => {
            s.push_str(word);
            Cow::Owned(s)
        }
    }
}

/// Whitespace characters (and `\r\n`) alone, everything between them as whole runs.
fn split_whitespace_runs<'a>(text: &'a str, out: &mut Vec<Cow<'a, str>>) {
    let mut run_start = 0;
    let mut iter = text.char_indices().peekable();
    while let Some((i, c)) = iter.next() {
        if !c.is_whitespace() {
            continue;
        }
        if run_start < i {
            out.push(Cow::Borrowed(&text[run_start..i]));
        }
        let end = if c == '\r' && text[i + 1..].starts_with('\n') {
            iter.next();
            i + 2
        } else {
            i + c.len_utf8()
        };
        out.push(Cow::Borrowed(&text[i..end]));
        run_start = end;
    }
    if run_start < text.len() {
        out.push(Cow::Borrowed(&text[run_start..]));
    }
}
