//! MNIST's IDX and CSV files.

use crate::corpus::{outcome, signature, OUTCOME_PARTS};
use crate::input::split2;
use std::path::Path;
use tessera_train::data::{
    parse_mnist_csv, parse_mnist_idx, Augment, Dataset, LabelColumn, MnistOptions, TensorDataset,
};

/// What an accepted MNIST file gives: a batch of its first images augmented.
fn use_mnist(result: tessera_train::Result<TensorDataset>) -> String {
    let data = match result {
        Ok(d) => d,
        Err(e) => return signature(&e.to_string()),
    };
    let first: Vec<usize> = (0..data.len().min(4)).collect();
    let augment = Augment { max_shift: 2.0, max_degrees: 10.0, flip: true, seed: 0 };
    let augmented = data.batch(&first).and_then(|b| augment.apply(&b.inputs, 0));
    format!("ok; augment {}", outcome(&augmented))
}

pub(super) fn idx(data: &[u8]) -> String {
    let (images, labels) = split2(data);
    use_mnist(parse_mnist_idx(images, labels, Path::new("images"), Path::new("labels")))
}

pub(super) fn csv(data: &[u8]) -> String {
    [None, Some(LabelColumn::First), Some(LabelColumn::Last)]
        .map(|label_column| use_mnist(parse_mnist_csv(data, Path::new("mnist.csv"), &MnistOptions { label_column })))
        .join(OUTCOME_PARTS)
}
