//! `tessera generate`: samples text from a trained language model.

use super::device::{open, DeviceChoice};
use super::lm_text::LmTokenizer;
use super::output::{self, Stream};
use super::ranges::{count, non_negative, probability};
use super::saved;
use super::CliResult;
use super::{train_gpt, train_lm};
use serde_json::Value;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use tessera_tensor::{Device, Tensor};
use tessera_text::ByteLevelBpe;
use tessera_train::gpt::{is_hf_folder, load_hf_gpt2, Gpt};
use tessera_train::lm::{generate_each, Sampling};
use tessera_train::plot::attention::{write_attention_map, AttentionPanel};

/// The most tokens `--attention-map` draws, so that the labels stay readable.
const MAP_TOKENS: usize = 64;

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
    /// Also draw the GPT's self-attention as an SVG picture here: a heatmap per layer (rows of
    /// panels) and head (columns), `layer L head H` counted from 0 as the parameters are named
    /// (`transformer.h.0`), each token (row) attending to itself and the tokens before it
    /// (columns). The weights are recomputed in one pass over the prompt and the sampled text,
    /// the last 64 tokens of them at most (fewer when the model's context is shorter), so that the
    /// labels stay readable. Needs a GPT (`tessera train gpt` or a GPT-2 folder).
    #[arg(long, value_name = "OUT.svg")]
    attention_map: Option<PathBuf>,
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
        let ends_line = |id: u32| bpe.decode(&[id]).is_ok_and(|t| t.ends_with('\n'));
        let mut printer = LinePrinter::new(&a.prompt, ends_line, |ids: &[u32]| Ok(bpe.decode(ids)?));
        generate_each(&model, &prompt, a.tokens, &sampling, |id| printer.push(id))?;
        let ids = printer.finish()?;
        if let Some(path) = &a.attention_map {
            let label = |id: u32| bpe.decode(&[id]).unwrap_or_else(|_| format!("#{id}"));
            draw_attention(path, &model, &[prompt, ids].concat(), label, &a.checkpoint)?;
        }
        return Ok(());
    }
    let saved = saved::open(&a.checkpoint, &[train_lm::MODEL, train_gpt::MODEL], "a language model")?;
    if a.attention_map.is_some() && saved.info.model != train_gpt::MODEL {
        return Err(format!(
            "--attention-map: {} is an LSTM language model, which has no attention; attention maps need a \
             model with attention: `tessera train gpt` trains one",
            saved.file.display()
        )
        .into());
    }
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
    tokenizer.warn_unknown(&prompt[1..], "the prompt")?;
    let gpt = (saved.info.model == train_gpt::MODEL).then(|| saved.load_gpt(model_config, &device)).transpose()?;
    let mut text = tokenizer.decode(&prompt[1..])?;
    if !text.is_empty() && !text.ends_with('\n') && matches!(tokenizer, LmTokenizer::Word(_)) {
        text.push(' ');
    }
    let line_end = tokenizer.line_end();
    let mut printer = LinePrinter::new(&text, |id| id == line_end, |ids: &[u32]| tokenizer.decode(ids));
    match &gpt {
        // A GPT samples with its key-value cache; past its context the window slides.
        Some(gpt) => generate_each(gpt, &prompt, a.tokens, &sampling, |id| printer.push(id))?,
        None => {
            let lm = saved.load_lstm_lm(model_config, &device)?;
            generate_each(&lm, &prompt, a.tokens, &sampling, |id| printer.push(id))?
        }
    };
    let ids = printer.finish()?;
    if let (Some(path), Some(gpt)) = (&a.attention_map, &gpt) {
        let label = |id: u32| tokenizer.decode(&[id]).unwrap_or_else(|_| format!("#{id}"));
        draw_attention(path, gpt, &[prompt, ids].concat(), label, &saved.file)?;
    }
    Ok(())
}

/// Prints the prompt, then the sampled text as it comes, a line at a time: tokens are held until
/// one ends a line, then the held ones are decoded and written. Decoding stops only at a line's
/// end, where the text of the pieces is the text of the whole (no character is split between
/// tokens there), so what is printed is what decoding all the tokens at once gives. Generation
/// stops when standard output is closed (`| head`).
struct LinePrinter<E, D> {
    ends_line: E,
    decode: D,
    held: Vec<u32>,
    sampled: Vec<u32>,
    error: Option<Box<dyn std::error::Error>>,
}

impl<E: Fn(u32) -> bool, D: Fn(&[u32]) -> CliResult<String>> LinePrinter<E, D> {
    fn new(prompt: &str, ends_line: E, decode: D) -> Self {
        output::write_text(Stream::Stdout, format_args!("{prompt}"));
        LinePrinter { ends_line, decode, held: Vec::new(), sampled: Vec::new(), error: None }
    }

    /// Takes one sampled token; breaks when the text cannot be decoded or written.
    fn push(&mut self, id: u32) -> ControlFlow<()> {
        self.sampled.push(id);
        self.held.push(id);
        if (self.ends_line)(id) {
            match (self.decode)(&self.held) {
                Ok(text) => output::write_text(Stream::Stdout, format_args!("{text}")),
                Err(e) => {
                    self.error = Some(e);
                    return ControlFlow::Break(());
                }
            }
            self.held.clear();
        }
        if output::failed(Stream::Stdout) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }

    /// Writes the last, unfinished line; returns every sampled token.
    fn finish(self) -> CliResult<Vec<u32>> {
        if let Some(e) = self.error {
            return Err(e);
        }
        say!("{}", (self.decode)(&self.held)?);
        Ok(self.sampled)
    }
}

/// Writes `--attention-map` to `path`: the self-attention of `gpt` (from `checkpoint`) over the
/// last tokens of `ids` (at most [`MAP_TOKENS`] and the context length), one panel per layer and
/// head, the tokens labelled by `label`. Says where it went on standard error (standard output
/// holds the text).
fn draw_attention(
    path: &Path,
    gpt: &Gpt,
    ids: &[u32],
    label: impl Fn(u32) -> String,
    checkpoint: &Path,
) -> CliResult<()> {
    let cfg = gpt.config();
    let keep = ids.len().min(cfg.block_size).min(MAP_TOKENS);
    if keep == 0 {
        return Err("--attention-map: no tokens to draw".into());
    }
    let window = &ids[ids.len() - keep..];
    let weights = gpt.self_attention_weights(
        &Tensor::from_vec(window.to_vec(), [1, keep], &Device::Cpu)?.to_device(gpt.device())?,
    )?;
    let tokens: Vec<String> = window.iter().map(|&id| label(id)).collect();
    let mut panels = Vec::with_capacity(cfg.n_layer * cfg.n_head);
    for (layer, w) in weights.iter().enumerate() {
        let w: Vec<f32> = w.to_vec_f64()?.into_iter().map(|x| x as f32).collect();
        for (head, matrix) in w.chunks(keep * keep).enumerate() {
            let title = format!("layer {layer} head {head}");
            panels.push(AttentionPanel { title, rows: tokens.clone(), cols: tokens.clone(), weights: matrix.to_vec() });
        }
    }
    let title = format!("GPT self-attention over the last {keep} tokens: {}", checkpoint.display());
    write_attention_map(path, &title, &panels, cfg.n_head)?;
    warn!(
        "wrote the attention map ({} layers × {} heads over {keep} tokens) to {}",
        cfg.n_layer,
        cfg.n_head,
        path.display()
    );
    Ok(())
}
