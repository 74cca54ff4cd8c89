//! MNIST readers: the IDX files (raw or gzipped), a CSV with one image per line (the label in the
//! first or the last column, an optional header row), and the 5k sample shipped with the crate.
//! Images become f32 `[n, pixels]` scaled to `[0, 1]`; labels u32 `[n]`.
//!
//! Every malformed file is an [`Error::BadData`] naming the file and what is wrong with it (the
//! dims, sizes, line and field at fault), never a panic, a huge allocation or a dataset of
//! empty images.

mod csv;
mod idx;

pub use csv::{load_mnist_csv, load_mnist_csv_with, parse_mnist_csv};
pub use idx::{load_mnist_dir, load_mnist_idx, parse_mnist_idx};

use super::TensorDataset;
use crate::{Error, Result};
use flate2::read::GzDecoder;
use std::borrow::Cow;
use std::io::Read;
use std::path::Path;
use tessera_tensor::{Device, Tensor};

/// The 5,000-image sample shipped in the crate (see `data/README.md` for its provenance).
const SAMPLE_CSV_GZ: &[u8] = include_bytes!("../../../data/mnist_5k.csv.gz");

/// The number of classes: labels are integers in `0..CLASSES`.
const CLASSES: u8 = 10;

/// The first bytes of a gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The fraction of a single file (the sample or a CSV) held out as the test set.
const TEST_FRACTION: f64 = 0.2;

/// MNIST's training and test sets.
#[derive(Debug, Clone)]
pub struct Mnist {
    /// The training set (60,000 images in the full data).
    pub train: TensorDataset,
    /// The test set (10,000 images in the full data).
    pub test: TensorDataset,
}

/// Which column of an MNIST CSV holds the label.
///
/// Tessera's own files (and the shipped sample) put it last, after the 784 pixels; Kaggle's
/// `train.csv` puts it first, under a `label,pixel0,...,pixel783` header. Parses from `first`
/// and `last` (as `--label-column` takes it), and serialises as those words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LabelColumn {
    /// The label, then the pixels.
    First,
    /// The pixels, then the label.
    Last,
}

impl LabelColumn {
    /// The other column.
    pub fn other(self) -> LabelColumn {
        match self {
            LabelColumn::First => LabelColumn::Last,
            LabelColumn::Last => LabelColumn::First,
        }
    }
}

impl std::fmt::Display for LabelColumn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LabelColumn::First => "first",
            LabelColumn::Last => "last",
        })
    }
}

impl std::str::FromStr for LabelColumn {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.to_ascii_lowercase().as_str() {
            "first" => Ok(LabelColumn::First),
            "last" => Ok(LabelColumn::Last),
            _ => Err(format!("label column `{s}`: expected `first` or `last`")),
        }
    }
}

/// How to read an MNIST source.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MnistOptions {
    /// The CSV column holding the label; `None` detects it (see [`parse_mnist_csv`]). IDX files
    /// keep their labels in a file of their own and ignore it.
    pub label_column: Option<LabelColumn>,
}

/// `bytes`, gunzipped when they start with the gzip magic.
fn gunzip_if_needed<'a>(bytes: &'a [u8], path: &Path) -> Result<Cow<'a, [u8]>> {
    if !bytes.starts_with(&GZIP_MAGIC) {
        return Ok(Cow::Borrowed(bytes));
    }
    let mut out = Vec::new();
    GzDecoder::new(bytes).read_to_end(&mut out).map_err(|e| gzip_error(path, e))?;
    Ok(Cow::Owned(out))
}

/// The error for a gzip stream that does not decompress.
fn gzip_error(path: &Path, e: std::io::Error) -> Error {
    Error::bad_data(path, format!("corrupt or truncated gzip stream: {e}"))
}

/// The bytes of the file at `path`.
fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::io(path, e))
}

/// A dataset of `labels.len()` images (at least one) of `pixels.len() / labels.len()` pixels.
fn dataset(pixels: &[u8], labels: Vec<u8>) -> Result<TensorDataset> {
    let n = labels.len();
    let images: Vec<f32> = pixels.iter().map(|&p| p as f32 / 255.0).collect();
    let images = Tensor::from_vec(images, [n, pixels.len() / n], &Device::Cpu)?;
    let labels = Tensor::from_vec(labels.into_iter().map(u32::from).collect::<Vec<_>>(), [n], &Device::Cpu)?;
    TensorDataset::new(images, labels)
}

/// The 5,000-image MNIST sample embedded in the crate: 500 images per class.
pub fn mnist_sample() -> Result<TensorDataset> {
    let options = MnistOptions { label_column: Some(LabelColumn::Last) };
    parse_mnist_csv(SAMPLE_CSV_GZ, Path::new("<embedded mnist_5k.csv.gz>"), &options)
}

/// Splits one file's examples into training and test sets (80/20, shuffled with `seed`); both
/// must hold at least one example.
fn split(data: TensorDataset, seed: u64, path: &Path) -> Result<Mnist> {
    let (train, test) = data.split(TEST_FRACTION, seed)?;
    if train.inputs().dims()[0] == 0 || test.inputs().dims()[0] == 0 {
        let n = data.inputs().dims()[0];
        return Err(Error::bad_data(
            path,
            format!("{n} examples are too few to hold out 20% as the test set: 3 or more are needed"),
        ));
    }
    Ok(Mnist { train, test })
}

/// Where `tessera train mlp` and friends take MNIST from, as the user gives it.
///
/// - `None`: the embedded 5k sample, 80% to train on and 20% held out as the test set
///   (shuffled with `seed`);
/// - a folder: the four standard IDX files (train and t10k), raw or gzipped;
/// - a file: a CSV (raw or gzipped), split 80/20 like the sample; its label column is detected
///   (see [`parse_mnist_csv`]).
pub fn load_mnist_source(path: Option<&Path>, seed: u64) -> Result<Mnist> {
    load_mnist_source_with(path, seed, &MnistOptions::default())
}

/// [`load_mnist_source`] with `options` (e.g. which CSV column holds the label).
pub fn load_mnist_source_with(path: Option<&Path>, seed: u64, options: &MnistOptions) -> Result<Mnist> {
    match path {
        None => split(mnist_sample()?, seed, Path::new("<embedded mnist_5k.csv.gz>")),
        Some(p) if p.is_dir() => load_mnist_dir(p),
        Some(p) if p.is_file() => split(load_mnist_csv_with(p, options)?, seed, p),
        Some(p) => Err(Error::io(p, std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or folder"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Dataset;

    /// A fresh folder under the system's temporary one, for one test.
    pub(super) fn temp_dir(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("tessera-mnist-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn sample_has_500_images_per_class() {
        let s = mnist_sample().unwrap();
        assert_eq!(s.len(), 5000);
        assert_eq!(s.inputs().dims(), &[5000, 784]);
        let labels = s.targets().to_vec::<u32>().unwrap();
        for c in 0..10 {
            assert_eq!(labels.iter().filter(|&&l| l == c).count(), 500);
        }
        let px = s.inputs().to_vec::<f32>().unwrap();
        assert!(px.iter().all(|&p| (0.0..=1.0).contains(&p)));
    }

    #[test]
    fn a_csv_too_small_to_split_is_an_error() {
        let dir = temp_dir("split");
        let path = dir.join("two.csv");
        std::fs::write(&path, "0,0,0,0,1\n0,0,0,9,2\n").unwrap();
        let e = load_mnist_source(Some(&path), 0).unwrap_err().to_string();
        assert!(e.ends_with("two.csv: 2 examples are too few to hold out 20% as the test set: 3 or more are needed"));
        std::fs::write(&path, "0,0,0,0,1\n0,0,0,9,2\n200,5,0,0,3\n").unwrap();
        let m = load_mnist_source(Some(&path), 0).unwrap();
        assert_eq!((m.train.len(), m.test.len()), (2, 1));
        let options = MnistOptions { label_column: Some(LabelColumn::First) };
        let e = load_mnist_source_with(Some(&path), 0, &options).unwrap_err().to_string();
        assert!(e.contains("the label column (the first, column 1) holds 200 on line 3"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn label_column_parses_and_prints() {
        assert_eq!("first".parse::<LabelColumn>(), Ok(LabelColumn::First));
        assert_eq!("Last".parse::<LabelColumn>(), Ok(LabelColumn::Last));
        assert_eq!("middle".parse::<LabelColumn>().unwrap_err(), "label column `middle`: expected `first` or `last`");
        assert_eq!(LabelColumn::First.to_string(), "first");
        assert_eq!(LabelColumn::Last.other(), LabelColumn::First);
        assert_eq!(serde_json::to_string(&LabelColumn::First).unwrap(), "\"first\"");
        assert_eq!(serde_json::from_str::<LabelColumn>("\"last\"").unwrap(), LabelColumn::Last);
    }
}
