//! Model selection: a hyperparameter search over classifiers, scored by stratified k-fold
//! cross-validation or a stratified validation split.
//!
//! - [`SearchSpace`] parses `lr=1e-3,3e-4 batch_size=32,128` against the keys a model kind
//!   accepts ([`TRAINING_KEYS`]: learning rate, batch size, epochs, weight decay, optimizer, L1
//!   and L2 penalties; plus its own such as [`DROPOUT`]); [`SearchSpace::grid`] gives
//!   every configuration, [`SearchSpace::sample`] a seeded random draw of them.
//! - [`Resampling`] cuts the data into stratified folds ([`stratified_k_fold`],
//!   [`stratified_split`]).
//! - [`Tuner`] trains a fresh model per configuration and fold (the caller's builder makes it;
//!   [`TrainSettings`] say how it trains), ranks the configurations in a [`Leaderboard`] (mean
//!   accuracy ± standard deviation, written as CSV and an SVG chart), and retrains the best one
//!   on all the training data.

mod folds;
mod grid;
mod rank;
mod report;
mod runner;
mod settings;
mod space;

pub use folds::{class_labels, stratified_k_fold, stratified_split, Fold, Resampling};
pub use grid::{Sample, MAX_GRID};
pub use rank::{ConfigScore, FoldScore, Leaderboard};
pub use runner::{FoldReport, ModelBuilder, Retrained, Tuner};
pub use settings::{OptimizerChoice, TrainSettings};
pub use space::{
    Config, KeySpec, Kind, Param, SearchSpace, Value, BATCH_SIZE, DROPOUT, EPOCHS, L1, L2, LR, OPTIMIZER,
    TRAINING_KEYS, WEIGHT_DECAY,
};

#[cfg(test)]
mod tests;
