//! N-gram counting shared by BLEU and chrF.

use std::hash::Hash;

use crate::hash::FastMap;

/// Counts of every contiguous `n`-item window of `items` (empty when `n` is 0 or too long).
pub(crate) fn count<T: Hash + Eq>(items: &[T], n: usize) -> FastMap<&[T], usize> {
    let mut counts = FastMap::default();
    if n > 0 {
        for window in items.windows(n) {
            *counts.entry(window).or_insert(0) += 1;
        }
    }
    counts
}

/// Match statistics of hypothesis n-grams against reference n-grams: the hypothesis total and
/// the clipped matches, `min(hypothesis count, reference count)` summed over n-grams.
pub(crate) fn clipped_matches<T: Hash + Eq>(
    hyp: &FastMap<&[T], usize>,
    reference: &FastMap<&[T], usize>,
) -> (usize, usize) {
    let mut total = 0;
    let mut matched = 0;
    for (gram, &count) in hyp {
        total += count;
        if let Some(&ref_count) = reference.get(gram) {
            matched += count.min(ref_count);
        }
    }
    (total, matched)
}
