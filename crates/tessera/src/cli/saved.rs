//! Models rebuilt from the checkpoints of `tessera train` runs, with the checks every command
//! that reads one makes: the model kind, the config's sizes against the weights in the file
//! (before anything the config sizes is allocated), and the memory the model needs.

use super::CliResult;
use serde_json::Value;
use std::path::{Path, PathBuf};
use tessera_tensor::Device;
use tessera_train::checkpoint::{self, CheckpointInfo};
use tessera_train::gpt::{Gpt, GptConfig};
use tessera_train::lm::{LstmLm, LstmLmConfig};
use tessera_train::memory::MemoryEstimate;

/// A checkpoint file from `--checkpoint`: a file, or a run folder (its best checkpoint).
pub fn checkpoint_file(path: &Path) -> PathBuf {
    if path.is_dir() {
        path.join("checkpoints").join("best.safetensors")
    } else {
        path.to_path_buf()
    }
}

/// The run folder a `--checkpoint` belongs to: the folder itself, or the folder above the
/// `checkpoints/` folder of a checkpoint file.
pub fn run_folder(path: &Path) -> PathBuf {
    if path.is_dir() {
        return path.to_path_buf();
    }
    path.parent().and_then(Path::parent).map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// A checkpoint opened for a command: its file, its info, and how many parameter values it
/// holds (all from one read).
pub struct Saved {
    /// The checkpoint file.
    pub file: PathBuf,
    /// The model name, epoch and config.
    pub info: CheckpointInfo,
    /// Parameter values in the file.
    pub parameters: usize,
}

/// The checkpoint of `--checkpoint` (see [`checkpoint_file`]), which must hold one of `kinds`
/// (`what` names them in the error).
pub fn open(path: &Path, kinds: &[&str], what: &str) -> CliResult<Saved> {
    let file = checkpoint_file(path);
    let (info, parameters) = checkpoint::read_info_and_size(&file)?;
    if !kinds.contains(&info.model.as_str()) {
        return Err(format!("{}: a '{}' checkpoint, not {what}", file.display(), info.model).into());
    }
    Ok(Saved { file, info, parameters })
}

impl Saved {
    /// Checks that the model a config describes (its `estimate`) is the one whose weights are in
    /// the file, and that it fits in memory for inference; `what` names it in errors.
    pub fn check_size(&self, estimate: &MemoryEstimate, what: &str) -> CliResult<()> {
        checkpoint::check_parameter_count(&self.file, self.parameters, estimate.parameters)?;
        estimate.check(estimate.inference_bytes(), what)?;
        Ok(())
    }

    /// The config as JSON.
    pub fn config_json(&self) -> CliResult<Value> {
        Ok(serde_json::from_str(&self.info.config)
            .map_err(|e| format!("{}: config is not JSON: {e}", self.file.display()))?)
    }

    /// The GPT saved here, rebuilt from the `model` part of its JSON config.
    pub fn load_gpt(&self, model_config: &Value, device: &Device) -> CliResult<Gpt> {
        let cfg = GptConfig::from_json(model_config)?;
        self.check_size(&cfg.memory_estimate(1, cfg.block_size), "the checkpoint's GPT")?;
        let model = Gpt::new(&cfg, device)?;
        checkpoint::load(&self.file, &self.info.model, &model, None)?;
        Ok(model)
    }

    /// The LSTM language model saved here, rebuilt from the `model` part of its JSON config.
    pub fn load_lstm_lm(&self, model_config: &Value, device: &Device) -> CliResult<LstmLm> {
        let cfg = LstmLmConfig::from_json(model_config)?;
        self.check_size(&cfg.memory_estimate(1, 1), "the checkpoint's LSTM language model")?;
        let model = LstmLm::new(&cfg, device)?;
        checkpoint::load(&self.file, &self.info.model, &model, None)?;
        Ok(model)
    }
}
