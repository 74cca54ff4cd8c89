//! Batches of encoded pairs: the sources padded to one length (on the side the model reads
//! best), the decoder's inputs (`<bos>` and the target) and the targets it predicts (the target
//! and `<eos>`), and the data a [`Trainer`](crate::Trainer) walks.

use crate::rng::SplitMix;
use crate::trainer::{shard_rows, Batches, FitConfig, FitData, FitPlan, RowBatch};
use crate::{Error, Result};
use std::ops::Range;
use std::sync::Arc;
use tessera_tensor::{Device, Tensor};

/// The ids every sequence-to-sequence vocabulary reserves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Specials {
    /// Fills sources and targets to a batch's length; ignored by the loss.
    pub pad: u32,
    /// Starts every decoder input.
    pub bos: u32,
    /// Ends every target.
    pub eos: u32,
}

/// Where a batch's shorter sources are filled up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PadSide {
    /// Padding before the tokens: a recurrent encoder then ends every row on its last token.
    Left,
    /// Padding after the tokens: every row's tokens start at position 0.
    Right,
}

/// One pair as ids: the source, and the target without `<bos>` or `<eos>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedPair {
    /// Source ids.
    pub source: Vec<u32>,
    /// Target ids.
    pub target: Vec<u32>,
}

/// Sources of one batch, padded to the longest.
#[derive(Debug, Clone)]
pub struct SourceBatch {
    /// Ids `[batch, length]` (u32).
    pub ids: Tensor,
    /// `[batch, length]` u8, nonzero where a position is padding (PyTorch's key padding mask).
    pub padding: Tensor,
    /// Each row's own length.
    pub lengths: Vec<usize>,
}

impl SourceBatch {
    /// `sources` padded with `pad` on `side`, on `device`. Every source needs a token.
    ///
    /// ```
    /// use tessera_tensor::Device;
    /// use tessera_train::seq2seq::{PadSide, SourceBatch};
    /// let b = SourceBatch::new(&[&[5, 6, 7][..], &[8]], 0, PadSide::Left, &Device::Cpu)?;
    /// assert_eq!(b.ids.to_vec::<u32>()?, [5, 6, 7, 0, 0, 8]);
    /// assert_eq!(b.padding.to_vec::<u8>()?, [0, 0, 0, 1, 1, 0]);
    /// # Ok::<(), tessera_train::Error>(())
    /// ```
    pub fn new(sources: &[&[u32]], pad: u32, side: PadSide, device: &Device) -> Result<SourceBatch> {
        if let Some(i) = sources.iter().position(|s| s.is_empty()) {
            return Err(Error::Config(format!("source {i} of the batch is empty: a source needs at least one token")));
        }
        let len = sources.iter().map(|s| s.len()).max().unwrap_or(0);
        let (ids, padding) = pad_rows(sources, len, pad, side);
        let shape = [sources.len(), len];
        Ok(SourceBatch {
            ids: Tensor::from_vec(ids, shape, &Device::Cpu)?.to_device(device)?,
            padding: Tensor::from_vec(padding, shape, &Device::Cpu)?.to_device(device)?,
            lengths: sources.iter().map(|s| s.len()).collect(),
        })
    }

    /// Rows in the batch.
    pub fn batch(&self) -> usize {
        self.lengths.len()
    }

    /// Positions per row (the longest source).
    pub fn len(&self) -> usize {
        self.ids.dims()[1]
    }

    /// Whether the batch has no positions.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Rows of ids padded to `len` on `side`, and the mask of padded positions.
fn pad_rows(rows: &[&[u32]], len: usize, pad: u32, side: PadSide) -> (Vec<u32>, Vec<u8>) {
    let mut ids = Vec::with_capacity(rows.len() * len);
    let mut mask = Vec::with_capacity(rows.len() * len);
    for row in rows {
        let fill = len - row.len();
        if side == PadSide::Left {
            ids.extend(std::iter::repeat_n(pad, fill));
            mask.extend(std::iter::repeat_n(1u8, fill));
        }
        ids.extend_from_slice(row);
        mask.extend(std::iter::repeat_n(0u8, row.len()));
        if side == PadSide::Right {
            ids.extend(std::iter::repeat_n(pad, fill));
            mask.extend(std::iter::repeat_n(1u8, fill));
        }
    }
    (ids, mask)
}

/// A batch for teacher forcing.
#[derive(Debug, Clone)]
pub struct Seq2seqBatch {
    /// The sources.
    pub source: SourceBatch,
    /// `[batch, steps]` u32: `<bos>` then the target, padded on the right.
    pub decoder_input: Tensor,
    /// `[batch, steps]` u32: the target then `<eos>`, padded on the right with `<pad>`.
    pub decoder_target: Tensor,
    /// Each row's target ids without `<bos>`/`<eos>` (for exact match and BLEU).
    pub targets: Vec<Vec<u32>>,
}

impl Seq2seqBatch {
    /// The batch of `pairs`, sources padded on `side`, on `device`.
    pub fn new(pairs: &[&EncodedPair], specials: Specials, side: PadSide, device: &Device) -> Result<Seq2seqBatch> {
        let sources: Vec<&[u32]> = pairs.iter().map(|p| p.source.as_slice()).collect();
        let source = SourceBatch::new(&sources, specials.pad, side, device)?;
        let steps = pairs.iter().map(|p| p.target.len() + 1).max().unwrap_or(1);
        let inputs: Vec<Vec<u32>> =
            pairs.iter().map(|p| std::iter::once(specials.bos).chain(p.target.iter().copied()).collect()).collect();
        let outputs: Vec<Vec<u32>> =
            pairs.iter().map(|p| p.target.iter().copied().chain(std::iter::once(specials.eos)).collect()).collect();
        let rows = |v: &[Vec<u32>]| -> Result<Tensor> {
            let refs: Vec<&[u32]> = v.iter().map(Vec::as_slice).collect();
            let (ids, _) = pad_rows(&refs, steps, specials.pad, PadSide::Right);
            Ok(Tensor::from_vec(ids, [pairs.len(), steps], &Device::Cpu)?.to_device(device)?)
        };
        Ok(Seq2seqBatch {
            source,
            decoder_input: rows(&inputs)?,
            decoder_target: rows(&outputs)?,
            targets: pairs.iter().map(|p| p.target.clone()).collect(),
        })
    }

    /// Target tokens the loss counts (with each row's `<eos>`).
    pub fn target_tokens(&self) -> usize {
        self.targets.iter().map(|t| t.len() + 1).sum()
    }
}

/// A data-parallel process takes its rows of the global batch, padded as the global batch is.
impl RowBatch for Seq2seqBatch {
    fn rows(&self) -> usize {
        self.targets.len()
    }

    fn take_rows(&self, rows: Range<usize>) -> Result<Seq2seqBatch> {
        let (at, n) = (rows.start, rows.len());
        Ok(Seq2seqBatch {
            source: SourceBatch {
                ids: self.source.ids.narrow(0, at, n)?,
                padding: self.source.padding.narrow(0, at, n)?,
                lengths: self.source.lengths[rows.clone()].to_vec(),
            },
            decoder_input: self.decoder_input.narrow(0, at, n)?,
            decoder_target: self.decoder_target.narrow(0, at, n)?,
            targets: self.targets[rows].to_vec(),
        })
    }
}

/// Encoded pairs to train on and to evaluate with, cut into batches for a [`Trainer`].
///
/// [`Trainer`]: crate::Trainer
#[derive(Debug, Clone)]
pub struct Seq2seqData {
    /// Training pairs, reshuffled every epoch.
    pub train: Vec<EncodedPair>,
    /// Evaluation sets by name (`val`, `test`), in order.
    pub eval: Vec<(String, Vec<EncodedPair>)>,
    /// The vocabulary's reserved ids.
    pub specials: Specials,
    /// Where sources are padded (the model's [`Seq2seq::source_padding`](super::Seq2seq::source_padding)).
    pub side: PadSide,
    /// Where the batches are made.
    pub device: Device,
}

struct PairBatches {
    pairs: Arc<Vec<EncodedPair>>,
    batch_size: usize,
    /// A last batch with fewer pairs is left out (so that every data-parallel process gets one).
    min_last: usize,
    shuffle_seed: Option<u64>,
    specials: Specials,
    side: PadSide,
    device: Device,
}

impl Batches for PairBatches {
    type Batch = Seq2seqBatch;

    fn batches_per_epoch(&self) -> usize {
        let n = self.pairs.len();
        let short = !n.is_multiple_of(self.batch_size) && n % self.batch_size < self.min_last;
        n.div_ceil(self.batch_size) - short as usize
    }

    fn epoch(&self, index: usize) -> Box<dyn Iterator<Item = Result<Seq2seqBatch>> + '_> {
        let mut order: Vec<usize> = (0..self.pairs.len()).collect();
        if let Some(seed) = self.shuffle_seed {
            SplitMix::new(seed ^ (index as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15), 11).shuffle(&mut order);
        }
        let chunks: Vec<Vec<usize>> =
            order.chunks(self.batch_size).take(self.batches_per_epoch()).map(<[usize]>::to_vec).collect();
        Box::new(chunks.into_iter().map(move |rows| {
            let pairs: Vec<&EncodedPair> = rows.iter().map(|&i| &self.pairs[i]).collect();
            Seq2seqBatch::new(&pairs, self.specials, self.side, &self.device)
        }))
    }
}

impl FitData for Seq2seqData {
    type Batch = Seq2seqBatch;

    fn plan(&self, cfg: &FitConfig) -> Result<FitPlan<Seq2seqBatch>> {
        if self.train.is_empty() || cfg.batch_size == 0 {
            return Err(Error::Config(format!(
                "{} training pairs in batches of {}: both must be positive",
                self.train.len(),
                cfg.batch_size
            )));
        }
        let batches = |pairs: &[EncodedPair], shuffle_seed, min_last| PairBatches {
            pairs: Arc::new(pairs.to_vec()),
            batch_size: cfg.batch_size,
            min_last,
            shuffle_seed,
            specials: self.specials,
            side: self.side,
            device: self.device,
        };
        let eval = self
            .eval
            .iter()
            .filter(|(_, pairs)| !pairs.is_empty())
            .map(|(name, pairs)| (name.clone(), Box::new(batches(pairs, None, 1)) as _))
            .collect();
        // Each process of a data-parallel run takes its rows of every global batch.
        let train = shard_rows(batches(&self.train, Some(cfg.seed), cfg.shard.world), cfg.batch_size, cfg.shard)?;
        Ok(FitPlan { train, eval })
    }

    fn shards(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn teacher_forcing_rows_shift_the_target_by_one() -> Result<()> {
        let specials = Specials { pad: 0, bos: 1, eos: 2 };
        let a = EncodedPair { source: vec![5, 6], target: vec![7, 8, 9] };
        let b = EncodedPair { source: vec![5], target: vec![7] };
        let batch = Seq2seqBatch::new(&[&a, &b], specials, PadSide::Right, &Device::Cpu)?;
        assert_eq!(batch.decoder_input.to_vec::<u32>()?, [1, 7, 8, 9, 1, 7, 0, 0]);
        assert_eq!(batch.decoder_target.to_vec::<u32>()?, [7, 8, 9, 2, 7, 2, 0, 0]);
        assert_eq!(batch.source.ids.to_vec::<u32>()?, [5, 6, 5, 0]);
        assert_eq!(batch.target_tokens(), 6);
        Ok(())
    }

    #[test]
    fn an_empty_source_is_refused_by_its_row() {
        let err = SourceBatch::new(&[&[3][..], &[]], 0, PadSide::Left, &Device::Cpu).unwrap_err();
        assert!(err.to_string().contains("source 1"), "{err}");
    }

    #[test]
    fn each_process_takes_its_rows_padded_as_the_global_batch() -> Result<()> {
        let specials = Specials { pad: 0, bos: 1, eos: 2 };
        let pair = |n: usize| EncodedPair { source: vec![5; n], target: vec![7; n] };
        let data = Seq2seqData {
            train: (1..=5).map(pair).collect(),
            eval: Vec::new(),
            specials,
            side: PadSide::Right,
            device: Device::Cpu,
        };
        let shard = |rank| crate::Shard { rank, world: 2 };
        let cfg = |rank| FitConfig { batch_size: 4, shard: shard(rank), ..FitConfig::default() };
        // 5 pairs in batches of 4: the last batch (1 pair) cannot give both processes a row.
        let whole = data.plan(&FitConfig { batch_size: 4, ..FitConfig::default() })?.train;
        assert_eq!(whole.batches_per_epoch(), 2);
        let global = whole.epoch(0).next().unwrap()?;
        let mut rows = 0;
        for rank in 0..2 {
            let plan = data.plan(&cfg(rank))?.train;
            assert_eq!(plan.batches_per_epoch(), 1);
            let mine = plan.epoch(0).next().unwrap()?;
            assert_eq!(mine.source.len(), global.source.len(), "the global batch's padding");
            assert_eq!(mine.decoder_target.dims()[1], global.decoder_target.dims()[1]);
            let part = global.take_rows(2 * rank..2 * rank + 2)?;
            assert_eq!(mine.decoder_target.to_vec::<u32>()?, part.decoder_target.to_vec::<u32>()?);
            rows += mine.rows();
        }
        assert_eq!(rows, 4);
        let odd = FitConfig { batch_size: 3, shard: shard(0), ..FitConfig::default() };
        assert!(data.plan(&odd).is_err(), "a global batch the processes do not divide");
        Ok(())
    }
}
