//! `tessera segment`: Chinese word segmentation, words separated by spaces.

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use tessera_text::{SegmentMode, Segmenter};

use super::input::{read_input, write_lines, CliResult};

#[derive(Debug, Clone, Copy, ValueEnum)]
enum Mode {
    /// The most probable segmentation.
    Default,
    /// Also the dictionary words inside long words (for search indexing).
    Search,
    /// Every dictionary word found anywhere, overlapping (jieba's `cut_all`; no HMM).
    All,
}

/// Arguments of `tessera segment`.
#[derive(Debug, Args)]
pub struct SegmentArgs {
    /// Segmentation mode.
    #[arg(long, value_enum, default_value = "default")]
    mode: Mode,
    /// Do not use the HMM for words missing from the dictionary.
    #[arg(long)]
    no_hmm: bool,
    /// A user dictionary (`word [freq] [tag]` per line).
    #[arg(long)]
    user_dict: Option<PathBuf>,
    /// Input file; standard input when absent or `-`.
    file: Option<PathBuf>,
}

/// Runs the command. Whitespace is a word separator in the output, so whitespace tokens are
/// left out.
pub fn run(args: SegmentArgs) -> CliResult<()> {
    let text = read_input(args.file.as_deref())?;
    let mut seg = Segmenter::new();
    if let Some(path) = &args.user_dict {
        seg.load_user_dict(path)?;
    }
    let lines = text.lines().map(|line| {
        let words: Vec<String> = match args.mode {
            Mode::All => seg.cut_all(line).into_iter().map(|w| w.into_owned()).collect(),
            Mode::Default | Mode::Search => {
                let mode = if matches!(args.mode, Mode::Search) { SegmentMode::Search } else { SegmentMode::Default };
                seg.cut_mode(line, mode, !args.no_hmm).into_iter().map(str::to_string).collect()
            }
        };
        words.into_iter().filter(|w| !w.trim().is_empty()).collect::<Vec<_>>().join(" ")
    });
    write_lines(lines)
}
