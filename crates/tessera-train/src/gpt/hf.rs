//! Hugging Face GPT-2 folders (`config.json` + `model.safetensors`, as `save_pretrained`
//! writes them) as [`Gpt`] models.

use super::{Gpt, GptConfig};
use crate::{Error, Result};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use tessera_nn::state_dict::read_safetensors;
use tessera_nn::Module;
use tessera_tensor::{DType, Device, Tensor};

/// Whether `dir` looks like a Hugging Face model folder.
pub fn is_hf_folder(dir: &Path) -> bool {
    dir.join("config.json").is_file() && dir.join("model.safetensors").is_file()
}

/// The [`GptConfig`] of a Hugging Face GPT-2 `config.json`: an error names a `model_type` that
/// is not `gpt2` and any missing size.
pub fn hf_config(dir: &Path) -> Result<GptConfig> {
    let path = dir.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let bad = |msg: String| Error::Checkpoint { path: path.clone(), msg };
    let v: Value = serde_json::from_str(&text).map_err(|e| bad(format!("not JSON: {e}")))?;
    match v.get("model_type") {
        Some(Value::String(kind)) if kind == "gpt2" => {}
        Some(other) => {
            return Err(bad(format!("model_type is {other}, not \"gpt2\": only GPT-2 checkpoints are read")))
        }
        None => return Err(bad("no model_type: only GPT-2 checkpoints (model_type \"gpt2\") are read".into())),
    }
    let size = |keys: &[&str]| {
        keys.iter()
            .find_map(|k| v.get(*k).and_then(Value::as_u64))
            .map(|n| n as usize)
            .ok_or_else(|| bad(format!("no {} in the config", keys[0])))
    };
    let activation = v.get("activation_function").and_then(Value::as_str).unwrap_or("gelu_new");
    let gelu_tanh = match activation {
        "gelu_new" | "gelu_pytorch_tanh" => true,
        "gelu" => false,
        other => {
            return Err(bad(format!(
                "activation_function {other:?} is not supported (gelu_new, gelu_pytorch_tanh or gelu)"
            )))
        }
    };
    Ok(GptConfig {
        vocab: size(&["vocab_size"])?,
        block_size: size(&["n_positions", "n_ctx"])?,
        n_layer: size(&["n_layer"])?,
        n_head: size(&["n_head"])?,
        n_embd: size(&["n_embd"])?,
        dropout: 0.0,
        bias: true,
        gelu_tanh,
        layer_norm_eps: v.get("layer_norm_epsilon").and_then(Value::as_f64).unwrap_or(1e-5),
        seed: 0,
    })
}

/// Whether the GPT-2 parameter `name` is a `Conv1D` weight: Hugging Face stores `c_attn`,
/// `c_proj` and `c_fc` weights `[in, out]`, the transpose of a linear layer's.
pub fn is_conv1d_weight(name: &str) -> bool {
    [".c_attn.weight", ".c_proj.weight", ".c_fc.weight"].iter().any(|s| name.ends_with(s))
}

/// Tensors of a GPT-2 file that are not parameters of their own: the causal-mask buffers and
/// the output layer tied to the token embedding.
fn is_buffer_or_tied(name: &str) -> bool {
    name.ends_with(".attn.bias") || name.ends_with(".attn.masked_bias") || name == "lm_head.weight"
}

/// Loads a Hugging Face GPT-2 folder as a [`Gpt`] on `device`: the names with or without the
/// `transformer.` prefix (`GPT2LMHeadModel` or `GPT2Model`), `Conv1D` weights transposed, the
/// causal-mask buffers and a tied `lm_head.weight` (equal to `wte`, or absent) skipped. Every
/// parameter of the model must be found, with its shape.
pub fn load_hf_gpt2(dir: &Path, device: &Device) -> Result<Gpt> {
    let cfg = hf_config(dir)?;
    let path = dir.join("model.safetensors");
    let bad = |msg: String| Error::Checkpoint { path: path.clone(), msg };
    let (tensors, _) = read_safetensors(&path)?;
    // The config's sizes are checked against the weights before they size any allocation.
    let held: usize = tensors.iter().filter(|(n, _)| !is_buffer_or_tied(n)).map(|(_, t)| t.shape().elem_count()).sum();
    let estimate = cfg.memory_estimate(1, cfg.block_size);
    if estimate.parameters != held as f64 {
        let msg = format!(
            "config.json describes a GPT-2 of {:.0} parameters ({} layers of width {}, vocabulary {}, {} positions) \
             but the file holds {held}",
            estimate.parameters, cfg.n_layer, cfg.n_embd, cfg.vocab, cfg.block_size
        );
        return Err(bad(msg));
    }
    estimate.check(estimate.inference_bytes(), "the GPT-2 of config.json")?;
    let model = Gpt::new(&cfg, device)?;
    let mut by_name: BTreeMap<String, Tensor> = BTreeMap::new();
    for (name, t) in tensors {
        let name = name.strip_prefix("transformer.").unwrap_or(&name).to_string();
        by_name.insert(name, t);
    }
    for (name, param) in model.parameters() {
        let key = name.strip_prefix("transformer.").unwrap_or(&name);
        let t = by_name.get(key).ok_or_else(|| bad(format!("tensor '{key}' is missing (needed for {name})")))?;
        let t = if is_conv1d_weight(key) { t.t()?.contiguous()? } else { t.clone() };
        if t.shape() != param.shape() {
            let msg =
                format!("'{key}' has shape {} (as a linear weight), the config asks for {}", t.shape(), param.shape());
            return Err(bad(msg));
        }
        param.tensor().assign_(&t.to_dtype(DType::F32)?.to_device(device)?)?;
    }
    Ok(model)
}
