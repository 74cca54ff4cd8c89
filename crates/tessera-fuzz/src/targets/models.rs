//! Model descriptions read from files: Hugging Face GPT-2 folders (`config.json` and
//! `model.safetensors`) and the model configurations that run folders' checkpoints carry.

use crate::corpus::{outcome, signature, OUTCOME_PARTS};
use crate::input::{scratch_folder, split2};
use serde_json::Value;
use tessera_tensor::{Device, Tensor};
use tessera_train::gpt::{load_hf_gpt2, Gpt, GptConfig};
use tessera_train::lm::{LstmLm, LstmLmConfig};
use tessera_train::memory::MemoryEstimate;
use tessera_train::seq2seq::{PadSide, Seq2seq, Seq2seqConfig, Seq2seqModel, SourceBatch};

/// The largest model the target builds from a config (parameters and one short forward pass):
/// the commands refuse larger ones against the machine's memory, which is not under test here.
const MAX_BUILT_VALUES: f64 = 200_000.0;

/// Token ids `[1, len]` below `vocab`.
fn ids(len: usize, vocab: usize) -> tessera_tensor::Result<Tensor> {
    Tensor::from_vec((0..len).map(|i| (i % vocab.max(1)) as u32).collect(), [1, len], &Device::Cpu)
}

/// Runs a GPT on a few tokens.
fn use_gpt(gpt: &Gpt) -> String {
    let len = gpt.config().block_size.min(4);
    let logits = ids(len, gpt.config().vocab).map_err(tessera_nn::Error::from).and_then(|t| gpt.forward_ids(&t));
    format!("ok; forward {}", outcome(&logits))
}

/// A Hugging Face GPT-2 folder (two files) through `load_hf_gpt2`, then a forward pass.
pub(super) fn hf_gpt2(data: &[u8]) -> String {
    let (config, weights) = split2(data);
    let dir = match scratch_folder("hf", &[("config.json", config), ("model.safetensors", weights)]) {
        Ok(d) => d,
        Err(e) => return format!("scratch folder: {e}"),
    };
    match load_hf_gpt2(&dir, &Device::Cpu) {
        Ok(gpt) => use_gpt(&gpt),
        Err(e) => signature(&e.to_string()),
    }
}

/// Whether a model of `estimate` (for one short sequence) is small enough to build here.
fn small(estimate: MemoryEstimate) -> bool {
    estimate.parameters + estimate.activations <= MAX_BUILT_VALUES
}

fn gpt_config(v: &Value) -> String {
    let cfg = match GptConfig::from_json(v) {
        Ok(c) => c,
        Err(e) => return signature(&e.to_string()),
    };
    if !small(cfg.memory_estimate(1, cfg.block_size.min(4))) {
        return "ok; large".into();
    }
    match Gpt::new(&cfg, &Device::Cpu) {
        Ok(gpt) => use_gpt(&gpt),
        Err(e) => format!("ok; build {}", signature(&e.to_string())),
    }
}

fn lstm_lm_config(v: &Value) -> String {
    let cfg = match LstmLmConfig::from_json(v) {
        Ok(c) => c,
        Err(e) => return signature(&e.to_string()),
    };
    if !small(cfg.memory_estimate(1, 3)) {
        return "ok; large".into();
    }
    let forward = LstmLm::new(&cfg, &Device::Cpu).and_then(|lm| lm.forward_ids(&ids(3, cfg.vocab)?, None).map(|_| ()));
    format!("ok; forward {}", outcome(&forward))
}

fn seq2seq_config(v: &Value) -> String {
    let cfg = match Seq2seqConfig::from_json(v) {
        Ok(c) => c,
        Err(e) => return signature(&e.to_string()),
    };
    if !small(cfg.memory_estimate(1, 3, 3)) {
        return "ok; large".into();
    }
    let (source_vocab, target_vocab, pad) = match &cfg {
        Seq2seqConfig::Lstm(c) => (c.source_vocab, c.target_vocab, c.pad),
        Seq2seqConfig::Transformer(c) => (c.source_vocab, c.target_vocab, c.pad),
    };
    let forward = Seq2seqModel::new(&cfg, &Device::Cpu).and_then(|model| {
        let source: Vec<u32> = (0..3).map(|i| i % source_vocab.max(1) as u32).collect();
        let batch = SourceBatch::new(&[&source[..]], pad, PadSide::Right, &Device::Cpu)?;
        let memory = model.encode(&batch)?;
        model.decode_teacher(&memory, &ids(3, target_vocab)?).map(|_| ())
    });
    format!("ok; forward {}", outcome(&forward))
}

/// A model configuration as a checkpoint's config holds it, through the GPT's, the LSTM
/// language model's and the encoder-decoders' `from_json`, then (when small) built and run on a
/// few tokens.
pub(super) fn model_config(data: &[u8]) -> String {
    let v: Value = match serde_json::from_slice(data) {
        Ok(v) => v,
        Err(e) => return format!("json {}", signature(&e.to_string())),
    };
    let parts = [("gpt", gpt_config(&v)), ("lstm-lm", lstm_lm_config(&v)), ("seq2seq", seq2seq_config(&v))];
    parts.map(|(kind, result)| format!("{kind} {result}")).join(OUTCOME_PARTS)
}
