//! Training for Tessera: datasets and loaders, metrics, progress display, run folders with
//! metrics and plots, and (with the nn crate) optimizers, schedules and `Trainer::fit`.

pub mod data;
mod error;
pub mod fs;
pub mod metrics;
pub mod plot;
pub mod progress;
pub mod rng;
pub mod run_dir;

pub use error::{Error, Result};
