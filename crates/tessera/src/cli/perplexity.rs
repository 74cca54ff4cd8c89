//! `tessera perplexity`: a GPT's perplexity on text files, from a `tessera train gpt` run or a
//! Hugging Face GPT-2 folder.

use super::device::{open, DeviceChoice};
use super::lm_text::{read_corpus, stream, LmTokenizer};
use super::saved;
use super::train_gpt::MODEL;
use super::CliResult;
use serde_json::Value;
use std::path::{Path, PathBuf};
use tessera_tensor::Device;
use tessera_text::ByteLevelBpe;
use tessera_train::gpt::{is_hf_folder, load_hf_gpt2, perplexity, Gpt};

/// Arguments of `tessera perplexity`.
#[derive(Debug, clap::Args)]
pub struct PerplexityArgs {
    /// A `tessera train gpt` run folder (its best checkpoint) or checkpoint file, or a Hugging
    /// Face GPT-2 folder (`config.json` + `model.safetensors`).
    #[arg(long)]
    checkpoint: PathBuf,
    /// `gpt2`, `bpe:FILE` (a tokenizer.json), or `char`/`word` (a run's own vocabulary).
    /// Default: the run's tokenizer, or `gpt2` for a Hugging Face folder.
    #[arg(long)]
    tokenizer: Option<String>,
    /// Text files, concatenated.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// Where to run.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Cpu)]
    device: DeviceChoice,
}

/// A run's model and its tokenizer spec.
fn load_run(path: &Path, device: &Device) -> CliResult<(Gpt, String)> {
    let saved = saved::open(path, &[MODEL], "a GPT")?;
    let config = saved.config_json()?;
    let model = saved.load_gpt(config.get("model").unwrap_or(&Value::Null), device)?;
    let spec = config.get("tokenizer").and_then(Value::as_str).unwrap_or("char").to_string();
    Ok((model, spec))
}

/// The token stream of `text` with the tokenizer `spec` (a run's `char`/`word` vocabulary is
/// read from `run`), and the tokenizer's vocabulary size.
fn tokenize(spec: &str, text: &str, run: Option<&Path>) -> CliResult<(Vec<u32>, usize)> {
    let bpe = match spec {
        "gpt2" => Some(ByteLevelBpe::gpt2()),
        other => other.strip_prefix("bpe:").map(ByteLevelBpe::from_tokenizer_json).transpose()?,
    };
    if let Some(bpe) = bpe {
        return Ok((bpe.encode(text), bpe.vocab_size()));
    }
    let dir = run.ok_or_else(|| format!("tokenizer `{spec}` needs a run's vocabulary: use gpt2 or bpe:FILE"))?;
    let tokenizer = LmTokenizer::load(spec, dir)?;
    let lines: Vec<&str> = text.lines().collect();
    let ids = stream(&tokenizer.encode_lines(&lines), tokenizer.line_end());
    tokenizer.warn_unknown(&ids, "the text")?;
    Ok((ids, tokenizer.vocab_size()))
}

/// Runs the command: prints `perplexity X over N tokens`.
pub fn run(a: PerplexityArgs) -> CliResult<()> {
    let device = open(a.device)?;
    let hf = is_hf_folder(&a.checkpoint);
    let (model, run_spec) = match hf {
        true => (load_hf_gpt2(&a.checkpoint, &device)?, "gpt2".to_string()),
        false => load_run(&a.checkpoint, &device)?,
    };
    let spec = a.tokenizer.unwrap_or(run_spec);
    let run_dir = (!hf).then(|| saved::run_folder(&a.checkpoint));
    let text = read_corpus(&a.files)?;
    let (ids, vocab) = tokenize(&spec, &text, run_dir.as_deref())?;
    if vocab != model.config().vocab {
        return Err(format!(
            "the tokenizer `{spec}` has {vocab} tokens but the model at {} predicts {}",
            a.checkpoint.display(),
            model.config().vocab
        )
        .into());
    }
    let (ppl, tokens) = perplexity(&model, &ids)?;
    say!("perplexity {ppl:.4} over {tokens} tokens");
    Ok(())
}
