//! Vector files: word2vec text and binary, GloVe text. Readers stream (one line or record at a
//! time, straight into one preallocated matrix), writers write a temporary file and rename it.
//!
//! | format | header | row |
//! |---|---|---|
//! | word2vec text | `WORDS DIM` | `word v1 ... vDIM` |
//! | word2vec binary | `WORDS DIM` | `word`, a space, `DIM` little-endian `f32`s, a newline (optional when reading) |
//! | GloVe text | none | `word v1 ... vDIM` |
//!
//! Policies (the same for every format):
//! - A word met again keeps its **first** vector; later ones are skipped and counted
//!   ([`Loaded::duplicates`], with the first such word and its place).
//! - A header that disagrees with the rows (fewer or more rows), a row of the wrong width, a value
//!   that is not a finite number, a word that is not UTF-8 or an empty word is an error naming
//!   the file and the line (text) or record and byte offset (binary).
//! - Blank lines in text files are skipped; fields may be separated by spaces or tabs, and a
//!   trailing space (the original word2vec writes one) is allowed.
//! - Memory: the header's counts size the matrix once, capped by what the file's size can hold
//!   (a lying header cannot make the reader allocate more than the file could fill); a GloVe
//!   file is sized from its first row and the file size, then grows if needed.

mod atomic;
mod binary;
mod text;
mod write;

use crate::error::{Error, Place, Result};
use crate::vectors::Embeddings;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

pub use atomic::AtomicFile;
pub use write::write_to;

/// A vector file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// word2vec text: a `WORDS DIM` header, then one `word v1 ... vDIM` line per word.
    Text,
    /// word2vec binary: a `WORDS DIM` header, then per word its bytes, a space and `DIM`
    /// little-endian `f32`s (and a newline).
    Binary,
    /// GloVe text: `word v1 ... vDIM` lines, no header.
    Glove,
}

impl Format {
    /// `text`, `binary` or `glove`.
    pub fn from_name(name: &str) -> Result<Format> {
        match name {
            "text" => Ok(Format::Text),
            "binary" | "bin" => Ok(Format::Binary),
            "glove" => Ok(Format::Glove),
            other => Err(Error::Config(format!("unknown vector format `{other}`: use text, binary or glove"))),
        }
    }

    /// The name [`Format::from_name`] reads.
    pub fn name(self) -> &'static str {
        match self {
            Format::Text => "text",
            Format::Binary => "binary",
            Format::Glove => "glove",
        }
    }

    /// The format to write `path` in when none is given: binary for `.bin`, else word2vec text.
    pub fn for_output(path: &Path) -> Format {
        match path.extension().and_then(|e| e.to_str()) {
            Some("bin") => Format::Binary,
            _ => Format::Text,
        }
    }

    /// Guesses the format of `path` from its first two lines: no `WORDS DIM` header means GloVe;
    /// after a header, a first row that reads as text means word2vec text, else binary.
    pub fn detect(path: &Path) -> Result<Format> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let mut head = Vec::new();
        // The header and the first row: at most a few hundred kilobytes for any real file.
        let mut r = BufReader::new(file).take(1 << 20);
        r.read_until(b'\n', &mut head).map_err(|e| Error::io(path, e))?;
        let Some((_, dim)) = text::parse_header(&head) else { return Ok(Format::Glove) };
        let mut row = Vec::new();
        r.read_until(b'\n', &mut row).map_err(|e| Error::io(path, e))?;
        let is_text = std::str::from_utf8(&row).is_ok_and(|s| {
            let mut fields = s.split([' ', '\t', '\r', '\n']).filter(|f| !f.is_empty());
            fields.next().is_some() && fields.clone().count() == dim && fields.all(|f| f.parse::<f32>().is_ok())
        });
        Ok(if is_text || row.is_empty() { Format::Text } else { Format::Binary })
    }
}

/// Vectors read from a file, and what the reader skipped.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The vectors, in file order.
    pub embeddings: Embeddings,
    /// The format they were read as.
    pub format: Format,
    /// Rows skipped because their word came earlier (the first one wins).
    pub duplicates: usize,
    /// The first skipped word and where it was.
    pub first_duplicate: Option<(String, Place)>,
}

impl Loaded {
    fn new(embeddings: Embeddings, format: Format) -> Self {
        Loaded { embeddings, format, duplicates: 0, first_duplicate: None }
    }

    fn duplicate(&mut self, word: &str, place: Place) {
        self.duplicates += 1;
        if self.first_duplicate.is_none() {
            self.first_duplicate = Some((word.to_string(), place));
        }
    }
}

/// Reads the vector file `path`, in `format` or, when `None`, the one [`Format::detect`] finds.
///
/// ```
/// use tessera_embed::{format, Embeddings, Format};
/// let dir = std::env::temp_dir().join(format!("embed-doc-{}", std::process::id()));
/// std::fs::create_dir_all(&dir)?;
/// let path = dir.join("v.txt");
/// let e = Embeddings::from_parts(["a", "b"], 2, vec![1.0, 2.0, 3.0, 4.5])?;
/// format::write(&e, &path, Format::Text)?;
/// let back = format::read(&path, None)?;
/// assert_eq!(back.format, Format::Text);
/// assert_eq!(back.embeddings.get("b"), Some(&[3.0, 4.5][..]));
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read(path: &Path, format: Option<Format>) -> Result<Loaded> {
    let format = match format {
        Some(f) => f,
        None => Format::detect(path)?,
    };
    let file = File::open(path).map_err(|e| Error::io(path, e))?;
    let size = file.metadata().ok().map(|m| m.len());
    let reader = BufReader::with_capacity(1 << 20, file);
    read_from(reader, format, &path.display().to_string(), size)
}

/// Reads vectors in `format` from `reader`; `source_name` names it in errors; `size` (the
/// input's length in bytes, when known) caps what a header can make the reader allocate.
pub fn read_from(reader: impl BufRead, format: Format, source_name: &str, size: Option<u64>) -> Result<Loaded> {
    let io = |e| Error::io(source_name, e);
    let mut loaded = match format {
        Format::Text => text::read(reader, source_name, true, size).map_err(|e| e.into_error(io))?,
        Format::Glove => text::read(reader, source_name, false, size).map_err(|e| e.into_error(io))?,
        Format::Binary => binary::read(reader, source_name, size).map_err(|e| e.into_error(io))?,
    };
    loaded.embeddings.shrink_to_fit();
    Ok(loaded)
}

/// Writes `embeddings` to `path` in `format`, atomically (a temporary file beside it, then a
/// rename). A word that a format cannot hold (empty, or with whitespace) is an error.
pub fn write(embeddings: &Embeddings, path: &Path, format: Format) -> Result<()> {
    let mut file = AtomicFile::create(path)?;
    write::write_rows(embeddings, file.writer(), format).map_err(|e| e.into_error(|e| Error::io(path, e)))?;
    file.commit()
}

/// A reader's or writer's failure: an I/O error (named by the caller) or a finished error.
pub(crate) enum Failure {
    Io(std::io::Error),
    Error(Error),
}

impl Failure {
    pub(crate) fn into_error(self, io: impl FnOnce(std::io::Error) -> Error) -> Error {
        match self {
            Failure::Io(e) => io(e),
            Failure::Error(e) => e,
        }
    }
}

impl From<std::io::Error> for Failure {
    fn from(e: std::io::Error) -> Self {
        Failure::Io(e)
    }
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Error(e)
    }
}

/// Values a reader preallocates at most for an input of unknown size.
const UNSIZED_RESERVE_VALUES: usize = 1 << 22;

/// How many rows of `dim` values a header may make a reader preallocate: the header's count,
/// capped by the whole rows `size` bytes can hold at `min_row_bytes` each, or, when the size is
/// unknown, by [`UNSIZED_RESERVE_VALUES`]. Rows past the reservation still read (the matrix
/// grows), so a header's numbers never size more memory than the input's own bytes.
fn rows_to_reserve(announced: usize, size: Option<u64>, min_row_bytes: u64, dim: usize) -> usize {
    match size {
        Some(s) => announced.min((s / min_row_bytes.max(1)).try_into().unwrap_or(usize::MAX)),
        None => announced.min(UNSIZED_RESERVE_VALUES / dim.max(1)),
    }
}
