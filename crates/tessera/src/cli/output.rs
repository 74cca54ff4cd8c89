//! What the program prints, written so that output that cannot be written never ends a command
//! in a panic, and never ends a training run: the first failure is remembered, later writes to
//! that stream are skipped, and the exit status reports it when the command is done.
//!
//! A closed pipe (`tessera ... | head -1`) ends quietly with status 141, what a shell reports
//! for a program that `head` stopped; any other write error (`> /dev/full`) is reported as an
//! error with status 1.

use std::fmt;
use std::io::{ErrorKind, Write};
use std::process::ExitCode;
use std::sync::Mutex;

/// The conventional status of a program stopped by a closed pipe (128 + SIGPIPE).
const BROKEN_PIPE_STATUS: u8 = 141;

/// A stream the program writes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stream {
    /// Standard output: results.
    Stdout,
    /// Standard error: progress, warnings and errors.
    Stderr,
}

impl Stream {
    fn name(self) -> &'static str {
        match self {
            Stream::Stdout => "standard output",
            Stream::Stderr => "standard error",
        }
    }
}

/// The first write error of each stream: (kind, message).
static FAILURES: Mutex<[Option<(ErrorKind, String)>; 2]> = Mutex::new([None, None]);

fn failures() -> std::sync::MutexGuard<'static, [Option<(ErrorKind, String)>; 2]> {
    FAILURES.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Writes `args` and a newline to `stream`, unless an earlier write to it failed; a failure is
/// remembered for [`exit_code`] instead of stopping the program.
pub fn write_line(stream: Stream, args: fmt::Arguments<'_>) {
    write_text(stream, format_args!("{args}\n"));
}

/// Writes `args` to `stream` as [`write_line`] does, but with no newline added: text printed as
/// it is made (standard output is flushed, so that it shows at once).
pub fn write_text(stream: Stream, args: fmt::Arguments<'_>) {
    let slot = stream as usize;
    if failures()[slot].is_some() {
        return;
    }
    let result = match stream {
        Stream::Stdout => write!(std::io::stdout().lock(), "{args}").and_then(|()| std::io::stdout().flush()),
        Stream::Stderr => write!(std::io::stderr().lock(), "{args}"),
    };
    if let Err(e) = result {
        failures()[slot].get_or_insert((e.kind(), e.to_string()));
    }
}

/// Whether a write to `stream` has failed (a closed pipe): work whose only purpose is output
/// there can stop.
pub fn failed(stream: Stream) -> bool {
    failures()[stream as usize].is_some()
}

/// Remembers a write error on `stream` met outside [`write_line`] (e.g. by a buffered writer).
pub fn record_failure(stream: Stream, error: &std::io::Error) {
    failures()[stream as usize].get_or_insert((error.kind(), error.to_string()));
}

/// The exit status of a command that returned `result`, after reporting its error (or a failed
/// write to standard output) on standard error.
pub fn exit_code(result: Result<(), Box<dyn std::error::Error>>) -> ExitCode {
    if let Err(e) = result {
        write_line(Stream::Stderr, format_args!("error: {e}"));
        return ExitCode::FAILURE;
    }
    let stdout_failure = failures()[Stream::Stdout as usize].clone();
    match stdout_failure {
        None => ExitCode::SUCCESS,
        Some((ErrorKind::BrokenPipe, _)) => ExitCode::from(BROKEN_PIPE_STATUS),
        Some((_, message)) => {
            write_line(Stream::Stderr, format_args!("error: writing to {}: {message}", Stream::Stdout.name()));
            ExitCode::FAILURE
        }
    }
}

/// `println!` through [`write_line`]: never panics when standard output is closed or full.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::cli::output::write_line($crate::cli::output::Stream::Stdout, format_args!($($arg)*))
    };
}

/// `eprintln!` through [`write_line`]: never panics when standard error is closed or full.
macro_rules! warn {
    ($($arg:tt)*) => {
        $crate::cli::output::write_line($crate::cli::output::Stream::Stderr, format_args!($($arg)*))
    };
}
