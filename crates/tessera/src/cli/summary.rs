//! `tessera summary mlp|cnn`.

use super::mlp::{Arch, MlpConfig};
use super::CliResult;
use tessera_tensor::{DType, Device};

/// Arguments of `tessera summary`.
#[derive(Debug, clap::Args)]
pub struct SummaryArgs {
    /// The model: `mlp` (`train mlp`'s) or `cnn` (`train cnn`'s, without batch norm).
    #[arg(value_parser = ["mlp", "cnn"])]
    model: String,
}

/// Prints the model's layers, output shapes, parameters and FLOPs per example, for MNIST's
/// 28x28 images.
pub fn run(a: SummaryArgs) -> CliResult<()> {
    let arch = if a.model == "cnn" { Arch::Cnn { batch_norm: false } } else { Arch::Mlp };
    let cfg = MlpConfig { arch, inputs: 784, classes: 10, seed: 0, source: Default::default() };
    let model = cfg.build(&Device::Cpu)?;
    say!("{}", tessera_nn::summary::summarize(&model, &[784], DType::F32, &Device::Cpu)?);
    Ok(())
}
