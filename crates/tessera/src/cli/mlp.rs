//! The MNIST classifier shared by `train mlp`, `eval`, `predict` and `summary`.

use super::saved;
use super::CliResult;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::{Path, PathBuf};
use tessera_tensor::Device;
use tessera_train::checkpoint;
use tessera_train::data::{load_mnist_source_with, LabelColumn, Mnist, MnistOptions};
use tessera_train::models::mlp_memory_estimate;

/// The checkpoint's model name.
pub const MODEL: &str = "mlp";

/// Where MNIST images come from (`--data`, `--label-column`), for `train mlp`, `eval` and
/// `predict`.
#[derive(Debug, Clone, Default, PartialEq, clap::Args, Serialize, Deserialize)]
pub struct MnistSource {
    /// MNIST: a folder with the IDX files (train and t10k), or a CSV with a label and the pixels
    /// per line (a header line is skipped). Default: the 5,000-image sample shipped with Tessera
    /// (80% train, 20% test).
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// The CSV column with the labels: `first` (Kaggle's layout) or `last`; detected from the
    /// values when not given.
    #[arg(long)]
    pub label_column: Option<LabelColumn>,
}

impl MnistSource {
    /// The training and test images, the split seeded with `seed` where the source has none.
    pub fn load(&self, seed: u64) -> CliResult<Mnist> {
        let options = MnistOptions { label_column: self.label_column };
        Ok(load_mnist_source_with(self.data.as_deref(), seed, &options)?)
    }

    /// This source, or `trained` (the model's own data) where no `--data` is given.
    pub fn or(&self, trained: &MnistSource) -> MnistSource {
        match self.data {
            Some(_) => self.clone(),
            None => {
                MnistSource { data: trained.data.clone(), label_column: self.label_column.or(trained.label_column) }
            }
        }
    }

    /// How the source is named in messages.
    pub fn name(&self) -> String {
        self.data.as_ref().map_or("the shipped MNIST sample".to_string(), |p| p.display().to_string())
    }
}

/// What rebuilds the model: stored as the checkpoint's config.
#[derive(Debug, Clone, PartialEq)]
pub struct MlpConfig {
    /// Pixels per image.
    pub inputs: usize,
    /// Classes.
    pub classes: usize,
    /// Seed of the initial weights and of the data split.
    pub seed: u64,
    /// Where the data came from.
    pub source: MnistSource,
}

impl MlpConfig {
    /// As JSON, for the run folder and the checkpoint.
    pub fn to_json(&self) -> serde_json::Value {
        json!({ "model": MODEL, "inputs": self.inputs, "classes": self.classes, "seed": self.seed,
                "data": self.source.data.as_ref().map(|p| p.display().to_string()),
                "label_column": self.source.label_column })
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
            source: MnistSource {
                data: v.get("data").and_then(|d| d.as_str()).map(PathBuf::from),
                label_column: v.get("label_column").and_then(|c| serde_json::from_value(c.clone()).ok()),
            },
        })
    }

    /// The model, with fresh weights.
    pub fn build(&self, device: &Device) -> CliResult<tessera_nn::Sequential> {
        Ok(tessera_train::models::mlp_classifier(self.seed, self.inputs, self.classes, device)?)
    }
}

/// Rebuilds the model a checkpoint was saved from and loads its weights.
pub fn load(path: &Path, device: &Device) -> CliResult<(tessera_nn::Sequential, MlpConfig)> {
    let saved = saved::open(path, &[MODEL], "an MNIST classifier")?;
    let cfg = MlpConfig::from_json(&saved.info.config)?;
    let estimate = mlp_memory_estimate(cfg.inputs, cfg.classes, 1);
    saved.check_size(&estimate, "the checkpoint's MNIST classifier")?;
    let model = cfg.build(device)?;
    checkpoint::load(&saved.file, MODEL, &model, None)?;
    Ok((model, cfg))
}
