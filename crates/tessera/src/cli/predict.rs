//! `tessera predict`: classes and probabilities for images.

use super::device::{open, DeviceChoice};
use super::input::write_lines;
use super::mlp::{self, MnistSource};
use super::ranges::count;
use super::CliResult;
use std::path::PathBuf;
use tessera_autograd::{no_grad, Var};
use tessera_nn::Module;

/// Arguments of `tessera predict`.
#[derive(Debug, clap::Args)]
pub struct PredictArgs {
    /// A checkpoint file, or a run folder (its best checkpoint).
    #[arg(long)]
    checkpoint: PathBuf,
    /// Test images: as `train mlp --data` (default: the data the checkpoint was trained with;
    /// predictions are for the test part).
    #[command(flatten)]
    source: MnistSource,
    /// How many images.
    #[arg(long, value_parser = count, default_value_t = 10)]
    limit: usize,
    /// Where to run.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Cpu)]
    device: DeviceChoice,
}

/// Runs `tessera predict`: one line per image, `index predicted probability label`.
pub fn run(a: PredictArgs) -> CliResult<()> {
    let device = open(a.device)?;
    let (model, cfg) = mlp::load(&a.checkpoint, &device)?;
    model.set_training(false);
    let test = a.source.or(&cfg.source).load(cfg.seed)?.test;
    let n = a.limit.min(test.inputs().dims()[0]);
    let images = test.inputs().narrow(0, 0, n)?.to_device(&device)?;
    let probs = no_grad(|| model.forward(&Var::constant(images)))?;
    let best = probs.tensor().argmax(-1, false)?.to_vec::<i64>()?;
    let p = probs.tensor().to_vec_f64()?;
    let labels = test.targets().narrow(0, 0, n)?.to_vec_f64()?;
    let lines = (0..n).map(|i| {
        let c = best[i] as usize;
        format!("{i}\tpredicted {c}\tprobability {:.4}\tlabel {}", p[i * cfg.classes + c], labels[i])
    });
    write_lines(std::iter::once("image\tprediction\tprobability\tlabel".to_string()).chain(lines))
}
