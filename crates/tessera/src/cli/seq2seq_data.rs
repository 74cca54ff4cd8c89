//! Where `tessera train seq2seq` gets its pairs: TSV files (with validation and test sets given
//! or held out by a seeded split) or the generated dates task; and the screening of every set
//! against the tokenizers and length limits, reported line by line.

use super::ranges::{count, fraction};
use super::seq2seq_text::PairTokenizers;
use super::CliResult;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use tessera_train::seq2seq::{dates_task, EncodedPair, PairSet};

/// The options that choose the pairs.
#[derive(Debug, Clone, clap::Args, Serialize, Deserialize)]
pub struct PairSets {
    /// Training pairs: one `source<TAB>target` per line. Default: the dates task, generated.
    #[arg(long)]
    pub pairs: Option<PathBuf>,
    /// Validation pairs (default: --val-split of the training pairs, held out by seed).
    #[arg(long, requires = "pairs")]
    pub valid: Option<PathBuf>,
    /// Test pairs (default: --test-split of the training pairs, held out by seed).
    #[arg(long, requires = "pairs")]
    pub test: Option<PathBuf>,
    /// Fraction of the training pairs held out for testing when there is no --test.
    #[arg(long, value_parser = fraction, default_value_t = 0.1)]
    pub test_split: f64,
    /// Sources longer than this many tokens are skipped (and reported).
    #[arg(long, value_parser = count, default_value_t = 128)]
    pub max_source_len: usize,
    /// Targets longer than this many tokens are skipped (and reported); decoding stops after
    /// one more.
    #[arg(long, value_parser = count, default_value_t = 128)]
    pub max_target_len: usize,
    /// Refuse the data when any line is skipped (instead of training on the rest).
    #[arg(long)]
    pub strict: bool,
    /// Training pairs of the generated dates task.
    #[arg(long, value_parser = count, default_value_t = 20_000)]
    pub dates_train: usize,
    /// Validation and test pairs (each) of the generated dates task.
    #[arg(long, value_parser = count, default_value_t = 1_000)]
    pub dates_eval: usize,
}

/// The three sets of a run, as text.
pub struct LoadedPairs {
    /// Training pairs.
    pub train: PairSet,
    /// Validation pairs.
    pub valid: PairSet,
    /// Test pairs.
    pub test: PairSet,
}

/// The three sets as ids.
pub struct EncodedSets {
    /// Training pairs.
    pub train: Vec<EncodedPair>,
    /// Validation pairs.
    pub valid: Vec<EncodedPair>,
    /// Test pairs.
    pub test: Vec<EncodedPair>,
}

/// Reads (or generates) the sets, holding out validation and test pairs by `seed` where no
/// file gives them; says what it read.
pub fn load_pairs(sets: &PairSets, val_split: f64, seed: u64) -> CliResult<LoadedPairs> {
    let Some(path) = &sets.pairs else {
        let (train, valid, test) =
            dates_task(seed, sets.dates_train, sets.dates_eval, sets.dates_eval)?.into_pair_sets();
        say!(
            "data: the dates task (generated, seed {seed}): {} / {} / {} pairs (train / validation / test)",
            train.len(),
            valid.len(),
            test.len()
        );
        return Ok(LoadedPairs { train, valid, test });
    };
    let train = PairSet::read(path)?;
    let (train, test) = match &sets.test {
        Some(p) => (train, PairSet::read(p)?),
        None => train.split(sets.test_split, seed)?,
    };
    let (train, valid) = match &sets.valid {
        Some(p) => (train, PairSet::read(p)?),
        None => train.split(val_split, seed.wrapping_add(1))?,
    };
    for set in [&train, &valid, &test] {
        set.ensure_nonempty()?;
    }
    say!("data: {} / {} / {} pairs (train / validation / test)", train.len(), valid.len(), test.len());
    Ok(LoadedPairs { train, valid, test })
}

impl LoadedPairs {
    /// Every set screened and encoded: what is skipped is summarised per set (and refused with
    /// `--strict`); an empty set after screening is an error.
    pub fn encode(&mut self, tokenizers: &PairTokenizers, sets: &PairSets) -> CliResult<EncodedSets> {
        let encode = |set: &mut PairSet| -> CliResult<Vec<EncodedPair>> {
            let encoded = tokenizers.screen_and_encode(set, sets.max_source_len, sets.max_target_len);
            if !set.skipped.is_empty() {
                if sets.strict {
                    set.ensure_clean()?;
                }
                warn!("{}", set.summary());
            }
            set.ensure_nonempty()?;
            Ok(encoded)
        };
        Ok(EncodedSets {
            train: encode(&mut self.train)?,
            valid: encode(&mut self.valid)?,
            test: encode(&mut self.test)?,
        })
    }
}
