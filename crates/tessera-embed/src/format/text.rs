//! Reading word2vec text (with a `WORDS DIM` header) and GloVe text (without) line by line.

use super::{rows_to_reserve, Failure, Format, Loaded};
use crate::error::{Error, Place};
use crate::vectors::Embeddings;
use std::io::BufRead;

/// `WORDS DIM` (two whole numbers, `DIM` at least 1), or `None` when the line is not a header.
pub(super) fn parse_header(line: &[u8]) -> Option<(usize, usize)> {
    let s = std::str::from_utf8(line).ok()?;
    let mut fields = s.split_ascii_whitespace();
    let words = fields.next()?.parse::<usize>().ok()?;
    let dim = fields.next()?.parse::<usize>().ok()?;
    (fields.next().is_none() && dim >= 1).then_some((words, dim))
}

fn is_separator(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// Cuts the line terminator and trailing blanks.
fn trim_end(mut line: &[u8]) -> &[u8] {
    while let [rest @ .., b'\n' | b'\r' | b' ' | b'\t'] = line {
        line = rest;
    }
    line
}

/// Reads rows into a matrix; with `header`, word2vec text, else GloVe.
pub(super) fn read(mut r: impl BufRead, name: &str, header: bool, size: Option<u64>) -> Result<Loaded, Failure> {
    let bad = |line: usize, reason: String| Failure::Error(Error::malformed(name, Place::Line(line), reason));
    let mut buf = Vec::with_capacity(4096);
    let mut line_no = 0usize;
    let mut announced = None;
    let mut loaded: Option<Loaded> = None;
    if header {
        line_no = 1;
        if r.read_until(b'\n', &mut buf)? == 0 {
            return Err(bad(1, "the file is empty: a word2vec text file starts with a `WORDS DIM` header".into()));
        }
        let Some((words, dim)) = parse_header(trim_end(&buf)) else {
            let shown = String::from_utf8_lossy(trim_end(&buf)).chars().take(60).collect::<String>();
            return Err(bad(1, format!("`{shown}` is not a `WORDS DIM` header (two whole numbers, DIM at least 1)")));
        };
        let reserve = rows_to_reserve(words, size, (dim as u64).saturating_mul(2), dim);
        if reserve.checked_mul(dim).is_none() {
            return Err(bad(1, format!("{words} words of dimension {dim} do not fit in memory")));
        }
        announced = Some(words);
        loaded = Some(Loaded::new(Embeddings::with_capacity(dim, reserve, reserve * 8), Format::Text));
    }
    let mut rows = 0usize;
    loop {
        buf.clear();
        if r.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        line_no += 1;
        let bytes = trim_end(&buf);
        if bytes.is_empty() {
            continue;
        }
        let line = std::str::from_utf8(bytes)
            .map_err(|e| bad(line_no, format!("not valid UTF-8 (byte {} of the line)", e.valid_up_to() + 1)))?;
        let (word, values) = line.split_once(is_separator).unwrap_or((line, ""));
        if word.is_empty() {
            return Err(bad(line_no, "the row starts with a blank: its word is empty".into()));
        }
        if announced.is_some_and(|n| rows == n) {
            return Err(bad(line_no, format!("more rows than the {rows} words the header announces")));
        }
        let loaded = match &mut loaded {
            Some(l) => l,
            None => {
                // GloVe: the first row sets the dimension and, with the file size, the capacity.
                let dim = values.split(is_separator).filter(|f| !f.is_empty()).count();
                if dim == 0 {
                    return Err(bad(line_no, format!("the row `{word}` has no values")));
                }
                let guess = size.map_or(1 << 12, |s| (s / (bytes.len() as u64 + 1)) as usize * 21 / 20 + 16);
                let reserve = rows_to_reserve(guess, size, (dim as u64).saturating_mul(2), dim);
                loaded.insert(Loaded::new(Embeddings::with_capacity(dim, reserve, reserve * 8), Format::Glove))
            }
        };
        let dim = loaded.embeddings.dim();
        let data = loaded.embeddings.data_mut();
        let start = data.len();
        let mut count = 0usize;
        for field in values.split(is_separator).filter(|f| !f.is_empty()) {
            count += 1;
            if count > dim {
                continue;
            }
            match field.parse::<f32>() {
                Ok(v) if v.is_finite() => data.push(v),
                Ok(_) => {
                    return Err(bad(line_no, format!("value {count} of `{word}` is `{field}`, not a finite number")))
                }
                Err(_) => return Err(bad(line_no, format!("value {count} of `{word}` is `{field}`, not a number"))),
            }
        }
        if count != dim {
            data.truncate(start);
            return Err(bad(line_no, format!("`{word}` has {count} values, the vectors have {dim}")));
        }
        if !loaded.embeddings.commit_row(word) {
            loaded.duplicate(word, Place::Line(line_no));
        }
        rows += 1;
    }
    if let Some(n) = announced {
        if rows < n {
            let reason = format!("the header announces {n} words, the file has {rows} rows");
            return Err(Failure::Error(Error::malformed(name, Place::End, reason)));
        }
    }
    match loaded {
        Some(l) => Ok(l),
        None => Err(bad(1, "the file is empty: no vectors".into())),
    }
}
