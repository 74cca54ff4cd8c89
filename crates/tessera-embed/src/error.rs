//! The crate's error type.

use std::fmt;
use std::path::PathBuf;

/// Result alias for this crate.
pub type Result<T> = std::result::Result<T, Error>;

/// Where in a file something is wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// A 1-based line of a text file.
    Line(usize),
    /// A 1-based record of a binary word2vec file and the byte offset where it starts.
    Record {
        /// 1-based record number (the header is not a record).
        index: usize,
        /// Byte offset of the record's first byte in the file.
        offset: u64,
    },
    /// The end of the file.
    End,
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Line(l) => write!(f, "line {l}"),
            Place::Record { index, offset } => write!(f, "record {index} (byte {offset})"),
            Place::End => write!(f, "end of file"),
        }
    }
}

/// Everything that can go wrong in `tessera-embed`.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// A vector, corpus or evaluation file is malformed.
    #[error("{source_name}: {place}: {reason}")]
    Malformed {
        /// The file (or other source) at fault.
        source_name: String,
        /// Where in it.
        place: Place,
        /// What is wrong.
        reason: String,
    },
    /// Text preprocessing failed (a corpus that is not UTF-8, for example).
    #[error(transparent)]
    Text(#[from] tessera_text::Error),
    /// A setting is out of range or the settings do not fit the data.
    #[error("{0}")]
    Config(String),
    /// A word asked for is not in the vectors.
    #[error("`{word}` is not in the vocabulary{within}")]
    UnknownWord {
        /// The word.
        word: String,
        /// Which part of the vocabulary was searched (empty for all of it).
        within: String,
    },
}

impl Error {
    /// An I/O error on `path`.
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io { path: path.into(), source }
    }

    /// A malformed-input error at `place` in `source_name`.
    pub(crate) fn malformed(source_name: &str, place: Place, reason: impl Into<String>) -> Error {
        Error::Malformed { source_name: source_name.to_string(), place, reason: reason.into() }
    }
}
