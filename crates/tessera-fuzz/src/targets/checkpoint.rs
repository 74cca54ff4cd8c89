//! Checkpoints and state dicts (safetensors).

use crate::corpus::{outcome, OUTCOME_PARTS};
use crate::input::scratch_file;
use serde_json::Value;
use tessera_nn::{Linear, Module, Relu, Sequential};
use tessera_tensor::{DType, Device, Generator};
use tessera_train::optim::{Adam, Optimizer, OptimizerKind};

/// The small model checkpoints are loaded into: Linear(2, 3), ReLU, Linear(3, 2).
pub fn tiny_model() -> tessera_nn::Result<Sequential> {
    let (mut g, cpu) = (Generator::new(0), Device::Cpu);
    let hidden = Linear::new(&mut g, 2, 3, DType::F32, &cpu)?;
    let out = Linear::new(&mut g, 3, 2, DType::F32, &cpu)?;
    Ok(Sequential::new().add(hidden).add(Relu).add(out))
}

/// The name checkpoints of [`tiny_model`] are saved under.
pub const TINY_MODEL: &str = "tiny-mlp";

/// An Adam optimizer for `model`.
pub fn tiny_optimizer(model: &Sequential) -> tessera_train::Result<Optimizer> {
    Optimizer::new(model.parameters(), OptimizerKind::Adam(Adam::default()))
}

pub(super) fn checkpoint(data: &[u8]) -> String {
    let path = match scratch_file("last.safetensors", data) {
        Ok(p) => p,
        Err(e) => return format!("scratch file: {e}"),
    };
    let info = tessera_train::checkpoint::read_info(&path);
    let config = info.as_ref().map(|i| serde_json::from_str::<Value>(&i.config));
    let model = match tiny_model() {
        Ok(m) => m,
        Err(e) => return format!("model: {e}"),
    };
    let loaded = tiny_optimizer(&model)
        .and_then(|mut opt| tessera_train::checkpoint::load(&path, TINY_MODEL, &model, Some(&mut opt)));
    let model_only = tessera_train::checkpoint::load(&path, TINY_MODEL, &model, None);
    let state_dict = tessera_nn::state_dict::load(&model, &path);
    let config = match config {
        Ok(c) => outcome(&c),
        Err(_) => "-".into(),
    };
    let parts = [
        ("info", outcome(&info)),
        ("config", config),
        ("load", outcome(&loaded)),
        ("model only", outcome(&model_only)),
        ("state dict", outcome(&state_dict)),
    ];
    parts.map(|(reader, outcome)| format!("{reader} {outcome}")).join(OUTCOME_PARTS)
}
