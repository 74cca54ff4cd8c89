//! MNIST readers: the IDX files (raw or gzipped), a CSV of pixels then label, and the 5k sample
//! shipped with the crate. Images become f32 `[n, 784]` scaled to `[0, 1]`; labels u32 `[n]`.

use super::TensorDataset;
use crate::{Error, Result};
use flate2::read::GzDecoder;
use std::io::Read;
use std::path::{Path, PathBuf};
use tessera_tensor::{Device, Tensor};

/// The 5,000-image sample shipped in the crate (see `data/README.md` for its provenance).
const SAMPLE_CSV_GZ: &[u8] = include_bytes!("../../data/mnist_5k.csv.gz");

/// MNIST's training and test sets.
#[derive(Debug, Clone)]
pub struct Mnist {
    /// The training set (60,000 images in the full data).
    pub train: TensorDataset,
    /// The test set (10,000 images in the full data).
    pub test: TensorDataset,
}

/// The bytes of `path`, gunzipped when they start with the gzip magic.
fn read_maybe_gz(path: &Path) -> Result<Vec<u8>> {
    let raw = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    gunzip_if_needed(raw, path)
}

fn gunzip_if_needed(raw: Vec<u8>, path: &Path) -> Result<Vec<u8>> {
    if raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        GzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| Error::bad_data(path, format!("corrupt or truncated gzip stream: {e}")))?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

fn be_u32(bytes: &[u8], at: usize, path: &Path) -> Result<usize> {
    let b = bytes
        .get(at..at + 4)
        .ok_or_else(|| Error::bad_data(path, format!("truncated header: {} bytes", bytes.len())))?;
    Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize)
}

/// Parses an IDX file of u8 values: returns the dims and the data.
fn parse_idx(bytes: &[u8], path: &Path) -> Result<(Vec<usize>, Vec<u8>)> {
    let magic = be_u32(bytes, 0, path)?;
    if magic >> 8 != 0x08 {
        return Err(Error::bad_data(path, format!("not an IDX file of unsigned bytes (magic 0x{magic:08x})")));
    }
    let rank = magic & 0xff;
    let dims = (0..rank).map(|d| be_u32(bytes, 4 + 4 * d, path)).collect::<Result<Vec<_>>>()?;
    let start = 4 + 4 * rank;
    let expected: usize = dims.iter().product();
    let body = &bytes[start.min(bytes.len())..];
    if body.len() != expected {
        return Err(Error::bad_data(
            path,
            format!(
                "{} data bytes for dims {dims:?} ({expected} expected): the file is truncated or corrupt",
                body.len()
            ),
        ));
    }
    Ok((dims, body.to_vec()))
}

fn check_labels(labels: &[u8]) -> Result<()> {
    match labels.iter().position(|&l| l > 9) {
        Some(i) => Err(Error::LabelOutOfRange { label: labels[i] as i64, index: i, classes: 10 }),
        None => Ok(()),
    }
}

fn dataset(pixels: Vec<u8>, labels: Vec<u8>) -> Result<TensorDataset> {
    let n = labels.len();
    let images: Vec<f32> = pixels.iter().map(|&p| p as f32 / 255.0).collect();
    let images = Tensor::from_vec(images, [n, pixels.len() / n.max(1)], &Device::Cpu)?;
    let labels = Tensor::from_vec(labels.into_iter().map(u32::from).collect::<Vec<_>>(), [n], &Device::Cpu)?;
    TensorDataset::new(images, labels)
}

/// Reads an images file and a labels file in IDX format (raw or gzipped).
pub fn load_mnist_idx(images: &Path, labels: &Path) -> Result<TensorDataset> {
    let (idims, pixels) = parse_idx(&read_maybe_gz(images)?, images)?;
    let (ldims, labs) = parse_idx(&read_maybe_gz(labels)?, labels)?;
    if idims.len() != 3 || ldims.len() != 1 || idims[0] != ldims[0] {
        return Err(Error::bad_data(
            images,
            format!("images of dims {idims:?} do not match labels of dims {ldims:?} in {}", labels.display()),
        ));
    }
    check_labels(&labs).map_err(|e| Error::bad_data(labels, e.to_string()))?;
    dataset(pixels, labs)
}

/// Finds `name` or `name.gz` in `dir`.
fn find(dir: &Path, name: &str) -> Result<PathBuf> {
    for candidate in [dir.join(name), dir.join(format!("{name}.gz"))] {
        if candidate.exists() {
            return Ok(candidate);
        }
    }
    Err(Error::io(dir.join(name), std::io::Error::new(std::io::ErrorKind::NotFound, "not found (nor with .gz)")))
}

/// Reads the four standard MNIST files (`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
/// `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each raw or `.gz`) from `dir`.
pub fn load_mnist_dir(dir: &Path) -> Result<Mnist> {
    let train = load_mnist_idx(&find(dir, "train-images-idx3-ubyte")?, &find(dir, "train-labels-idx1-ubyte")?)?;
    let test = load_mnist_idx(&find(dir, "t10k-images-idx3-ubyte")?, &find(dir, "t10k-labels-idx1-ubyte")?)?;
    Ok(Mnist { train, test })
}

/// Reads a CSV (raw or gzipped) with one image per line: 784 pixel values then the label.
pub fn load_mnist_csv(path: &Path) -> Result<TensorDataset> {
    parse_csv(&read_maybe_gz(path)?, path)
}

fn parse_csv(bytes: &[u8], path: &Path) -> Result<TensorDataset> {
    let text = std::str::from_utf8(bytes).map_err(|e| Error::bad_data(path, format!("not UTF-8 text: {e}")))?;
    let (mut pixels, mut labels) = (Vec::new(), Vec::new());
    for (line_no, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() != 785 {
            return Err(Error::bad_data(path, format!("line {}: {} fields, 785 expected", line_no + 1, fields.len())));
        }
        for (col, f) in fields.iter().enumerate() {
            let v: u8 = f.parse().map_err(|_| {
                Error::bad_data(
                    path,
                    format!("line {}, field {}: '{f}' is not an integer in 0..=255", line_no + 1, col + 1),
                )
            })?;
            if col == 784 {
                if v > 9 {
                    return Err(Error::bad_data(
                        path,
                        format!("line {}: label {v} is out of range 0..=9", line_no + 1),
                    ));
                }
                labels.push(v);
            } else {
                pixels.push(v);
            }
        }
    }
    if labels.is_empty() {
        return Err(Error::bad_data(path, "no examples"));
    }
    dataset(pixels, labels)
}

/// The 5,000-image MNIST sample embedded in the crate: 500 images per class.
pub fn mnist_sample() -> Result<TensorDataset> {
    let path = Path::new("<embedded mnist_5k.csv.gz>");
    parse_csv(&gunzip_if_needed(SAMPLE_CSV_GZ.to_vec(), path)?, path)
}

/// Where `tessera train mlp` and friends take MNIST from, as the user gives it.
///
/// - `None`: the embedded 5k sample, 80% to train on and 20% held out as the test set
///   (shuffled with `seed`);
/// - a folder: the four standard IDX files (train and t10k), raw or gzipped;
/// - a file: a CSV (raw or gzipped) of pixels then label, split 80/20 like the sample.
pub fn load_mnist_source(path: Option<&Path>, seed: u64) -> Result<Mnist> {
    let split = |d: TensorDataset| -> Result<Mnist> {
        let (train, test) = d.split(0.2, seed)?;
        Ok(Mnist { train, test })
    };
    match path {
        None => split(mnist_sample()?),
        Some(p) if p.is_dir() => load_mnist_dir(p),
        Some(p) if p.is_file() => split(load_mnist_csv(p)?),
        Some(p) => Err(Error::io(p, std::io::Error::new(std::io::ErrorKind::NotFound, "no such file or folder"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Dataset;

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
    fn truncated_idx_is_an_error_naming_the_file() {
        let dir = std::env::temp_dir().join(format!("tessera-idx-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let images = dir.join("img");
        let labels = dir.join("lab");
        let mut bytes = vec![0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28];
        bytes.extend(vec![0u8; 784 + 100]);
        std::fs::write(&images, &bytes).unwrap();
        std::fs::write(&labels, [0, 0, 8, 1, 0, 0, 0, 2, 3, 4]).unwrap();
        let e = load_mnist_idx(&images, &labels).unwrap_err().to_string();
        assert!(e.contains("img") && e.contains("884 data bytes") && e.contains("1568 expected"), "{e}");
        std::fs::write(&labels, [0, 0, 8, 1, 0, 0, 0, 2, 3, 12]).unwrap();
        bytes.extend(vec![0u8; 684]);
        std::fs::write(&images, &bytes).unwrap();
        let e = load_mnist_idx(&images, &labels).unwrap_err().to_string();
        assert!(e.contains("label 12 at example 1 is out of range for 10 classes"), "{e}");
        let e = load_mnist_dir(&dir).unwrap_err().to_string();
        assert!(e.contains("train-images-idx3-ubyte") && e.contains("not found"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn bad_csv_names_line_and_field() {
        let p = Path::new("x.csv");
        let mut line = vec!["0"; 784];
        line.push("3");
        let good = line.join(",");
        let e = parse_csv(format!("{good}\n{}", good.replacen("0", "abc", 1)).as_bytes(), p).unwrap_err();
        assert_eq!(e.to_string(), "x.csv: line 2, field 1: 'abc' is not an integer in 0..=255");
        let e = parse_csv(good.replace(",3", ",11").as_bytes(), p).unwrap_err();
        assert_eq!(e.to_string(), "x.csv: line 1: label 11 is out of range 0..=9");
        let e = parse_csv(b"1,2,3", p).unwrap_err();
        assert_eq!(e.to_string(), "x.csv: line 1: 3 fields, 785 expected");
    }
}
