//! The MNIST classifiers (the dense MLP and the convnet) shared by `train mlp`, `train cnn`,
//! `eval`, `predict`, `explain`, `tune` and `summary`.

use super::saved;
use super::CliResult;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::path::{Path, PathBuf};
use tessera_tensor::Device;
use tessera_train::checkpoint;
use tessera_train::data::{load_mnist_source_with, LabelColumn, Mnist, MnistOptions};
use tessera_train::memory::MemoryEstimate;
use tessera_train::models::{mlp_memory_estimate, CnnConfig};

/// The checkpoint's model name of the dense classifier.
pub const MODEL: &str = "mlp";
/// The checkpoint's model name of the convnet.
pub const CNN_MODEL: &str = "cnn";

/// Which network classifies the images.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    /// Dense 128 ReLU, Dense 64 ReLU, Dense softmax.
    Mlp,
    /// The Keras convnet ([`CnnConfig`]), with batch norm after each convolution or not.
    Cnn {
        /// Batch norm after each convolution.
        batch_norm: bool,
    },
}

impl Arch {
    /// The checkpoint's model name.
    pub fn model_name(self) -> &'static str {
        match self {
            Arch::Mlp => MODEL,
            Arch::Cnn { .. } => CNN_MODEL,
        }
    }
}

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
    /// The network.
    pub arch: Arch,
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
        let mut v = json!({ "model": self.arch.model_name(), "inputs": self.inputs, "classes": self.classes,
                "seed": self.seed, "data": self.source.data.as_ref().map(|p| p.display().to_string()),
                "label_column": self.source.label_column });
        if let (Arch::Cnn { batch_norm }, Some(o)) = (self.arch, v.as_object_mut()) {
            o.insert("batch_norm".into(), batch_norm.into());
        }
        v
    }

    /// From a checkpoint's JSON config.
    pub fn from_json(text: &str) -> CliResult<MlpConfig> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("checkpoint config is not JSON: {e}"))?;
        let num = |k: &str| v.get(k).and_then(|x| x.as_u64()).ok_or_else(|| format!("checkpoint config lacks '{k}'"));
        let arch = match v.get("model").and_then(|m| m.as_str()) {
            Some(CNN_MODEL) => Arch::Cnn { batch_norm: v.get("batch_norm").and_then(|b| b.as_bool()).unwrap_or(false) },
            _ => Arch::Mlp,
        };
        Ok(MlpConfig {
            arch,
            inputs: num("inputs")? as usize,
            classes: num("classes")? as usize,
            seed: num("seed")?,
            source: MnistSource {
                data: v.get("data").and_then(|d| d.as_str()).map(PathBuf::from),
                label_column: v.get("label_column").and_then(|c| serde_json::from_value(c.clone()).ok()),
            },
        })
    }

    /// The images' `[height, width]`: square when the pixel count is a square (MNIST's 784 is
    /// 28x28), otherwise one row.
    pub fn image_size(&self) -> [usize; 2] {
        let side = (self.inputs as f64).sqrt().round() as usize;
        if side * side == self.inputs {
            [side, side]
        } else {
            [1, self.inputs]
        }
    }

    /// The convnet's configuration, or an error naming the pixel count when the images are
    /// not square.
    fn cnn(&self, batch_norm: bool) -> CliResult<CnnConfig> {
        let [height, width] = self.image_size();
        if height == 1 && self.inputs > 1 {
            return Err(format!(
                "the convnet needs square single-channel images, but the data have {} pixels per image",
                self.inputs
            )
            .into());
        }
        Ok(CnnConfig { batch_norm, ..CnnConfig::grayscale(height.max(width), self.classes, self.seed) })
    }

    /// The model's size for `batch` examples, counted without building it.
    pub fn memory_estimate(&self, batch: usize) -> CliResult<MemoryEstimate> {
        Ok(match self.arch {
            Arch::Mlp => mlp_memory_estimate(self.inputs, self.classes, batch),
            Arch::Cnn { batch_norm } => self.cnn(batch_norm)?.memory_estimate(batch)?,
        })
    }

    /// The model, with fresh weights.
    pub fn build(&self, device: &Device) -> CliResult<tessera_nn::Sequential> {
        Ok(match self.arch {
            Arch::Mlp => tessera_train::models::mlp_classifier(self.seed, self.inputs, self.classes, device)?,
            Arch::Cnn { batch_norm } => self.cnn(batch_norm)?.build(device)?,
        })
    }
}

/// Rebuilds the model a checkpoint was saved from and loads its weights.
pub fn load(path: &Path, device: &Device) -> CliResult<(tessera_nn::Sequential, MlpConfig)> {
    let saved = saved::open(path, &[MODEL, CNN_MODEL], "an MNIST classifier")?;
    let cfg = MlpConfig::from_json(&saved.info.config)?;
    saved.check_size(&cfg.memory_estimate(1)?, "the checkpoint's MNIST classifier")?;
    let model = cfg.build(device)?;
    checkpoint::load(&saved.file, cfg.arch.model_name(), &model, None)?;
    Ok((model, cfg))
}
