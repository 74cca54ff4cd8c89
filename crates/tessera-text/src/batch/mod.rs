//! Batching token ids for training: padding with masks, bucketing by length, and contiguous
//! stream batches for language models. Everything is a flat `Vec<u32>` plus a shape.

mod stream;
#[cfg(feature = "tensor")]
mod tensor;

pub use stream::{StreamBatch, StreamBatches};

use crate::error::{Error, Result};

/// Sequences padded to one length, row-major `[batch, seq_len]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaddedBatch {
    /// Token ids, `batch * seq_len` of them.
    pub ids: Vec<u32>,
    /// 1 where `ids` holds a real token, 0 where it holds padding.
    pub attention_mask: Vec<u8>,
    /// Length of each sequence before padding (after truncation).
    pub lengths: Vec<usize>,
    /// `[batch, seq_len]`.
    pub shape: [usize; 2],
}

/// Pads (on the right) every sequence to the longest one, or truncates to `max_len`.
///
/// ```
/// let b = tessera_text::pad_batch(&[vec![5, 6, 7], vec![8]], 0, None);
/// assert_eq!(b.shape, [2, 3]);
/// assert_eq!(b.ids, [5, 6, 7, 8, 0, 0]);
/// assert_eq!(b.attention_mask, [1, 1, 1, 1, 0, 0]);
/// ```
pub fn pad_batch<S: AsRef<[u32]>>(seqs: &[S], pad_id: u32, max_len: Option<usize>) -> PaddedBatch {
    let longest = seqs.iter().map(|s| s.as_ref().len()).max().unwrap_or(0);
    let seq_len = max_len.map_or(longest, |m| m.min(longest));
    let mut ids = Vec::with_capacity(seqs.len() * seq_len);
    let mut attention_mask = Vec::with_capacity(seqs.len() * seq_len);
    let mut lengths = Vec::with_capacity(seqs.len());
    for s in seqs {
        let s = s.as_ref();
        let n = s.len().min(seq_len);
        ids.extend_from_slice(&s[..n]);
        ids.extend(std::iter::repeat_n(pad_id, seq_len - n));
        attention_mask.extend(std::iter::repeat_n(1u8, n));
        attention_mask.extend(std::iter::repeat_n(0u8, seq_len - n));
        lengths.push(n);
    }
    PaddedBatch { ids, attention_mask, lengths, shape: [seqs.len(), seq_len] }
}

/// Groups sequence indices into batches of similar length (sorted by length, then cut into
/// batches of `batch_size`), so that padding is small. The last batch may be shorter.
///
/// ```
/// let batches = tessera_text::bucket_by_length(&[5, 1, 4, 2], 2).unwrap();
/// assert_eq!(batches, [vec![1, 3], vec![2, 0]]);
/// ```
pub fn bucket_by_length(lengths: &[usize], batch_size: usize) -> Result<Vec<Vec<usize>>> {
    if batch_size == 0 {
        return Err(Error::InvalidArgument { name: "batch_size", reason: "must be at least 1".into() });
    }
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| lengths[i]);
    Ok(order.chunks(batch_size).map(<[usize]>::to_vec).collect())
}

/// Like [`bucket_by_length`], then the order of the batches is shuffled with `seed` (the same
/// seed gives the same order), so that training does not see lengths in rising order.
///
/// ```
/// let a = tessera_text::shuffled_buckets(&[3, 1, 2, 5, 4, 6], 2, 7).unwrap();
/// assert_eq!(a, tessera_text::shuffled_buckets(&[3, 1, 2, 5, 4, 6], 2, 7).unwrap());
/// assert_eq!(a.len(), 3);
/// ```
pub fn shuffled_buckets(lengths: &[usize], batch_size: usize, seed: u64) -> Result<Vec<Vec<usize>>> {
    let mut batches = bucket_by_length(lengths, batch_size)?;
    let mut rng = crate::ngram::SplitMix64::new(seed);
    for i in (1..batches.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        batches.swap(i, j);
    }
    Ok(batches)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_and_empty_batches() {
        let b = pad_batch(&[vec![1, 2, 3, 4]], 9, Some(2));
        assert_eq!((b.ids, b.lengths, b.shape), (vec![1, 2], vec![2], [1, 2]));
        let empty: [Vec<u32>; 0] = [];
        assert_eq!(pad_batch(&empty, 0, None).shape, [0, 0]);
        assert!(bucket_by_length(&[1], 0).is_err());
    }
}
