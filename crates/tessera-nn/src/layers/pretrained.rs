//! `Embedding::from_pretrained`: an embedding table filled from word vectors (word2vec, GloVe)
//! for a vocabulary, frozen or trainable.

use super::Embedding;
use crate::{Error, Result};
use tessera_autograd::Var;
use tessera_tensor::{DType, Device, Generator, Tensor};

/// Vectors looked up by word: what [`Embedding::from_pretrained`] reads. `tessera-embed`'s
/// `Embeddings` implements it (feature `nn`).
pub trait WordVectors {
    /// Values per vector.
    fn dim(&self) -> usize;
    /// The vector of `word` (`dim` values), if there is one.
    fn vector(&self, word: &str) -> Option<&[f32]>;
}

/// How a vocabulary met the vectors in [`Embedding::from_pretrained`].
#[derive(Debug, Clone, PartialEq)]
pub struct Alignment {
    /// Vocabulary entries whose vector came from the file.
    pub found: usize,
    /// Entries with no vector, which got a random one.
    pub missing: usize,
    /// The first few missing entries, for a report.
    pub missing_examples: Vec<String>,
    /// The standard deviation of the random vectors: that of the values found (1 when none).
    pub init_std: f64,
}

impl Embedding {
    /// A table for `vocab` (row `i` for `vocab[i]`) holding each word's vector from `vectors`
    /// (looked up as written, then lowercased). Words without a vector get a random one from
    /// N(0, σ²), drawn from `g`, with σ the standard deviation of the values found, so that
    /// they start on the same scale; the count is in the returned [`Alignment`]. With `freeze`
    /// the weight is a constant: it gets no gradient, so no optimizer changes it (it still
    /// appears among the parameters, and state dicts save and load it).
    ///
    /// ```
    /// use tessera_nn::{Embedding, WordVectors};
    /// use tessera_tensor::{Device, Generator};
    /// struct Two;
    /// impl WordVectors for Two {
    ///     fn dim(&self) -> usize { 2 }
    ///     fn vector(&self, w: &str) -> Option<&[f32]> {
    ///         match w { "king" => Some(&[1.0, 2.0]), "queen" => Some(&[3.0, 4.0]), _ => None }
    ///     }
    /// }
    /// let mut g = Generator::new(0);
    /// let (emb, report) = Embedding::from_pretrained(&mut g, &["<unk>", "queen", "King"], &Two, true, &Device::Cpu)?;
    /// assert_eq!((report.found, report.missing), (2, 1));
    /// let w = emb.weight().tensor().to_vec::<f32>()?;
    /// assert_eq!(&w[2..], [3.0, 4.0, 1.0, 2.0]);
    /// assert!(!emb.weight().requires_grad());
    /// # Ok::<(), tessera_nn::Error>(())
    /// ```
    pub fn from_pretrained<S: AsRef<str>>(
        g: &mut Generator,
        vocab: &[S],
        vectors: &dyn WordVectors,
        freeze: bool,
        device: &Device,
    ) -> Result<(Embedding, Alignment)> {
        let (num, dim) = (vocab.len(), vectors.dim());
        if num == 0 || dim == 0 {
            return Err(Error::Config(format!(
                "Embedding::from_pretrained: needs words and vectors, got {num} words of dimension {dim}"
            )));
        }
        let mut rows: Vec<Option<&[f32]>> = Vec::with_capacity(num);
        for w in vocab {
            let w = w.as_ref();
            let lowered = w.to_lowercase();
            let v = vectors.vector(w).or_else(|| if lowered != w { vectors.vector(&lowered) } else { None });
            if let Some(v) = v {
                if v.len() != dim {
                    return Err(Error::Config(format!(
                        "Embedding::from_pretrained: the vector of `{w}` has {} values, the vectors have {dim}",
                        v.len()
                    )));
                }
            }
            rows.push(v);
        }
        let found: Vec<&[f32]> = rows.iter().flatten().copied().collect();
        let count = (found.len() * dim) as f64;
        let mean = found.iter().flat_map(|v| v.iter()).map(|&x| x as f64).sum::<f64>() / count.max(1.0);
        let var = found.iter().flat_map(|v| v.iter()).map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / count.max(1.0);
        let std = if var > 0.0 && var.is_finite() { var.sqrt() } else { 1.0 };
        let mut data = Tensor::randn(g, [num, dim], DType::F32, &Device::Cpu)?.to_vec::<f32>()?;
        let mut missing_examples = Vec::new();
        for (i, row) in rows.iter().enumerate() {
            let out = &mut data[i * dim..(i + 1) * dim];
            match row {
                Some(v) => out.copy_from_slice(v),
                None => {
                    out.iter_mut().for_each(|x| *x = (*x as f64 * std) as f32);
                    if missing_examples.len() < 10 {
                        missing_examples.push(vocab[i].as_ref().to_string());
                    }
                }
            }
        }
        let weight = Tensor::from_vec(data, [num, dim], &Device::Cpu)?.to_device(device)?;
        let report = Alignment { found: found.len(), missing: num - found.len(), missing_examples, init_std: std };
        Ok((Embedding::from_var(Var::new(weight, !freeze)?, None), report))
    }
}
