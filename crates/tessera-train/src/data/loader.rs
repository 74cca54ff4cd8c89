//! Batching, shuffling and prefetching.

use super::{Augment, Batch, Dataset};
use crate::rng::SplitMix;
use crate::{Error, Result};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Cuts a dataset into batches, shuffled with a seed (a new order each epoch, the same orders on
/// every run), optionally augmented, prepared on a background thread while the model trains.
///
/// ```
/// use std::sync::Arc;
/// use tessera_tensor::{DType, Device, Tensor};
/// use tessera_train::data::{DataLoader, TensorDataset};
/// let x = Tensor::arange(0.0, 10.0, 1.0, DType::F32, &Device::Cpu)?.reshape([10, 1])?;
/// let y = Tensor::arange(0.0, 10.0, 1.0, DType::U32, &Device::Cpu)?;
/// let loader = DataLoader::new(Arc::new(TensorDataset::new(x, y)?), 4)?.shuffle(7).drop_last(true);
/// let batches: Vec<_> = loader.epoch(0).collect::<Result<_, _>>()?;
/// assert_eq!(batches.len(), 2);
/// assert_eq!(batches[0].len(), 4);
/// # Ok::<(), tessera_train::Error>(())
/// ```
#[derive(Clone)]
pub struct DataLoader {
    dataset: Arc<dyn Dataset>,
    batch_size: usize,
    shuffle_seed: Option<u64>,
    drop_last: bool,
    augment: Option<Augment>,
    prefetch: usize,
}

impl DataLoader {
    /// Batches of `batch_size` in order, the last one possibly shorter.
    pub fn new(dataset: Arc<dyn Dataset>, batch_size: usize) -> Result<Self> {
        if batch_size == 0 {
            return Err(Error::Config("batch size must be positive".into()));
        }
        Ok(DataLoader { dataset, batch_size, shuffle_seed: None, drop_last: false, augment: None, prefetch: 2 })
    }

    /// Shuffles every epoch, with an order that depends only on `seed` and the epoch.
    pub fn shuffle(mut self, seed: u64) -> Self {
        self.shuffle_seed = Some(seed);
        self
    }

    /// Drops the last batch when it is shorter than the batch size.
    pub fn drop_last(mut self, drop: bool) -> Self {
        self.drop_last = drop;
        self
    }

    /// Augments the inputs of every batch.
    pub fn augment(mut self, augment: Augment) -> Self {
        self.augment = Some(augment);
        self
    }

    /// How many batches the background thread prepares ahead (0: prepare on the caller's thread).
    pub fn prefetch(mut self, batches: usize) -> Self {
        self.prefetch = batches;
        self
    }

    /// The batch size.
    pub fn batch_size(&self) -> usize {
        self.batch_size
    }

    /// The dataset.
    pub fn dataset(&self) -> &Arc<dyn Dataset> {
        &self.dataset
    }

    /// Number of batches per epoch.
    pub fn batches_per_epoch(&self) -> usize {
        let n = self.dataset.len();
        if self.drop_last {
            n / self.batch_size
        } else {
            n.div_ceil(self.batch_size)
        }
    }

    /// The example order of `epoch`.
    fn order(&self, epoch: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..self.dataset.len()).collect();
        if let Some(seed) = self.shuffle_seed {
            SplitMix::new(seed, epoch as u64).shuffle(&mut order);
        }
        order
    }

    /// The batches of `epoch` (0-based), in order.
    pub fn epoch(&self, epoch: usize) -> EpochBatches {
        let order = self.order(epoch);
        let count = self.batches_per_epoch();
        let (dataset, bs, augment) = (self.dataset.clone(), self.batch_size, self.augment.clone());
        let make = move |b: usize| -> Result<Batch> {
            let end = ((b + 1) * bs).min(order.len());
            let mut batch = dataset.batch(&order[b * bs..end])?;
            if let Some(a) = &augment {
                batch.inputs = a.apply(&batch.inputs, epoch as u64 * 1_000_003 + b as u64)?;
            }
            Ok(batch)
        };
        if self.prefetch == 0 {
            return EpochBatches { inner: Inner::Inline { make: Box::new(make), next: 0, count } };
        }
        let (tx, rx) = sync_channel(self.prefetch);
        let handle = std::thread::spawn(move || {
            for b in 0..count {
                let item = make(b);
                let failed = item.is_err();
                if tx.send(item).is_err() || failed {
                    break;
                }
            }
        });
        EpochBatches { inner: Inner::Background { rx, handle: Some(handle) } }
    }
}

type MakeBatch = Box<dyn Fn(usize) -> Result<Batch> + Send>;

enum Inner {
    Inline { make: MakeBatch, next: usize, count: usize },
    Background { rx: Receiver<Result<Batch>>, handle: Option<JoinHandle<()>> },
}

/// The batches of one epoch (an iterator of `Result<Batch>`).
pub struct EpochBatches {
    inner: Inner,
}

impl Iterator for EpochBatches {
    type Item = Result<Batch>;

    fn next(&mut self) -> Option<Result<Batch>> {
        match &mut self.inner {
            Inner::Inline { make, next, count } => {
                if *next >= *count {
                    return None;
                }
                *next += 1;
                Some(make(*next - 1))
            }
            Inner::Background { rx, handle } => match rx.recv() {
                Ok(item) => Some(item),
                Err(_) => {
                    if let Some(h) = handle.take() {
                        if h.join().is_err() {
                            return Some(Err(Error::Config("the data loader thread panicked".into())));
                        }
                    }
                    None
                }
            },
        }
    }
}
