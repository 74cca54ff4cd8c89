//! Reading word2vec binary files record by record.

use super::text::parse_header;
use super::{rows_to_reserve, Failure, Format, Loaded};
use crate::error::{Error, Place};
use crate::vectors::Embeddings;
use std::io::BufRead;

/// The most bytes of a record's values read at once (a multiple of 4).
const RECORD_PIECE_BYTES: usize = 1 << 16;

/// Longest word accepted: a record without a space this early is not a word2vec record.
const MAX_WORD_BYTES: usize = 1 << 16;

/// A reader that counts the bytes it has consumed.
struct Counted<R> {
    inner: R,
    offset: u64,
}

impl<R: BufRead> Counted<R> {
    fn consume(&mut self, n: usize) {
        self.inner.consume(n);
        self.offset += n as u64;
    }

    /// Skips newlines (the original writer ends every vector with one); false at the end.
    fn skip_newlines(&mut self) -> std::io::Result<bool> {
        loop {
            let buf = self.inner.fill_buf()?;
            if buf.is_empty() {
                return Ok(false);
            }
            let n = buf.iter().take_while(|&&b| b == b'\n').count();
            let done = n < buf.len();
            self.consume(n);
            if done {
                return Ok(true);
            }
        }
    }

    /// Appends bytes up to (not including) the next space, which is consumed. `Ok(false)` when
    /// the input ends first.
    fn read_word(&mut self, word: &mut Vec<u8>) -> std::io::Result<bool> {
        loop {
            let buf = self.inner.fill_buf()?;
            if buf.is_empty() {
                return Ok(false);
            }
            let limit = buf.len().min(MAX_WORD_BYTES + 1 - word.len().min(MAX_WORD_BYTES));
            match buf[..limit].iter().position(|&b| b == b' ') {
                Some(i) => {
                    word.extend_from_slice(&buf[..i]);
                    self.consume(i + 1);
                    return Ok(true);
                }
                None => {
                    word.extend_from_slice(&buf[..limit]);
                    self.consume(limit);
                    if word.len() > MAX_WORD_BYTES {
                        return Ok(true);
                    }
                }
            }
        }
    }

    fn read_exact(&mut self, out: &mut [u8]) -> std::io::Result<bool> {
        let mut filled = 0;
        while filled < out.len() {
            let buf = self.inner.fill_buf()?;
            if buf.is_empty() {
                return Ok(false);
            }
            let n = buf.len().min(out.len() - filled);
            out[filled..filled + n].copy_from_slice(&buf[..n]);
            self.consume(n);
            filled += n;
        }
        Ok(true)
    }
}

/// Reads a binary word2vec file.
pub(super) fn read(r: impl BufRead, name: &str, size: Option<u64>) -> Result<Loaded, Failure> {
    let mut r = Counted { inner: r, offset: 0 };
    let mut head = Vec::new();
    let n = r.inner.read_until(b'\n', &mut head)?;
    r.offset = n as u64;
    let line1 = |reason: String| Failure::Error(Error::malformed(name, Place::Line(1), reason));
    let trimmed = head.strip_suffix(b"\n").unwrap_or(&head);
    let Some((words, dim)) = parse_header(trimmed) else {
        let shown = String::from_utf8_lossy(trimmed).chars().take(60).collect::<String>();
        return Err(line1(format!("`{shown}` is not a `WORDS DIM` header (two whole numbers, DIM at least 1)")));
    };
    let record_bytes = dim
        .checked_mul(4)
        .filter(|b| rows_to_reserve(words, size, *b as u64 + 2, dim).checked_mul(*b).is_some())
        .ok_or_else(|| line1(format!("{words} words of dimension {dim} do not fit in memory")))?;
    let reserve = rows_to_reserve(words, size, record_bytes as u64 + 2, dim);
    let mut loaded = Loaded::new(Embeddings::with_capacity(dim, reserve, reserve * 8), Format::Binary);
    let mut word = Vec::with_capacity(64);
    // A record's values are read a piece at a time: a header's dimension sizes no buffer.
    let mut raw = vec![0u8; record_bytes.min(RECORD_PIECE_BYTES)];
    for index in 1..=words {
        let more = r.skip_newlines()?;
        let place = Place::Record { index, offset: r.offset };
        let bad = |reason: String| Failure::Error(Error::malformed(name, place, reason));
        let ended = || bad(format!("the file ends inside record {index}: the header announces {words} words"));
        word.clear();
        if !more || !r.read_word(&mut word)? {
            return Err(ended());
        }
        if word.len() > MAX_WORD_BYTES {
            return Err(bad(format!("no space within {MAX_WORD_BYTES} bytes: not a binary word2vec record")));
        }
        let text = std::str::from_utf8(&word)
            .map_err(|e| bad(format!("the word is not valid UTF-8 (byte {} of the word)", e.valid_up_to() + 1)))?;
        if text.is_empty() {
            return Err(bad("the word is empty".into()));
        }
        let data = loaded.embeddings.data_mut();
        let start = data.len();
        let mut left = record_bytes;
        while left > 0 {
            let piece = &mut raw[..left.min(RECORD_PIECE_BYTES)];
            if !r.read_exact(piece)? {
                return Err(ended());
            }
            data.extend(piece.chunks_exact(4).map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])));
            left -= piece.len();
        }
        if let Some(k) = data[start..].iter().position(|v| !v.is_finite()) {
            let v = data[start + k];
            data.truncate(start);
            return Err(bad(format!("value {} of `{text}` is {v}, not a finite number", k + 1)));
        }
        if !loaded.embeddings.commit_row(text) {
            loaded.duplicate(text, place);
        }
    }
    // Only blank bytes may follow the last record.
    loop {
        let buf = r.inner.fill_buf()?;
        if buf.is_empty() {
            break;
        }
        if let Some(i) = buf.iter().position(|b| !b.is_ascii_whitespace()) {
            let place = Place::Record { index: words + 1, offset: r.offset + i as u64 };
            let reason = format!("data after the {words} records the header announces");
            return Err(Failure::Error(Error::malformed(name, place, reason)));
        }
        let n = buf.len();
        r.consume(n);
    }
    Ok(loaded)
}
