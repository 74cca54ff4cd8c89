//! Datasets and loaders: the [`Dataset`] trait, an in-memory [`TensorDataset`], the
//! [`DataLoader`] (batching, seeded shuffling, drop_last, a background thread), MNIST readers
//! (IDX raw or gzipped, CSV with the label first or last, the shipped 5k sample), image augmentation and splits.

mod augment;
mod loader;
mod mnist;
mod tensor_dataset;

pub use augment::Augment;
pub use loader::{DataLoader, EpochBatches};
pub use mnist::{
    load_mnist_csv, load_mnist_csv_with, load_mnist_dir, load_mnist_idx, load_mnist_source, load_mnist_source_with,
    mnist_sample, parse_mnist_csv, parse_mnist_idx, LabelColumn, Mnist, MnistOptions,
};
pub use tensor_dataset::TensorDataset;

use crate::Result;
use tessera_tensor::Tensor;

/// A batch of examples: inputs and targets, first dim the batch.
#[derive(Debug, Clone)]
pub struct Batch {
    /// Model inputs, `[batch, ...]`.
    pub inputs: Tensor,
    /// Targets (class indices or values), `[batch, ...]`.
    pub targets: Tensor,
}

impl Batch {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.inputs.dims().first().copied().unwrap_or(0)
    }

    /// Whether the batch holds no example.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A collection of examples that can be gathered into batches.
///
/// Gathering a whole batch at once (rather than one example at a time) lets an in-memory
/// dataset answer with one `index_select` per tensor.
pub trait Dataset: Send + Sync {
    /// Number of examples.
    fn len(&self) -> usize;

    /// Whether there is no example.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The examples at `indices`, in that order, as one batch.
    fn batch(&self, indices: &[usize]) -> Result<Batch>;
}
