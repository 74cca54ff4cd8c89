//! `tessera translate`: decodes text line by line with a `tessera train seq2seq` checkpoint,
//! and draws the decoder's attention over the source of a chosen line.

use super::device::{open, DeviceChoice};
use super::output::{self, Stream};
use super::ranges::{beam_width, count, non_negative};
use super::saved;
use super::seq2seq_text::PairTokenizers;
use super::train_seq2seq::MODEL;
use super::CliResult;
use serde_json::Value;
use std::io::BufRead;
use std::ops::ControlFlow;
use std::path::PathBuf;
use tessera_nn::Module;
use tessera_tensor::{Device, Tensor};
use tessera_train::checkpoint;
use tessera_train::plot::attention::{write_attention_map, AttentionPanel};
use tessera_train::seq2seq::{decode_each, BeamConfig, Seq2seq, Seq2seqConfig, Seq2seqModel, SourceBatch};

/// Arguments of `tessera translate`.
#[derive(Debug, clap::Args)]
pub struct TranslateArgs {
    /// A run folder of `tessera train seq2seq` (its best checkpoint) or a checkpoint file in its
    /// `checkpoints/` folder.
    #[arg(long)]
    checkpoint: PathBuf,
    /// Lines to translate (default: standard input).
    file: Option<PathBuf>,
    /// Beam width (1: greedy).
    #[arg(long, value_parser = beam_width, default_value_t = 4)]
    beam: usize,
    /// Wu et al.'s length penalty α.
    #[arg(long, value_parser = non_negative, default_value_t = 0.6)]
    length_penalty: f64,
    /// Most tokens per output (default: one more than the longest training target allowed).
    #[arg(long, value_parser = count)]
    max_len: Option<usize>,
    /// Lines decoded together.
    #[arg(long, value_parser = count, default_value_t = 64)]
    batch_size: usize,
    /// Where to run.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Cpu)]
    device: DeviceChoice,
    /// Also draw the decoder's attention over the source of one line (--map-line) as an SVG
    /// picture: rows are the output tokens, columns the source tokens; one panel for an LSTM,
    /// one per layer and head for a Transformer.
    #[arg(long, value_name = "OUT.svg")]
    attention_map: Option<PathBuf>,
    /// The input line (from 1) whose attention --attention-map draws.
    #[arg(long, value_parser = count, default_value_t = 1, requires = "attention_map")]
    map_line: usize,
}

/// Runs the command: one output line per input line.
pub fn run(a: TranslateArgs) -> CliResult<()> {
    let device = open(a.device)?;
    let saved = saved::open(&a.checkpoint, &[MODEL], "a sequence-to-sequence model")?;
    let config = saved.config_json()?;
    let spec = |k: &str| -> CliResult<String> {
        Ok(config.get(k).and_then(Value::as_str).ok_or(format!("the checkpoint config names no {k}"))?.to_string())
    };
    let tokenizers = PairTokenizers::load(
        &spec("source_tokenizer")?,
        &spec("target_tokenizer")?,
        &saved::run_folder(&a.checkpoint),
    )?;
    let cfg = Seq2seqConfig::from_json(config.get("model").unwrap_or(&Value::Null))?;
    saved.check_size(&cfg.memory_estimate(1, 1, 1), &format!("the checkpoint's {}", cfg.describe()))?;
    let model = Seq2seqModel::new(&cfg, &device)?;
    checkpoint::load(&saved.file, &saved.info.model, &model, None)?;
    let trained_len = config.get("max_target_len").and_then(Value::as_u64).unwrap_or(128) as usize;
    let beam =
        BeamConfig { width: a.beam, length_penalty: a.length_penalty, max_len: a.max_len.unwrap_or(trained_len + 1) };
    let lines = read_lines(&a.file)?;
    let mut sources = Vec::with_capacity(lines.len());
    for (i, line) in lines.iter().enumerate() {
        let ids = match tokenizers.source.encode(line) {
            Ok(ids) => ids,
            Err(ch) => {
                warn!("line {}: {ch:?} (U+{:04X}) is not in the source vocabulary; read as <unk>", i + 1, ch as u32);
                tokenizers.source.encode_lossy(line)
            }
        };
        if ids.is_empty() && !line.trim().is_empty() {
            warn!("line {}: encodes to no tokens; its output is empty", i + 1);
        }
        sources.push(ids);
    }
    let refs: Vec<&[u32]> = sources.iter().map(Vec::as_slice).collect();
    // Each batch's translations are printed as soon as it is decoded; a closed standard output
    // (`| head`) stops the decoding.
    let mut outputs = Vec::with_capacity(refs.len());
    decode_each(&model, &refs, tokenizers.target.specials(), &beam, a.batch_size, &device, |h| {
        say!("{}", tokenizers.target.decode(&h.tokens));
        outputs.push(h);
        if output::failed(Stream::Stdout) {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })?;
    if let Some(path) = &a.attention_map {
        let i = a.map_line - 1;
        let (Some(source), Some(output)) = (sources.get(i), outputs.get(i)) else {
            return Err(format!("--map-line {}: the input has {} lines", a.map_line, lines.len()).into());
        };
        if source.is_empty() {
            return Err(format!("--map-line {}: the line has no tokens to attend to", a.map_line).into());
        }
        let panels = attention_panels(&model, &tokenizers, source, &output.tokens, &device)?;
        let columns = match &cfg {
            Seq2seqConfig::Transformer(c) => c.heads,
            Seq2seqConfig::Lstm(_) => 1,
        };
        let title = format!("decoder attention over line {}: {}", a.map_line, lines[i]);
        write_attention_map(path, &title, &panels, columns)?;
        warn!("wrote the attention map ({} panels) to {}", panels.len(), path.display());
    }
    Ok(())
}

/// The lines of `file`, or of standard input.
fn read_lines(file: &Option<PathBuf>) -> CliResult<Vec<String>> {
    match file {
        Some(path) => Ok(tessera_text::io::read_text(path)?.lines().map(str::to_string).collect()),
        None => {
            let stdin = std::io::stdin();
            let mut lines = Vec::new();
            for line in stdin.lock().lines() {
                lines.push(line.map_err(|e| format!("reading standard input: {e}"))?);
            }
            Ok(lines)
        }
    }
}

/// The decoder's attention over `source` while it wrote `output` (then `<eos>`), as panels:
/// a row per output token, a column per source token.
fn attention_panels(
    model: &Seq2seqModel,
    tokenizers: &PairTokenizers,
    source: &[u32],
    output: &[u32],
    device: &Device,
) -> CliResult<Vec<AttentionPanel>> {
    let specials = tokenizers.target.specials();
    model.set_training(false);
    let batch = SourceBatch::new(&[source], specials.pad, model.source_padding(), device)?;
    let memory = model.encode(&batch)?;
    let input: Vec<u32> = std::iter::once(specials.bos).chain(output.iter().copied()).collect();
    let steps = input.len();
    let maps = model.attention_maps(&memory, &Tensor::from_vec(input, [1, steps], &Device::Cpu)?.to_device(device)?)?;
    let rows = tokenizers.target.token_labels(&[output, &[specials.eos]].concat());
    let cols = tokenizers.source.token_labels(source);
    maps.into_iter()
        .map(|(title, w)| {
            let weights = w.to_vec_f64()?.into_iter().map(|x| x as f32).collect();
            Ok(AttentionPanel { title, rows: rows.clone(), cols: cols.clone(), weights })
        })
        .collect()
}
