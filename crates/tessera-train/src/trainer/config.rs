//! How to fit ([`FitConfig`]), what fitting returns ([`History`]), and how an epoch's logs are
//! shown and recorded.

use super::distributed::Shard;
use crate::callbacks::{Callback, Control, EpochLogs, TrainContext};
use crate::data::{Augment, TensorDataset};
use crate::run_dir::RunDir;
use crate::Result;
use std::io::Write;

/// Where validation metrics come from, for a [`TensorDataset`].
#[derive(Debug, Clone, Default)]
pub enum Validation {
    /// No validation.
    #[default]
    None,
    /// Hold out this fraction of the training data (shuffled with the seed) before training.
    Split(f64),
    /// A separate dataset.
    Data(TensorDataset),
}

/// How to fit. The data decide what applies to them: a [`TensorDataset`] is shuffled, split
/// for validation and augmented; token streams ([`LmSplits`](crate::lm::LmSplits)) are cut
/// into `batch_size` rows walked `seq_len` steps at a time.
#[derive(Debug, Clone)]
pub struct FitConfig {
    /// Passes over the training data.
    pub epochs: usize,
    /// Examples per optimizer step (for token streams: parallel rows).
    pub batch_size: usize,
    /// Seed of the shuffling and of the validation split (for language models: of the dropout
    /// masks, reseeded at every epoch start).
    pub seed: u64,
    /// Validation data of a [`TensorDataset`].
    pub validation: Validation,
    /// Also report top-k accuracy for this k on evaluation sets.
    pub top_k: Option<usize>,
    /// Augment training inputs of a [`TensorDataset`].
    pub augment: Option<Augment>,
    /// Show a progress bar (or plain lines when not on a terminal) and each epoch's logs.
    pub progress: bool,
    /// Steps per window of token streams (truncated backpropagation through time).
    pub seq_len: usize,
    /// Batch size of evaluation passes (default: the larger of `batch_size` and 256 for tensor
    /// datasets, 10 rows for token streams).
    pub eval_batch_size: Option<usize>,
    /// This process's part of every training batch (`batch_size` stays the global batch); a
    /// data-parallel [`Trainer`](crate::Trainer) sets it from its communicator.
    pub shard: Shard,
}

impl Default for FitConfig {
    fn default() -> Self {
        FitConfig {
            epochs: 1,
            batch_size: 32,
            seed: 0,
            validation: Validation::None,
            top_k: None,
            augment: None,
            progress: true,
            seq_len: 35,
            eval_batch_size: None,
            shard: Shard::default(),
        }
    }
}

/// What [`Trainer::fit`](crate::Trainer::fit) returns: every epoch's logs.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// One entry per completed epoch.
    pub epochs: Vec<EpochLogs>,
    /// Whether a callback stopped training before the last epoch.
    pub stopped_early: bool,
}

/// What the loop does when an epoch ends: prints the logs (when `show` holds the epoch count),
/// runs the callbacks and records the epoch in the run folder. Returns whether a callback asked
/// to stop.
pub(crate) fn end_epoch(
    logs: &EpochLogs,
    show: Option<usize>,
    callbacks: &mut [Box<dyn Callback>],
    run: Option<&mut RunDir>,
    ctx: &mut TrainContext<'_>,
) -> Result<bool> {
    if let Some(epochs) = show {
        // A closed or full standard error must not end a run: the run folder records the logs.
        let _ = writeln!(std::io::stderr(), "epoch {}/{epochs}: {}", logs.epoch, format_logs(logs));
    }
    let mut stop = false;
    for cb in callbacks.iter_mut() {
        stop |= cb.on_epoch_end(logs, ctx)? == Control::Stop;
    }
    if let Some(run) = run {
        let mut m = serde_json::Map::new();
        m.insert("epoch".into(), logs.epoch.into());
        for (k, v) in &logs.values {
            m.insert(k.clone(), (*v).into());
        }
        run.record_epoch(m)?;
    }
    Ok(stop)
}

/// `loss 0.2412 accuracy 0.9312 val_loss ...` in a fixed order.
pub fn format_logs(logs: &EpochLogs) -> String {
    let order = ["loss", "ppl", "accuracy", "val_loss", "val_ppl", "val_accuracy", "test_loss", "test_ppl"];
    let mut parts: Vec<String> = order.iter().filter_map(|k| logs.get(k).map(|v| format!("{k} {v:.4}"))).collect();
    for (k, v) in &logs.values {
        if !order.contains(&k.as_str()) {
            parts.push(match k.as_str() {
                "lr" => format!("{k} {v:.2e}"),
                "seconds" => format!("{k} {v:.1}"),
                "tokens_per_sec" => format!("{k} {v:.0}"),
                _ => format!("{k} {v:.4}"),
            });
        }
    }
    parts.join("  ")
}
