//! Run folders as `--resume` reads them.

use crate::corpus::{outcome, signature, OUTCOME_PARTS};
use crate::input::{scratch_folder, split2};
use serde_json::{json, Value};
use tessera_train::run_dir::RunDir;

pub(super) fn run_folder(data: &[u8]) -> String {
    let (config, metrics) = split2(data);
    let dir = match scratch_folder("run", &[("config.json", config), ("metrics.jsonl", metrics)]) {
        Ok(d) => d,
        Err(e) => return format!("scratch folder: {e}"),
    };
    // As `tessera train --resume` reads config.json (the command's `resolve`): JSON with a
    // `train` object; the epochs done come from the last checkpoint, here from the config.
    let config: Result<Value, _> = serde_json::from_slice(config);
    let train = config.as_ref().ok().and_then(|c| c.get("train"));
    let done = train.and_then(|t| t.get("epochs")).and_then(Value::as_u64).unwrap_or(1).min(u32::MAX as u64);
    let resumed = RunDir::resume(&dir, done as usize);
    let recorded = match resumed {
        Ok(mut run) => {
            let epoch = json!({"epoch": done + 1, "loss": 0.5, "val_loss": 0.6, "accuracy": 0.9, "val_ppl": 12.0});
            let metrics = epoch.as_object().cloned().unwrap_or_default();
            format!("ok; record {}", outcome(&run.record_epoch(metrics)))
        }
        Err(e) => signature(&e.to_string()),
    };
    let config = format!("config {}{}", outcome(&config), if train.is_some() { " train" } else { "" });
    [config, format!("resume {recorded}")].join(OUTCOME_PARTS)
}
