//! `tessera generate`: samples text from a trained language model.

use super::device::{open, DeviceChoice};
use super::lm_text::LmTokenizer;
use super::mlp::checkpoint_file;
use super::CliResult;
use super::{train_gpt, train_lm};
use serde_json::Value;
use std::path::{Path, PathBuf};
use tessera_text::ByteLevelBpe;
use tessera_train::checkpoint;
use tessera_train::gpt::{is_hf_folder, load_hf_gpt2, Gpt, GptConfig};
use tessera_train::lm::{generate, LstmLm, LstmLmConfig, Sampling};

/// Arguments of `tessera generate`.
#[derive(Debug, clap::Args)]
pub struct GenerateArgs {
    /// A run folder of `tessera train lm` or `tessera train gpt` (its best checkpoint), a
    /// checkpoint file in its `checkpoints/` folder, or a Hugging Face GPT-2 folder (read with
    /// GPT-2's tokenizer).
    #[arg(long)]
    checkpoint: PathBuf,
    /// Text to continue (default: the start of a line).
    #[arg(long, default_value = "")]
    prompt: String,
    /// Tokens to sample.
    #[arg(long, default_value_t = 100)]
    tokens: usize,
    /// Below 1 sharpens the distribution, above 1 flattens it; 0 takes the most likely token.
    #[arg(long, default_value_t = 0.8)]
    temperature: f64,
    /// Sample only among the k most likely tokens.
    #[arg(long)]
    top_k: Option<usize>,
    /// Sample only among the most likely tokens whose probabilities add up to p (nucleus
    /// sampling), after --top-k.
    #[arg(long)]
    top_p: Option<f64>,
    /// Seed of the sampling: the same seed gives the same text.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where to run.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Cpu)]
    device: DeviceChoice,
}

/// The run folder a checkpoint belongs to.
fn run_folder(path: &Path) -> PathBuf {
    if path.is_dir() {
        return path.to_path_buf();
    }
    path.parent().and_then(Path::parent).map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Runs the command: prints the prompt followed by the sampled text.
pub fn run(a: GenerateArgs) -> CliResult<()> {
    let device = open(a.device)?;
    let sampling = Sampling { temperature: a.temperature, top_k: a.top_k, top_p: a.top_p, seed: a.seed };
    if is_hf_folder(&a.checkpoint) {
        // GPT-2 starts a text after its end-of-text token.
        let (model, bpe) = (load_hf_gpt2(&a.checkpoint, &device)?, ByteLevelBpe::gpt2());
        let end_of_text = bpe.token_to_id("<|endoftext|>").ok_or("GPT-2's tokenizer lacks <|endoftext|>")?;
        let mut prompt = vec![end_of_text];
        prompt.extend(bpe.encode(&a.prompt));
        let ids = generate(&model, &prompt, a.tokens, &sampling)?;
        println!("{}{}", a.prompt, bpe.decode(&ids)?);
        return Ok(());
    }
    let file = checkpoint_file(&a.checkpoint);
    let info = checkpoint::read_info(&file)?;
    if info.model != train_lm::MODEL && info.model != train_gpt::MODEL {
        return Err(format!("{}: a '{}' checkpoint, not a language model", file.display(), info.model).into());
    }
    let config: Value =
        serde_json::from_str(&info.config).map_err(|e| format!("{}: config is not JSON: {e}", file.display()))?;
    let spec = config.get("tokenizer").and_then(Value::as_str).ok_or("the checkpoint config names no tokenizer")?;
    let tokenizer = LmTokenizer::load(spec, &run_folder(&a.checkpoint))?;
    let model_config = config.get("model").unwrap_or(&Value::Null);
    let vocab = model_config.get("vocab").and_then(Value::as_u64).unwrap_or(0) as usize;
    if vocab != tokenizer.vocab_size() {
        return Err(format!(
            "{}: the model predicts {vocab} tokens but the run's tokenizer has {}",
            file.display(),
            tokenizer.vocab_size()
        )
        .into());
    }
    let mut prompt = vec![tokenizer.line_end()];
    prompt.extend(tokenizer.encode_prompt(&a.prompt));
    let ids = if info.model == train_gpt::MODEL {
        // A GPT samples with its key-value cache; past its context the window slides.
        let model = Gpt::new(&GptConfig::from_json(model_config)?, &device)?;
        checkpoint::load(&file, train_gpt::MODEL, &model, None)?;
        generate(&model, &prompt, a.tokens, &sampling)?
    } else {
        let model = LstmLm::new(&LstmLmConfig::from_json(model_config)?, &device)?;
        checkpoint::load(&file, train_lm::MODEL, &model, None)?;
        generate(&model, &prompt, a.tokens, &sampling)?
    };
    let mut text = tokenizer.decode(&prompt[1..])?;
    let continuation = tokenizer.decode(&ids)?;
    if !text.is_empty() && !text.ends_with('\n') && matches!(tokenizer, LmTokenizer::Word(_)) {
        text.push(' ');
    }
    println!("{text}{continuation}");
    Ok(())
}
