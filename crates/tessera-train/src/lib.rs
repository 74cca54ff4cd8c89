//! Training for Tessera: datasets and loaders, metrics, progress display, run folders with
//! metrics and plots, optimizers, learning-rate schedules, checkpoints, callbacks, and one
//! training loop, the Keras-like [`Trainer::fit`], for every model through a [`Task`]
//! ([`Supervised`] for a model and a loss, [`lm::LmTask`] for the language model in [`lm`]).

pub mod callbacks;
pub mod checkpoint;
pub mod classification;
pub mod data;
mod error;
pub mod fs;
pub mod gpt;
pub mod lm;
pub mod memory;
pub mod metrics;
pub mod models;
pub mod optim;
pub mod plot;
pub mod progress;
pub mod rng;
pub mod run_dir;
pub mod saliency;
pub mod schedule;
pub mod seq2seq;
mod trainer;
pub mod tune;

pub use error::{Error, Result};
/// The precision a model trains in (mixed precision: see [`Trainer::precision`]).
pub use tessera_autograd::Precision;
/// Distributed training's communicator and collectives (the `tessera-dist` crate).
pub use tessera_dist as dist;
pub use trainer::{
    evaluate, evaluate_task, format_logs, Backprop, Batches, BoxedBatches, DataParallel, Evaluation, FitConfig,
    FitData, FitPlan, History, LossFn, Metrics, Pass, Shard, Step, Supervised, Task, Trainer, Validation,
};

/// The README's examples, compiled and run as doc tests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
