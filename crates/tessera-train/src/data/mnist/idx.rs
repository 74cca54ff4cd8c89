//! MNIST's IDX files: images `[n, rows, columns]` and labels `[n]` of unsigned bytes, raw or
//! gzipped.
//!
//! The header is checked before any data is read: the rank, zero dims, and the size the dims
//! describe (checked multiplication), so that a corrupt header is an error naming its dims, not
//! a huge allocation or a dataset of empty images. The data are then read up to that size only
//! (a gzipped file is never inflated past it).

use super::{dataset, gzip_error, read_file, Mnist, CLASSES, GZIP_MAGIC};
use crate::data::TensorDataset;
use crate::{Error, Result};
use flate2::read::GzDecoder;
use std::io::Read;
use std::path::{Path, PathBuf};

/// What an IDX file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Images, dims `[count, rows, columns]`.
    Images,
    /// Labels, dims `[count]`.
    Labels,
}

impl Kind {
    /// The rank of the file's dims.
    fn rank(self) -> usize {
        match self {
            Kind::Images => 3,
            Kind::Labels => 1,
        }
    }

    /// What the dims are, for messages.
    fn dims_meaning(self) -> &'static str {
        match self {
            Kind::Images => "3 dims (count, rows, columns)",
            Kind::Labels => "1 dim (count)",
        }
    }
}

/// An IDX file of unsigned bytes: its dims and data.
#[derive(Debug)]
struct Idx {
    dims: Vec<usize>,
    data: Vec<u8>,
}

/// Reads exactly `n` bytes from `r`: `Ok(None)` when it ends first.
fn read_exact_or_end(r: &mut impl Read, n: usize, path: &Path) -> Result<Option<Vec<u8>>> {
    let mut buf = Vec::with_capacity(n);
    r.take(n as u64).read_to_end(&mut buf).map_err(|e| gzip_error(path, e))?;
    Ok((buf.len() == n).then_some(buf))
}

/// The header: the magic, then one big-endian u32 per dim.
fn read_header(r: &mut impl Read, path: &Path) -> Result<Vec<usize>> {
    let truncated = |need: usize| Error::bad_data(path, format!("truncated header: shorter than {need} bytes"));
    let magic = read_exact_or_end(r, 4, path)?.ok_or_else(|| truncated(4))?;
    if magic[..3] != [0, 0, 0x08] {
        return Err(Error::bad_data(
            path,
            format!(
                "not an IDX file of unsigned bytes (magic 0x{})",
                magic.iter().map(|b| format!("{b:02x}")).collect::<String>()
            ),
        ));
    }
    let rank = magic[3] as usize;
    let dims = read_exact_or_end(r, 4 * rank, path)?.ok_or_else(|| truncated(4 + 4 * rank))?;
    Ok(dims.chunks_exact(4).map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]) as usize).collect())
}

/// Checks the dims of a `kind` file: its rank and no zero count or side.
fn check_dims(dims: &[usize], kind: Kind, path: &Path) -> Result<()> {
    let bad = |msg: String| Err(Error::bad_data(path, msg));
    if dims.len() != kind.rank() {
        let what = format!("{kind:?}").to_lowercase();
        return bad(format!("an IDX {what} file has {}, this one has dims {dims:?}", kind.dims_meaning()));
    }
    match (kind, dims) {
        (Kind::Images, [0, ..]) => bad(format!("no images: dims {dims:?}")),
        (Kind::Images, [_, rows, cols]) if *rows == 0 || *cols == 0 => {
            bad(format!("images of {rows}x{cols} pixels (dims {dims:?}): an image needs at least one pixel"))
        }
        (Kind::Labels, [0]) => bad(format!("no labels: dims {dims:?}")),
        _ => Ok(()),
    }
}

/// The number of data bytes `dims` describe, when it fits in a `u64`.
fn data_size(dims: &[usize], path: &Path) -> Result<u64> {
    dims.iter().try_fold(1u64, |size, &d| size.checked_mul(d as u64)).ok_or_else(|| {
        Error::bad_data(path, format!("dims {dims:?} describe more than 2^64 bytes: the header is corrupt"))
    })
}

/// Reads a `kind` IDX file from `r`: the header, checked, then exactly the data it describes.
fn read_idx_from(mut r: impl Read, kind: Kind, path: &Path) -> Result<Idx> {
    let dims = read_header(&mut r, path)?;
    check_dims(&dims, kind, path)?;
    let expected = data_size(&dims, path)?;
    // One byte more than expected tells trailing data from an exact fit, without reading it all.
    let mut data = Vec::new();
    r.take(expected.saturating_add(1)).read_to_end(&mut data).map_err(|e| gzip_error(path, e))?;
    let got = data.len() as u64;
    if got < expected {
        return Err(Error::bad_data(
            path,
            format!("{got} data bytes for dims {dims:?} ({expected} expected): the file is truncated or corrupt"),
        ));
    }
    if got > expected {
        return Err(Error::bad_data(
            path,
            format!("more than {expected} data bytes for dims {dims:?}: the file has trailing data or wrong dims"),
        ));
    }
    Ok(Idx { dims, data })
}

/// Reads a `kind` IDX file from its bytes, raw or gzipped.
fn read_idx(bytes: &[u8], kind: Kind, path: &Path) -> Result<Idx> {
    if bytes.starts_with(&GZIP_MAGIC) {
        read_idx_from(GzDecoder::new(bytes), kind, path)
    } else {
        read_idx_from(bytes, kind, path)
    }
}

/// Parses an images file and a labels file in IDX format, each raw or gzipped, from their bytes;
/// `images_path` and `labels_path` name them in errors.
///
/// Errors ([`Error::BadData`], naming the file): a bad magic, images of rank other than 3 or
/// labels of rank other than 1, no images or labels, images of 0 rows or columns, images that
/// are not square (as the CSV reader, so that the convnet sees every source's rows as the same
/// `side × side` images), dims that
/// describe more bytes than the file holds (or fewer), as many labels as images, and labels
/// above 9.
pub fn parse_mnist_idx(images: &[u8], labels: &[u8], images_path: &Path, labels_path: &Path) -> Result<TensorDataset> {
    let images = read_idx(images, Kind::Images, images_path)?;
    let labels = read_idx(labels, Kind::Labels, labels_path)?;
    let (n, m) = (images.dims[0], labels.dims[0]);
    if images.dims[1] != images.dims[2] {
        let (rows, cols) = (images.dims[1], images.dims[2]);
        return Err(Error::bad_data(
            images_path,
            format!(
                "images of {rows}x{cols} pixels (dims {:?}): Tessera's image readers take square images",
                images.dims
            ),
        ));
    }
    if n != m {
        return Err(Error::bad_data(
            images_path,
            format!("{n} images (dims {:?}) but {m} labels in {}", images.dims, labels_path.display()),
        ));
    }
    if let Some(i) = labels.data.iter().position(|&l| l >= CLASSES) {
        let e = Error::LabelOutOfRange { label: labels.data[i] as i64, index: i, classes: CLASSES as usize };
        return Err(Error::bad_data(labels_path, e.to_string()));
    }
    dataset(&images.data, labels.data)
}

/// Reads an images file and a labels file in IDX format (raw or gzipped); see
/// [`parse_mnist_idx`] for what is checked.
pub fn load_mnist_idx(images: &Path, labels: &Path) -> Result<TensorDataset> {
    parse_mnist_idx(&read_file(images)?, &read_file(labels)?, images, labels)
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
/// `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each raw or `.gz`) from `dir`. The test
/// images must have as many pixels as the training images.
pub fn load_mnist_dir(dir: &Path) -> Result<Mnist> {
    let train = load_mnist_idx(&find(dir, "train-images-idx3-ubyte")?, &find(dir, "train-labels-idx1-ubyte")?)?;
    let test_images = find(dir, "t10k-images-idx3-ubyte")?;
    let test = load_mnist_idx(&test_images, &find(dir, "t10k-labels-idx1-ubyte")?)?;
    let (train_px, test_px) = (train.inputs().dims()[1], test.inputs().dims()[1]);
    if train_px != test_px {
        return Err(Error::bad_data(
            test_images,
            format!("images of {test_px} pixels, but the training images have {train_px}"),
        ));
    }
    Ok(Mnist { train, test })
}

#[cfg(test)]
mod tests {
    use super::super::tests::temp_dir;
    use super::*;
    use crate::data::Dataset;

    /// An IDX file: the magic for `dims.len()` dims, the dims, then `data`.
    fn idx(dims: &[u32], data: &[u8]) -> Vec<u8> {
        let mut bytes = vec![0, 0, 8, dims.len() as u8];
        bytes.extend(dims.iter().flat_map(|d| d.to_be_bytes()));
        bytes.extend(data);
        bytes
    }

    fn parse(images: &[u8], labels: &[u8]) -> Result<TensorDataset> {
        parse_mnist_idx(images, labels, Path::new("img"), Path::new("lab"))
    }

    fn err(images: &[u8], labels: &[u8]) -> String {
        parse(images, labels).unwrap_err().to_string()
    }

    #[test]
    fn truncated_idx_is_an_error_naming_the_file() {
        let dir = temp_dir("idx");
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
    fn overflowing_dims_are_an_error_before_any_allocation() {
        let labels = idx(&[4], &[1, 2, 3, 4]);
        let e = err(&idx(&[4, 1 << 31, 1 << 31], &[0; 12]), &labels);
        assert_eq!(e, "img: dims [4, 2147483648, 2147483648] describe more than 2^64 bytes: the header is corrupt");
        let e = err(&idx(&[u32::MAX, u32::MAX, 2], &[0; 12]), &labels);
        assert!(e.contains("dims [4294967295, 4294967295, 2] describe more than 2^64 bytes"), "{e}");
        let e = err(&idx(&[u32::MAX, u32::MAX, 1], &[0; 12]), &labels);
        let expected = "12 data bytes for dims [4294967295, 4294967295, 1] (18446744065119617025 expected)";
        assert_eq!(e, format!("img: {expected}: the file is truncated or corrupt"));
    }

    #[test]
    fn rectangular_images_are_an_error_naming_their_size() {
        let e = err(&idx(&[1, 2, 3], &[0; 6]), &idx(&[1], &[4]));
        assert_eq!(e, "img: images of 2x3 pixels (dims [1, 2, 3]): Tessera's image readers take square images");
    }

    #[test]
    fn empty_sets_and_empty_images_are_errors() {
        let labels = idx(&[2], &[1, 2]);
        assert_eq!(err(&idx(&[0, 28, 28], &[]), &labels), "img: no images: dims [0, 28, 28]");
        let e = err(&idx(&[2, 28, 0], &[]), &labels);
        assert_eq!(e, "img: images of 28x0 pixels (dims [2, 28, 0]): an image needs at least one pixel");
        let e = err(&idx(&[2, 0, 28], &[]), &labels);
        assert_eq!(e, "img: images of 0x28 pixels (dims [2, 0, 28]): an image needs at least one pixel");
        assert_eq!(err(&idx(&[2, 1, 1], &[0, 0]), &idx(&[0], &[])), "lab: no labels: dims [0]");
    }

    #[test]
    fn ranks_counts_and_trailing_data_are_checked() {
        let (images, labels) = (idx(&[2, 2, 2], &[0; 8]), idx(&[2], &[1, 2]));
        let e = err(&idx(&[2, 4], &[0; 8]), &labels);
        assert_eq!(e, "img: an IDX images file has 3 dims (count, rows, columns), this one has dims [2, 4]");
        let e = err(&images, &idx(&[2, 1], &[1, 2]));
        assert_eq!(e, "lab: an IDX labels file has 1 dim (count), this one has dims [2, 1]");
        let e = err(&images, &idx(&[3], &[1, 2, 3]));
        assert_eq!(e, "img: 2 images (dims [2, 2, 2]) but 3 labels in lab");
        let e = err(&idx(&[2, 2, 2], &[0; 9]), &labels);
        assert_eq!(e, "img: more than 8 data bytes for dims [2, 2, 2]: the file has trailing data or wrong dims");
        assert_eq!(err(&[0, 0, 8], &labels), "img: truncated header: shorter than 4 bytes");
        assert_eq!(err(&[0, 0, 8, 3, 0, 0], &labels), "img: truncated header: shorter than 16 bytes");
        assert_eq!(err(&[0, 0, 9, 1, 0], &labels), "img: not an IDX file of unsigned bytes (magic 0x00000901)");
        let d = parse(&images, &labels).unwrap();
        assert_eq!((d.len(), d.inputs().dims()), (2, &[2, 4][..]));
    }

    #[test]
    fn gzipped_files_are_read_up_to_their_dims() {
        use flate2::{write::GzEncoder, Compression};
        use std::io::Write;
        let gz = |bytes: &[u8]| {
            let mut e = GzEncoder::new(Vec::new(), Compression::fast());
            e.write_all(bytes).unwrap();
            e.finish().unwrap()
        };
        let labels = gz(&idx(&[2], &[7, 9]));
        let d = parse(&gz(&idx(&[2, 2, 2], &[0, 255, 0, 0, 0, 51, 0, 0])), &labels).unwrap();
        assert_eq!(d.inputs().to_vec::<f32>().unwrap(), [0.0, 1.0, 0.0, 0.0, 0.0, 0.2, 0.0, 0.0]);
        assert_eq!(d.targets().to_vec::<u32>().unwrap(), [7, 9]);
        let e = err(&gz(&idx(&[2, 2, 2], &vec![0; 1 << 20])), &labels);
        assert_eq!(e, "img: more than 8 data bytes for dims [2, 2, 2]: the file has trailing data or wrong dims");
        let mut cut = gz(&idx(&[2, 2, 2], &[0; 8]));
        cut.truncate(cut.len() - 12);
        assert!(err(&cut, &labels).starts_with("img: corrupt or truncated gzip stream"));
    }

    #[test]
    fn test_images_must_match_the_training_images() {
        let dir = temp_dir("dir");
        std::fs::write(dir.join("train-images-idx3-ubyte"), idx(&[1, 2, 2], &[0; 4])).unwrap();
        std::fs::write(dir.join("train-labels-idx1-ubyte"), idx(&[1], &[3])).unwrap();
        std::fs::write(dir.join("t10k-images-idx3-ubyte"), idx(&[1, 3, 3], &[0; 9])).unwrap();
        std::fs::write(dir.join("t10k-labels-idx1-ubyte"), idx(&[1], &[3])).unwrap();
        let e = load_mnist_dir(&dir).unwrap_err().to_string();
        assert!(e.ends_with("t10k-images-idx3-ubyte: images of 9 pixels, but the training images have 4"), "{e}");
        std::fs::write(dir.join("t10k-images-idx3-ubyte"), idx(&[1, 2, 2], &[0; 4])).unwrap();
        let m = load_mnist_dir(&dir).unwrap();
        assert_eq!((m.train.len(), m.test.len()), (1, 1));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
