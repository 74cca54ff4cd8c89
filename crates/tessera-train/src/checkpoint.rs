//! Checkpoints: the model's parameters, the optimizer's state and what is needed to resume, in one
//! safetensors file written atomically.

use crate::optim::Optimizer;
use crate::{Error, Result};
use std::collections::BTreeMap;
use std::path::Path;
use tessera_nn::state_dict::{read_safetensors, to_safetensors, write_atomic, Metadata};
use tessera_nn::Module;
use tessera_tensor::Tensor;

const FORMAT: &str = "tessera-checkpoint-1";

/// What a checkpoint records beside the tensors.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CheckpointInfo {
    /// The model's name (`mlp`, `lstm-lm`): loading into another model is an error.
    pub model: String,
    /// Epochs completed.
    pub epoch: usize,
    /// The model configuration as JSON (enough to rebuild it).
    pub config: String,
}

/// Saves `model` (tensors `model.<name>`) and, when given, `optimizer` (tensors
/// `optim.<name>.state<k>`, its step count, learning rate and loss scale) with `info`,
/// atomically.
pub fn save(path: &Path, model: &dyn Module, optimizer: Option<&Optimizer>, info: &CheckpointInfo) -> Result<()> {
    let mut tensors: Vec<(String, Tensor)> =
        model.state_entries().into_iter().map(|(n, e)| (format!("model.{n}"), e.tensor())).collect();
    let mut meta = Metadata::new();
    meta.insert("format".into(), FORMAT.into());
    meta.insert("model".into(), info.model.clone());
    meta.insert("epoch".into(), info.epoch.to_string());
    meta.insert("config".into(), info.config.clone());
    if let Some(opt) = optimizer {
        let (state, steps) = opt.state_dict();
        tensors.extend(state.into_iter().map(|(n, t)| (format!("optim.{n}"), t)));
        meta.insert("optimizer_steps".into(), steps.to_string());
        meta.insert("learning_rate".into(), opt.learning_rate().to_string());
        if let Some(scaler) = opt.loss_scaler() {
            meta.insert("loss_scale".into(), scaler.scale().to_string());
            meta.insert("loss_scale_clean_steps".into(), scaler.clean_steps().to_string());
        }
    }
    write_atomic(path, &to_safetensors(&tensors, &meta)?)?;
    Ok(())
}

/// Reads a checkpoint's info without touching any model.
pub fn read_info(path: &Path) -> Result<CheckpointInfo> {
    Ok(read_info_and_size(path)?.0)
}

/// [`read_info`] and the number of parameter values the file holds (its `model.` tensors), from
/// one read of the file.
pub fn read_info_and_size(path: &Path) -> Result<(CheckpointInfo, usize)> {
    let (tensors, meta) = read_safetensors(path)?;
    let held = tensors.iter().filter(|(n, _)| n.starts_with("model.")).map(|(_, t)| t.shape().elem_count()).sum();
    Ok((info_from(path, &meta)?, held))
}

/// Checks, before a model is built from a checkpoint's config, that the config describes the
/// weights in the file `path`: `parameters` (counted from the config, e.g. by
/// [`MemoryEstimate`](crate::memory::MemoryEstimate)) must equal `held`, the values of its
/// `model.` tensors (see [`read_info_and_size`]). A config that claims sizes its weights do not
/// have is refused before it allocates.
pub fn check_parameter_count(path: &Path, held: usize, parameters: f64) -> Result<()> {
    if parameters != held as f64 {
        return Err(Error::Checkpoint {
            path: path.into(),
            msg: format!(
                "its config describes a model of {parameters:.0} parameters but the file holds {held}: the config \
                 does not belong to these weights"
            ),
        });
    }
    Ok(())
}

/// An error naming the first parameter among `tensors` with NaN or infinite values.
fn check_finite(path: &Path, tensors: &BTreeMap<String, Tensor>) -> Result<()> {
    for (name, t) in tensors {
        let values = t.to_vec_f64()?;
        let bad = values.iter().filter(|v| !v.is_finite()).count();
        if bad > 0 {
            return Err(Error::Checkpoint {
                path: path.into(),
                msg: format!(
                    "parameter '{name}' holds {bad} NaN or infinite values (of {}): the run that saved it diverged; \
                     use an earlier checkpoint",
                    values.len()
                ),
            });
        }
    }
    Ok(())
}

fn info_from(path: &Path, meta: &BTreeMap<String, String>) -> Result<CheckpointInfo> {
    if meta.get("format").map(String::as_str) != Some(FORMAT) {
        return Err(Error::Checkpoint { path: path.into(), msg: "not a Tessera checkpoint (no format tag)".into() });
    }
    Ok(CheckpointInfo {
        model: meta.get("model").cloned().unwrap_or_default(),
        epoch: meta.get("epoch").and_then(|e| e.parse().ok()).unwrap_or(0),
        config: meta.get("config").cloned().unwrap_or_default(),
    })
}

/// Loads a checkpoint into `model` (and `optimizer`, when given), in place, after checking that
/// it was saved from a model named `expected_model` with the same parameters, all finite. Nothing
/// is changed when anything does not match.
pub fn load(
    path: &Path,
    expected_model: &str,
    model: &dyn Module,
    optimizer: Option<&mut Optimizer>,
) -> Result<CheckpointInfo> {
    let (tensors, meta) = read_safetensors(path)?;
    let info = info_from(path, &meta)?;
    let bad = |msg: String| Error::Checkpoint { path: path.into(), msg };
    if info.model != expected_model {
        return Err(bad(format!("saved from a '{}' model, not '{expected_model}'", info.model)));
    }
    let mut model_tensors: BTreeMap<String, Tensor> = BTreeMap::new();
    let mut optim_tensors = Vec::new();
    for (n, t) in tensors {
        if let Some(name) = n.strip_prefix("model.") {
            model_tensors.insert(name.to_string(), t);
        } else if let Some(name) = n.strip_prefix("optim.") {
            optim_tensors.push((name.to_string(), t));
        }
    }
    let params = model.state_entries();
    for (n, entry) in &params {
        let p = entry.tensor();
        match model_tensors.get(n) {
            None => return Err(bad(format!("parameter '{n}' is missing: the checkpoint is from another model"))),
            Some(t) if t.shape() != p.shape() => {
                return Err(bad(format!(
                    "parameter '{n}' has shape {} in the checkpoint, the model has {}",
                    t.shape(),
                    p.shape()
                )))
            }
            Some(_) => {}
        }
    }
    if model_tensors.len() != params.len() {
        return Err(bad(format!("the checkpoint has {} parameters, the model {}", model_tensors.len(), params.len())));
    }
    check_finite(path, &model_tensors)?;
    if let Some(opt) = optimizer {
        let steps = meta
            .get("optimizer_steps")
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| bad("no optimizer state saved".into()))?;
        // Checked before anything changes; taken up only by an optimizer that scales its loss.
        let scale: Option<(f64, u64)> = meta
            .get("loss_scale")
            .and_then(|s| s.parse().ok())
            .map(|scale| (scale, meta.get("loss_scale_clean_steps").and_then(|s| s.parse().ok()).unwrap_or(0)));
        if let Some((bad_scale, _)) = scale.filter(|(s, _)| !(s.is_finite() && *s > 0.0)) {
            return Err(bad(format!("loss scale {bad_scale} must be finite and > 0")));
        }
        opt.load_state_dict(&optim_tensors, steps).map_err(|e| bad(e.to_string()))?;
        if let Some(lr) = meta.get("learning_rate").and_then(|s| s.parse().ok()) {
            opt.set_learning_rate(lr);
        }
        if let (Some(scaler), Some((scale, clean))) = (opt.loss_scaler_mut(), scale) {
            scaler.restore(scale, clean)?;
        }
    }
    for (n, entry) in params {
        entry.load(&model_tensors[&n])?;
    }
    Ok(info)
}
