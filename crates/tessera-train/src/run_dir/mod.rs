//! The run folder: the configuration, metrics per epoch as JSON lines, the curves as SVG, and
//! checkpoints, every file written atomically; a lock file keeps other runs out while it runs.

mod lock;

pub use lock::{RunLock, LOCK_FILE};

use crate::callbacks::EpochLogs;
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
    _lock: RunLock,
}

/// The files a run writes in its folder: what `overwrite` replaces (nothing else is touched).
pub const RUN_FILES: &[&str] = &[
    "config.json",
    "metrics.jsonl",
    "results.json",
    "loss.svg",
    "accuracy.svg",
    "perplexity.svg",
    "vocab.json",
    "tokenizer.json",
    "checkpoints",
    "tune.csv",
    "tune.svg",
];

impl RunDir {
    /// The folder of a new run: `path`, or `runs/<name>-<UTC date and time>` when `None`.
    pub fn new_path(path: Option<&Path>, name: &str) -> PathBuf {
        match path {
            Some(p) => p.to_path_buf(),
            None => PathBuf::from("runs").join(format!("{name}-{}", utc_stamp())),
        }
    }

    /// Checks, without writing anything, that a new run may use `path`: not the root or home
    /// folder, not a file, not locked by a running run, and empty unless `overwrite` (which
    /// allows replacing the [`RUN_FILES`] of an earlier run there).
    pub fn check_new(path: &Path, overwrite: bool) -> Result<()> {
        let refuse = |msg: String| Err(Error::RunFolder { path: path.into(), msg });
        if is_root_or_home(path) {
            return refuse("runs are never written into the root or home folder; choose a folder for the run".into());
        }
        if path.exists() && !path.is_dir() {
            return refuse("exists and is not a folder".into());
        }
        if let Some(pid) = RunLock::holder_of(path) {
            return refuse(format!("in use by a running run (process {pid}, see {LOCK_FILE})"));
        }
        let entries = match std::fs::read_dir(path) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(Error::io(path, e)),
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok().map(|e| e.file_name().to_string_lossy().into_owned()))
            .filter(|n| n != LOCK_FILE)
            .collect();
        if names.is_empty() || overwrite {
            return Ok(());
        }
        names.sort();
        let shown = names.iter().take(3).cloned().collect::<Vec<_>>().join(", ");
        let more = if names.len() > 3 { format!(" and {} more", names.len() - 3) } else { String::new() };
        refuse(format!(
            "the folder is not empty ({shown}{more}); choose a new folder, continue its run with --resume, or \
             pass --overwrite to replace an earlier run's files there"
        ))
    }

    /// Creates the folder of a new run at `path` (see [`RunDir::new_path`]) and locks it, after
    /// [`RunDir::check_new`]; with `overwrite`, an earlier run's [`RUN_FILES`] are removed.
    pub fn create(path: &Path, overwrite: bool) -> Result<RunDir> {
        RunDir::check_new(path, overwrite)?;
        create_dir(path)?;
        let lock = RunLock::acquire(path)?;
        // Checked again under the lock: another run may have started in between.
        RunDir::check_new(path, overwrite)?;
        if overwrite {
            for name in RUN_FILES {
                let p = path.join(name);
                let removed = if p.is_dir() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
                match removed {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::io(p, e)),
                    _ => {}
                }
            }
        }
        Ok(RunDir { path: path.to_path_buf(), epochs: Vec::new(), _lock: lock })
    }

    /// Reopens the run in `path` to continue it after `done` epochs: keeps the metrics of
    /// those epochs from its `metrics.jsonl` (later ones, from an interrupted epoch, are
    /// dropped when the next epoch is recorded).
    pub fn resume(path: &Path, done: usize) -> Result<RunDir> {
        let lock = RunLock::acquire(path)?;
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
        Ok(RunDir { path: path.to_path_buf(), epochs, _lock: lock })
    }

    /// The epochs recorded so far (those kept by [`RunDir::resume`]), as logs: what callbacks
    /// replay to take up a resumed run's state.
    pub fn history(&self) -> Vec<EpochLogs> {
        self.epochs
            .iter()
            .enumerate()
            .map(|(i, m)| EpochLogs {
                epoch: m.get("epoch").and_then(Value::as_u64).map_or(i + 1, |e| e as usize),
                values: m
                    .iter()
                    .filter(|(k, _)| *k != "epoch")
                    .filter_map(|(k, v)| Some((k.clone(), v.as_f64()?)))
                    .collect(),
            })
            .collect()
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

/// Whether `path` is the file system's root or the user's home folder.
fn is_root_or_home(path: &Path) -> bool {
    let Ok(canonical) = path.canonicalize() else { return false };
    let home = std::env::var_os("HOME").and_then(|h| PathBuf::from(h).canonicalize().ok());
    canonical.parent().is_none() || home.is_some_and(|h| h == canonical)
}

/// The current UTC time as `YYYYmmdd-HHMMSS`.
fn utc_stamp() -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = crate::seq2seq::dates::civil_from_days(days as i64);
    format!("{y:04}{m:02}{d:02}-{:02}{:02}{:02}", rem / 3600, rem / 60 % 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn records_metrics_and_draws_curves() {
        let dir = std::env::temp_dir().join(format!("tessera-run-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut run = RunDir::create(&dir, false).unwrap();
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
        drop(run);
        let mut resumed = RunDir::resume(&dir, 1).unwrap();
        assert_eq!(resumed.history().len(), 1);
        assert_eq!(resumed.history()[0].get("val_accuracy"), Some(0.6));
        resumed.record_epoch(json!({"epoch": 2, "loss": 0.4}).as_object().unwrap().clone()).unwrap();
        let lines = std::fs::read_to_string(dir.join("metrics.jsonl")).unwrap();
        assert!(lines.starts_with("{\"epoch\":1,") && lines.contains("0.4") && lines.lines().count() == 2);
        drop(resumed);
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(utc_stamp().len(), 15);
    }
}

#[cfg(test)]
mod folder_tests {
    use super::*;

    #[test]
    fn a_new_run_refuses_used_root_and_home_folders() {
        let dir = std::env::temp_dir().join(format!("tessera-run-target-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("notes.txt"), "mine").unwrap();
        std::fs::write(dir.join("config.json"), "{}").unwrap();
        let e = RunDir::create(&dir, false).unwrap_err().to_string();
        assert!(e.contains("not empty (config.json, notes.txt)") && e.contains("--overwrite"), "{e}");
        let run = RunDir::create(&dir, true).unwrap();
        assert!(!dir.join("config.json").exists() && dir.join("notes.txt").exists());
        let e = RunDir::create(&dir, true).unwrap_err().to_string();
        assert!(e.contains("in use by"), "{e}");
        drop(run);
        for refused in [Path::new("/"), &std::env::temp_dir().join("..").join("..")] {
            let e = RunDir::check_new(refused, true).unwrap_err().to_string();
            assert!(e.contains("root or home"), "{e}");
        }
        let e = RunDir::check_new(&dir.join("notes.txt"), true).unwrap_err().to_string();
        assert!(e.contains("not a folder"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
