//! The `tessera` command-line program.

mod cli;

use std::process::ExitCode;

use clap::Parser;

/// Freed tensor buffers are kept and handed out again: a training step then takes no fresh
/// pages from the system (see `tessera::core::host_memory`).
#[global_allocator]
static ALLOCATOR: tessera_core::host_memory::CachingAllocator = tessera_core::host_memory::CachingAllocator;

fn main() -> ExitCode {
    let args = cli::Cli::parse();
    cli::run_on_pool(args)
}
