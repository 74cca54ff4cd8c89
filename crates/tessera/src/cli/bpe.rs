//! `tessera bpe train`: train a byte-level BPE tokenizer and save it as tokenizer.json.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use tessera_text::BpeTrainer;

use super::input::{read_inputs, CliResult};
use super::ranges::count;

/// Arguments of `tessera bpe`.
#[derive(Debug, Args)]
pub struct BpeArgs {
    #[command(subcommand)]
    command: BpeCommand,
}

#[derive(Debug, Subcommand)]
enum BpeCommand {
    /// Train on text files (standard input when none are given).
    Train(TrainArgs),
}

#[derive(Debug, Args)]
struct TrainArgs {
    /// Vocabulary size: 256 bytes + special tokens + merges.
    #[arg(long, value_parser = count)]
    vocab_size: usize,
    /// Output file (Hugging Face tokenizer.json format).
    #[arg(long)]
    out: PathBuf,
    /// Pairs seen fewer times are not merged.
    #[arg(long, default_value_t = 2)]
    min_frequency: u64,
    /// Special tokens (repeatable); `<|endoftext|>` when none is given.
    #[arg(long = "special")]
    special: Vec<String>,
    /// Training text files.
    files: Vec<PathBuf>,
}

/// Runs the command.
pub fn run(args: BpeArgs) -> CliResult<()> {
    let BpeCommand::Train(args) = args.command;
    let texts = read_inputs(&args.files)?;
    let mut trainer = BpeTrainer::new(args.vocab_size);
    trainer.min_frequency = args.min_frequency;
    if !args.special.is_empty() {
        trainer.special_tokens = args.special;
    }
    let start = std::time::Instant::now();
    let bpe = trainer.train(texts.iter().map(String::as_str))?;
    bpe.save_tokenizer_json(&args.out)?;
    warn!(
        "trained {} tokens in {:.2} s, saved to {}",
        bpe.vocab_size(),
        start.elapsed().as_secs_f64(),
        args.out.display()
    );
    Ok(())
}
