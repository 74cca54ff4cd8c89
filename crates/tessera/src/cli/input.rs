//! Reading inputs (files or standard input) and writing output lines.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use super::output::{record_failure, Stream};
use tessera_text::io::{read_stdin_text, read_text};

/// Errors of the command-line program: a message for the user.
pub type CliResult<T> = Result<T, Box<dyn std::error::Error>>;

/// The text of `file`, or of standard input when `file` is `None` or `-`.
pub fn read_input(file: Option<&Path>) -> CliResult<String> {
    match file {
        Some(p) if p != Path::new("-") => Ok(read_text(p)?),
        _ => Ok(read_stdin_text()?),
    }
}

/// The texts of all `files` (standard input when there are none).
pub fn read_inputs(files: &[PathBuf]) -> CliResult<Vec<String>> {
    if files.is_empty() {
        return Ok(vec![read_input(None)?]);
    }
    files.iter().map(|f| read_input(Some(f))).collect()
}

/// Writes lines to standard output; stops at the first write error, which the exit status
/// reports (see [`super::output`]).
pub fn write_lines(mut lines: impl Iterator<Item = String>) -> CliResult<()> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let written = lines.try_for_each(|line| writeln!(out, "{line}")).and_then(|()| out.flush());
    if let Err(e) = written {
        record_failure(Stream::Stdout, &e);
    }
    Ok(())
}
