//! The MNIST classifier shared by `train mlp`, `eval`, `predict` and `summary`.

use super::saved;
use super::CliResult;
use serde_json::json;
use std::path::{Path, PathBuf};
use tessera_tensor::Device;
use tessera_train::checkpoint;
use tessera_train::models::mlp_memory_estimate;

/// The checkpoint's model name.
pub const MODEL: &str = "mlp";

/// What rebuilds the model: stored as the checkpoint's config.
#[derive(Debug, Clone, PartialEq)]
pub struct MlpConfig {
    /// Pixels per image.
    pub inputs: usize,
    /// Classes.
    pub classes: usize,
    /// Seed of the initial weights and of the data split.
    pub seed: u64,
    /// Where the data came from (`None`: the shipped sample).
    pub data: Option<PathBuf>,
}

impl MlpConfig {
    /// As JSON, for the run folder and the checkpoint.
    pub fn to_json(&self) -> serde_json::Value {
        json!({ "model": MODEL, "inputs": self.inputs, "classes": self.classes, "seed": self.seed,
                "data": self.data.as_ref().map(|p| p.display().to_string()) })
    }

    /// From a checkpoint's JSON config.
    pub fn from_json(text: &str) -> CliResult<MlpConfig> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("checkpoint config is not JSON: {e}"))?;
        let num = |k: &str| v.get(k).and_then(|x| x.as_u64()).ok_or_else(|| format!("checkpoint config lacks '{k}'"));
        Ok(MlpConfig {
            inputs: num("inputs")? as usize,
            classes: num("classes")? as usize,
            seed: num("seed")?,
            data: v.get("data").and_then(|d| d.as_str()).map(PathBuf::from),
        })
    }

    /// The model, with fresh weights.
    pub fn build(&self, device: &Device) -> CliResult<tessera_nn::Sequential> {
        Ok(tessera_train::models::mlp_classifier(self.seed, self.inputs, self.classes, device)?)
    }
}

/// Rebuilds the model a checkpoint was saved from and loads its weights.
pub fn load(path: &Path, device: &Device) -> CliResult<(tessera_nn::Sequential, MlpConfig)> {
    let (file, info) = saved::open(path, &[MODEL], "an MNIST classifier")?;
    let cfg = MlpConfig::from_json(&info.config)?;
    let estimate = mlp_memory_estimate(cfg.inputs, cfg.classes, 1);
    saved::check_size(&file, &estimate, "the checkpoint's MNIST classifier")?;
    let model = cfg.build(device)?;
    checkpoint::load(&file, MODEL, &model, None)?;
    Ok((model, cfg))
}
