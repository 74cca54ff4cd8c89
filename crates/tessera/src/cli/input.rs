//! Reading inputs (files or standard input) and writing output lines.

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

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

/// Writes lines to standard output; a closed pipe ends the output quietly.
pub fn write_lines(lines: impl Iterator<Item = String>) -> CliResult<()> {
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    for line in lines {
        if let Err(e) = writeln!(out, "{line}") {
            return ignore_broken_pipe(e);
        }
    }
    out.flush().or_else(ignore_broken_pipe)
}

fn ignore_broken_pipe(e: std::io::Error) -> CliResult<()> {
    if e.kind() == std::io::ErrorKind::BrokenPipe {
        Ok(())
    } else {
        Err(format!("writing to standard output: {e}").into())
    }
}
