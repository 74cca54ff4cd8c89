//! Writing the three formats.

use super::{Failure, Format};
use crate::error::Error;
use crate::vectors::Embeddings;
use std::io::Write;

/// Appends `x` in its shortest form that reads back to the same `f32`.
fn push_value(out: &mut Vec<u8>, x: f32) {
    use std::io::Write as _;
    let a = x.abs();
    // Plain digits where they are short; exponent form for very small or large magnitudes.
    let _ = if a == 0.0 || (1e-4..1e7).contains(&a) { write!(out, "{x}") } else { write!(out, "{x:e}") };
}

/// Checks that a file can hold `word`: not empty, no whitespace (it separates fields).
fn check_word(i: usize, word: &str) -> Result<(), Failure> {
    if word.is_empty() || word.chars().any(char::is_whitespace) {
        return Err(Failure::Error(Error::Config(format!(
            "word {} ({word:?}) cannot be written: vector files need words without whitespace",
            i + 1
        ))));
    }
    Ok(())
}

/// Writes `embeddings` in `format` to `out` (not atomically: see [`super::write`]); an I/O
/// error names the output `<output>`.
///
/// ```
/// use tessera_embed::{format, Embeddings, Format};
/// let e = Embeddings::from_parts(["a"], 3, vec![0.5, -1.0, 1e-9])?;
/// let mut out = Vec::new();
/// format::write_to(&e, &mut out, Format::Text)?;
/// assert_eq!(String::from_utf8(out)?, "1 3\na 0.5 -1 1e-9\n");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_to(embeddings: &Embeddings, out: impl Write, format: Format) -> crate::Result<()> {
    write_rows(embeddings, out, format).map_err(|e| e.into_error(|e| Error::io("<output>", e)))
}

/// [`write_to`], with I/O errors left for the caller to name.
pub(super) fn write_rows(embeddings: &Embeddings, mut out: impl Write, format: Format) -> Result<(), Failure> {
    let dim = embeddings.dim();
    if format != Format::Glove {
        writeln!(out, "{} {dim}", embeddings.len())?;
    }
    // Sized by the first row, not by `dim`: a file's header may give any dimension to no rows.
    let mut line = Vec::new();
    for (i, word) in embeddings.words().iter().enumerate() {
        check_word(i, word)?;
        line.clear();
        line.extend_from_slice(word.as_bytes());
        let v = embeddings.vector(i);
        match format {
            Format::Binary => {
                line.push(b' ');
                for x in v {
                    line.extend_from_slice(&x.to_le_bytes());
                }
            }
            Format::Text | Format::Glove => {
                for &x in v {
                    line.push(b' ');
                    push_value(&mut line, x);
                }
            }
        }
        line.push(b'\n');
        out.write_all(&line)?;
    }
    out.flush()?;
    Ok(())
}
