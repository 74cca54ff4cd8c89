//! Command-line definitions and dispatch; one file per subcommand.

mod bpe;
mod input;
mod segment;
mod tokenize;

use clap::{Parser, Subcommand};

pub use input::CliResult;

/// Tessera: a deep-learning framework. Text tools for now; training and evaluation follow.
#[derive(Debug, Parser)]
#[command(name = "tessera", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Tokenize text: one line of ids (or tokens) per input line.
    Tokenize(tokenize::TokenizeArgs),
    /// Segment Chinese text into words separated by spaces, line by line.
    Segment(segment::SegmentArgs),
    /// Byte-level BPE tools.
    Bpe(bpe::BpeArgs),
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> CliResult<()> {
    match cli.command {
        Command::Tokenize(args) => tokenize::run(args),
        Command::Segment(args) => segment::run(args),
        Command::Bpe(args) => bpe::run(args),
    }
}
