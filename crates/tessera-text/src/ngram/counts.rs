//! The n-gram counts that both smoothing methods read.

use crate::hash::FastMap;

/// Counts of bigrams and trigrams plus the continuation counts Kneser-Ney needs.
#[derive(Debug, Clone, Default)]
pub(crate) struct Counts {
    /// c(v, w).
    pub bigram: FastMap<(u32, u32), u64>,
    /// c(v, .).
    pub bigram_context: FastMap<u32, u64>,
    /// N1+(v, .): distinct followers of v.
    pub bigram_followers: FastMap<u32, u64>,
    /// c(u, v, w).
    pub trigram: FastMap<(u32, u32, u32), u64>,
    /// c(u, v, .).
    pub trigram_context: FastMap<(u32, u32), u64>,
    /// N1+(u, v, .).
    pub trigram_followers: FastMap<(u32, u32), u64>,
    /// N1+(., w): distinct left neighbours of w.
    pub unigram_continuation: FastMap<u32, u64>,
    /// N1+(., .): distinct bigram types.
    pub bigram_types: u64,
    /// N1+(., v, w): distinct left neighbours of the bigram (v, w).
    pub bigram_continuation: FastMap<(u32, u32), u64>,
    /// N1+(., v, .): sum over w of N1+(., v, w).
    pub bigram_continuation_context: FastMap<u32, u64>,
    /// Distinct w with N1+(., v, w) > 0.
    pub bigram_continuation_types: FastMap<u32, u64>,
}

impl Counts {
    /// Counts from padded id sequences (each already wrapped in start/end markers; id 0 is `<s>`).
    pub fn from_sequences(seqs: &[Vec<u32>], order: usize) -> Self {
        let mut c = Counts::default();
        for seq in seqs {
            // Skip the (<s>, <s>) padding pair: <s> is never predicted.
            for w in seq.windows(2).filter(|w| w[1] != 0) {
                *c.bigram.entry((w[0], w[1])).or_insert(0) += 1;
            }
            if order >= 3 {
                for w in seq.windows(3) {
                    *c.trigram.entry((w[0], w[1], w[2])).or_insert(0) += 1;
                }
            }
        }
        for (&(v, w), &n) in &c.bigram {
            *c.bigram_context.entry(v).or_insert(0) += n;
            *c.bigram_followers.entry(v).or_insert(0) += 1;
            *c.unigram_continuation.entry(w).or_insert(0) += 1;
        }
        c.bigram_types = c.bigram.len() as u64;
        for (&(u, v, w), &n) in &c.trigram {
            *c.trigram_context.entry((u, v)).or_insert(0) += n;
            *c.trigram_followers.entry((u, v)).or_insert(0) += 1;
            *c.bigram_continuation.entry((v, w)).or_insert(0) += 1;
        }
        for (&(v, _), &n) in &c.bigram_continuation {
            *c.bigram_continuation_context.entry(v).or_insert(0) += n;
            *c.bigram_continuation_types.entry(v).or_insert(0) += 1;
        }
        c
    }
}
