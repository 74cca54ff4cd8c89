//! `tessera summary mlp`.

use super::mlp::MlpConfig;
use super::CliResult;
use tessera_tensor::{DType, Device};

/// Arguments of `tessera summary`.
#[derive(Debug, clap::Args)]
pub struct SummaryArgs {
    /// The model: `mlp`.
    #[arg(value_parser = ["mlp"])]
    model: String,
}

/// Prints the model's layers, output shapes, parameters and FLOPs per example.
pub fn run(_a: SummaryArgs) -> CliResult<()> {
    let cfg = MlpConfig { inputs: 784, classes: 10, seed: 0, source: Default::default() };
    let model = cfg.build(&Device::Cpu)?;
    say!("{}", tessera_nn::summary::summarize(&model, &[784], DType::F32, &Device::Cpu)?);
    Ok(())
}
