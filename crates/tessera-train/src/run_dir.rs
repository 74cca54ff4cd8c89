//! The run folder: the configuration, metrics per epoch as JSON lines, the curves as SVG, and
//! checkpoints, every file written atomically.

use crate::fs::{create_dir, write_atomic};
use crate::plot::{line_chart, Series};
use crate::{Error, Result};
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// A run's folder and what has been recorded in it.
#[derive(Debug)]
pub struct RunDir {
    path: PathBuf,
    epochs: Vec<Map<String, Value>>,
}

impl RunDir {
    /// Uses `path`, or `runs/<name>-<UTC date and time>` when `None`; creates it.
    pub fn create(path: Option<&Path>, name: &str) -> Result<RunDir> {
        let path = match path {
            Some(p) => p.to_path_buf(),
            None => PathBuf::from("runs").join(format!("{name}-{}", utc_stamp())),
        };
        create_dir(&path)?;
        Ok(RunDir { path, epochs: Vec::new() })
    }

    /// Reopens the run in `path` to continue it after `done` epochs: keeps the metrics of
    /// those epochs from its `metrics.jsonl` (later ones, from an interrupted epoch, are
    /// dropped when the next epoch is recorded).
    pub fn resume(path: &Path, done: usize) -> Result<RunDir> {
        let file = path.join("metrics.jsonl");
        let text = match std::fs::read_to_string(&file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => return Err(Error::io(file, e)),
        };
        let mut epochs = Vec::new();
        for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
            let m: Map<String, Value> =
                serde_json::from_str(line).map_err(|e| Error::bad_data(&file, format!("line {}: {e}", i + 1)))?;
            if m.get("epoch").and_then(Value::as_u64).is_some_and(|e| e as usize <= done) {
                epochs.push(m);
            }
        }
        Ok(RunDir { path: path.to_path_buf(), epochs })
    }

    /// The folder.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `config.json`.
    pub fn write_config(&self, config: &Value) -> Result<()> {
        let text = serde_json::to_string_pretty(config).unwrap_or_else(|_| "{}".into());
        write_atomic(&self.path.join("config.json"), format!("{text}\n").as_bytes())
    }

    /// Records one epoch's metrics (e.g. `{"epoch": 3, "loss": 0.2, "val_accuracy": 0.97}`):
    /// rewrites `metrics.jsonl` and redraws `loss.svg`, `accuracy.svg` and `perplexity.svg` (each
    /// when one of its metrics was recorded).
    pub fn record_epoch(&mut self, metrics: Map<String, Value>) -> Result<()> {
        self.epochs.push(metrics);
        let mut lines = String::new();
        for m in &self.epochs {
            lines.push_str(&Value::Object(m.clone()).to_string());
            lines.push('\n');
        }
        write_atomic(&self.path.join("metrics.jsonl"), lines.as_bytes())?;
        let charts: [(&str, &str, &[&str]); 3] = [
            ("loss.svg", "Loss", &["loss", "val_loss"]),
            ("accuracy.svg", "Accuracy", &["accuracy", "val_accuracy"]),
            ("perplexity.svg", "Perplexity", &["ppl", "val_ppl", "test_ppl"]),
        ];
        for (file, title, keys) in charts {
            let series: Vec<Series> = keys
                .iter()
                .filter(|k| self.epochs.iter().any(|m| m.contains_key(**k)))
                .map(|k| Series { name: k.to_string(), points: self.curve(k) })
                .collect();
            if !series.is_empty() {
                write_atomic(&self.path.join(file), line_chart(title, "epoch", title, &series).as_bytes())?;
            }
        }
        Ok(())
    }

    fn curve(&self, key: &str) -> Vec<(f64, f64)> {
        self.epochs
            .iter()
            .enumerate()
            .filter_map(|(i, m)| {
                let x = m.get("epoch").and_then(Value::as_f64).unwrap_or(i as f64 + 1.0);
                m.get(key).and_then(Value::as_f64).map(|y| (x, y))
            })
            .collect()
    }
}

/// The current UTC time as `YYYYmmdd-HHMMSS`.
fn utc_stamp() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + (m <= 2) as i64;
    format!("{y:04}{m:02}{d:02}-{:02}{:02}{:02}", rem / 3600, rem / 60 % 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_metrics_and_draws_curves() {
        let dir = std::env::temp_dir().join(format!("tessera-run-{}", std::process::id()));
        let mut run = RunDir::create(Some(&dir), "t").unwrap();
        run.write_config(&json!({"epochs": 2})).unwrap();
        for e in 1..=2 {
            let m = json!({"epoch": e, "loss": 1.0 / e as f64, "val_accuracy": 0.5 + 0.1 * e as f64});
            run.record_epoch(m.as_object().unwrap().clone()).unwrap();
        }
        let lines = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
        assert_eq!(lines.lines().count(), 2);
        assert!(lines.lines().nth(1).unwrap().contains("\"epoch\":2"));
        assert!(std::fs::read_to_string(dir.join("loss.svg")).unwrap().contains("<polyline"));
        assert!(dir.join("accuracy.svg").exists() && dir.join("config.json").exists());
        let mut resumed = RunDir::resume(&dir, 1).unwrap();
        resumed.record_epoch(json!({"epoch": 2, "loss": 0.4}).as_object().unwrap().clone()).unwrap();
        let lines = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
        assert!(lines.starts_with("{\"epoch\":1,") && lines.contains("0.4") && lines.lines().count() == 2);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(utc_stamp().len(), 15);
    }
}
