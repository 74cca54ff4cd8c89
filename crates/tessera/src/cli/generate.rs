//! `tessera generate`: samples text from a trained language model.

use super::device::{open, DeviceChoice};
use super::lm_text::LmTokenizer;
use super::ranges::{count, non_negative, probability};
use super::saved;
use super::CliResult;
use super::{train_gpt, train_lm};
use serde_json::Value;
use std::path::PathBuf;
use tessera_text::ByteLevelBpe;
use tessera_train::gpt::{is_hf_folder, load_hf_gpt2};
use tessera_train::lm::{generate, Sampling};

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
    #[arg(long, value_parser = non_negative, default_value_t = 0.8)]
    temperature: f64,
    /// Sample only among the k most likely tokens.
    #[arg(long, value_parser = count)]
    top_k: Option<usize>,
    /// Sample only among the most likely tokens whose probabilities add up to p (nucleus
    /// sampling), after --top-k.
    #[arg(long, value_parser = probability)]
    top_p: Option<f64>,
    /// Seed of the sampling: the same seed gives the same text.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where to run.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Cpu)]
    device: DeviceChoice,
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
        say!("{}{}", a.prompt, bpe.decode(&ids)?);
        return Ok(());
    }
    let saved = saved::open(&a.checkpoint, &[train_lm::MODEL, train_gpt::MODEL], "a language model")?;
    let config = saved.config_json()?;
    let spec = config.get("tokenizer").and_then(Value::as_str).ok_or("the checkpoint config names no tokenizer")?;
    let tokenizer = LmTokenizer::load(spec, &saved::run_folder(&a.checkpoint))?;
    let model_config = config.get("model").unwrap_or(&Value::Null);
    let vocab = model_config.get("vocab").and_then(Value::as_u64).unwrap_or(0) as usize;
    if vocab != tokenizer.vocab_size() {
        return Err(format!(
            "{}: the model predicts {vocab} tokens but the run's tokenizer has {}",
            saved.file.display(),
            tokenizer.vocab_size()
        )
        .into());
    }
    let mut prompt = vec![tokenizer.line_end()];
    prompt.extend(tokenizer.encode_prompt(&a.prompt));
    let ids = if saved.info.model == train_gpt::MODEL {
        // A GPT samples with its key-value cache; past its context the window slides.
        generate(&saved.load_gpt(model_config, &device)?, &prompt, a.tokens, &sampling)?
    } else {
        generate(&saved.load_lstm_lm(model_config, &device)?, &prompt, a.tokens, &sampling)?
    };
    let mut text = tokenizer.decode(&prompt[1..])?;
    let continuation = tokenizer.decode(&ids)?;
    if !text.is_empty() && !text.ends_with('\n') && matches!(tokenizer, LmTokenizer::Word(_)) {
        text.push(' ');
    }
    say!("{text}{continuation}");
    Ok(())
}
