//! The `tessera` command-line program.

mod cli;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    cli::output::exit_code(cli::run(args))
}
