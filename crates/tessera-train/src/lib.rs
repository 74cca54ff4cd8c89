//! Training for Tessera: datasets and loaders, metrics, progress display, run folders with
//! metrics and plots, optimizers, learning-rate schedules, checkpoints, callbacks and the
//! Keras-like [`Trainer::fit`], and the language-model loop in [`lm`].

pub mod callbacks;
pub mod checkpoint;
pub mod data;
mod error;
pub mod fs;
pub mod lm;
pub mod metrics;
pub mod models;
pub mod optim;
pub mod plot;
pub mod progress;
pub mod rng;
pub mod run_dir;
pub mod schedule;
mod trainer;

pub use error::{Error, Result};
pub use trainer::{evaluate, format_logs, Evaluation, FitConfig, History, LossFn, Trainer, Validation};
