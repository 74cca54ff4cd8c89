//! `--l1` and `--l2`: L1 and L2 penalties on a model's weights, for the `train` subcommands that
//! take them. They are recorded with the run's other settings, so `--resume` applies them again.

use super::ranges::non_negative;
use super::CliResult;
use serde::{Deserialize, Serialize};
use tessera_train::optim::{matrices_and_embeddings, Optimizer, Penalty};

/// L1 and L2 penalties on the weights: the parameters of two or more dims (weight matrices,
/// convolution kernels, embeddings), not biases or normalisation parameters.
#[derive(Debug, Clone, Copy, Default, PartialEq, clap::Args, Serialize, Deserialize)]
pub struct PenaltyArgs {
    /// L1 penalty on the weights (not the biases): adds `l1 · Σ|w|` to the loss, as Keras'
    /// `regularizers.l1`; the epoch's logs show its value as `penalty`.
    #[arg(long, value_parser = non_negative, default_value_t = 0.0)]
    #[serde(default)]
    pub l1: f64,
    /// L2 penalty on the weights (not the biases): adds `l2 · Σw²` to the loss, as Keras'
    /// `regularizers.l2` (the gradient is `2 · l2 · w`: twice PyTorch's `weight_decay` of the
    /// same value).
    #[arg(long, value_parser = non_negative, default_value_t = 0.0)]
    #[serde(default)]
    pub l2: f64,
}

impl PenaltyArgs {
    /// `optimizer` with these penalties on the weights (unchanged when both are 0).
    pub fn apply(&self, optimizer: Optimizer) -> CliResult<Optimizer> {
        let penalty = Penalty { l1: self.l1, l2: self.l2 };
        if penalty.is_zero() {
            return Ok(optimizer);
        }
        Ok(optimizer.with_penalty(penalty, matrices_and_embeddings)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Args {
        #[command(flatten)]
        penalty: PenaltyArgs,
    }

    #[test]
    fn penalties_parse_with_ranges_and_default_to_0_in_old_configs() {
        let a = Args::try_parse_from(["t", "--l1", "1e-5", "--l2", "0.001"]).unwrap();
        assert_eq!(a.penalty, PenaltyArgs { l1: 1e-5, l2: 0.001 });
        let e = Args::try_parse_from(["t", "--l2=-1"]).unwrap_err().to_string();
        assert!(e.contains("'-1'") && e.contains("must be 0 or above"), "{e}");
        assert!(Args::try_parse_from(["t", "--l1", "nan"]).is_err());
        let old: PenaltyArgs = serde_json::from_str("{}").unwrap();
        assert_eq!(old, PenaltyArgs::default());
    }
}
