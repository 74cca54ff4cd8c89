//! `tessera tokenize`: text to ids or tokens, one output line per input line.

use std::path::PathBuf;

use clap::Args;
use tessera_text::{ByteLevelBpe, CharTokenizer, Vocab, WordTokenizer};

use super::input::{read_input, write_lines, CliResult};

/// Arguments of `tessera tokenize`.
#[derive(Debug, Args)]
pub struct TokenizeArgs {
    /// `gpt2`, `char`, `word`, or `bpe:FILE` for a Hugging Face tokenizer.json (byte-level BPE).
    #[arg(long, default_value = "gpt2")]
    tokenizer: String,
    /// Print tokens instead of ids (BPE tokens in their byte-level spelling, e.g. `Ġworld`).
    #[arg(long)]
    tokens: bool,
    /// For `char`/`word`: a vocabulary saved with `--save-vocab`; without it the vocabulary is
    /// built from the input itself.
    #[arg(long)]
    vocab: Option<PathBuf>,
    /// For `char`/`word`: save the vocabulary used (JSON).
    #[arg(long)]
    save_vocab: Option<PathBuf>,
    /// Input file; standard input when absent or `-`.
    file: Option<PathBuf>,
}

enum Model {
    Bpe(Box<ByteLevelBpe>),
    Char(CharTokenizer),
    Word(WordTokenizer),
}

impl Model {
    fn line(&self, line: &str, tokens: bool) -> CliResult<String> {
        let ids = match self {
            Model::Bpe(t) => t.encode(line),
            Model::Char(t) => t.encode(line),
            Model::Word(t) => t.encode(line),
        };
        if !tokens {
            return Ok(ids.iter().map(u32::to_string).collect::<Vec<_>>().join(" "));
        }
        let strings: Vec<String> = match self {
            Model::Bpe(t) => t.tokens(&ids)?,
            Model::Char(t) => {
                ids.iter().map(|id| t.vocab().token_checked(*id).map(str::to_string)).collect::<Result<_, _>>()?
            }
            Model::Word(t) => {
                ids.iter().map(|id| t.vocab().token_checked(*id).map(str::to_string)).collect::<Result<_, _>>()?
            }
        };
        Ok(strings.join(" "))
    }
}

/// Runs the command.
pub fn run(args: TokenizeArgs) -> CliResult<()> {
    let text = read_input(args.file.as_deref())?;
    let model = match args.tokenizer.as_str() {
        "gpt2" => Model::Bpe(Box::new(ByteLevelBpe::gpt2())),
        "char" => Model::Char(match &args.vocab {
            Some(p) => CharTokenizer::new(Vocab::load_of_kind(p, "char")?),
            None => CharTokenizer::train(text.lines()),
        }),
        "word" => Model::Word(match &args.vocab {
            Some(p) => WordTokenizer::new(Vocab::load_of_kind(p, "word")?),
            None => WordTokenizer::train(text.lines(), 1, None),
        }),
        other => match other.strip_prefix("bpe:") {
            Some(path) if !path.is_empty() => Model::Bpe(Box::new(ByteLevelBpe::from_tokenizer_json(path)?)),
            _ => return Err(format!("unknown tokenizer `{other}`: use gpt2, char, word or bpe:FILE").into()),
        },
    };
    if let Some(path) = &args.save_vocab {
        match &model {
            Model::Char(t) => t.vocab().save(path, "char")?,
            Model::Word(t) => t.vocab().save(path, "word")?,
            Model::Bpe(_) => return Err("--save-vocab applies to the char and word tokenizers".into()),
        }
    }
    let lines = text.lines().map(|l| model.line(l, args.tokens)).collect::<CliResult<Vec<_>>>()?;
    write_lines(lines.into_iter())
}
