//! `tessera eval`: a checkpoint's loss and accuracy on test data.

use super::device::{open, DeviceChoice};
use super::mlp::{self, MnistSource};
use super::saved;
use super::CliResult;
use std::path::PathBuf;
use tessera_nn::loss;
use tessera_train::data::Dataset;
use tessera_train::{evaluate, LossFn};

/// Arguments of `tessera eval`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// A checkpoint file, or a run folder (its best checkpoint).
    #[arg(long)]
    checkpoint: PathBuf,
    /// Test images: as `train mlp --data` (default: the data the checkpoint was trained with;
    /// predictions are for the test part).
    #[command(flatten)]
    source: MnistSource,
    /// Where to run.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Cpu)]
    device: DeviceChoice,
}

/// Runs `tessera eval`.
pub fn run(a: EvalArgs) -> CliResult<()> {
    let device = open(a.device)?;
    let (model, cfg) = mlp::load(&a.checkpoint, &device)?;
    let test = a.source.or(&cfg.source).load(cfg.seed)?.test;
    let test =
        tessera_train::data::TensorDataset::new(test.inputs().to_device(&device)?, test.targets().to_device(&device)?)?;
    let loss_fn: LossFn = Box::new(loss::sparse_categorical_crossentropy);
    let e = evaluate(&model, &loss_fn, &test, 1000, Some(5))?;
    say!(
        "{}: test loss {:.4}, accuracy {:.2}%, top-5 {:.2}% on {} images",
        saved::checkpoint_file(&a.checkpoint).display(),
        e.loss,
        e.accuracy.unwrap_or(f64::NAN) * 100.0,
        e.top_k.unwrap_or(f64::NAN) * 100.0,
        test.len()
    );
    Ok(())
}
