//! The words of a BPE training corpus as linked symbols, with the count of every adjacent pair
//! and the places where it occurs, so that a merge costs time in proportion to the pair's
//! occurrences rather than to the length of the words holding them.

use crate::error::{Error, Result};
use crate::hash::{FastMap, FastSet};

/// Two adjacent token ids.
pub(super) type Pair = (u32, u32);

/// No neighbour; also the id of a slot merged into its left neighbour.
const NONE: u32 = u32::MAX;

/// Every distinct word's symbols, one slot each, in one array; each slot links to its
/// neighbours in its word.
#[derive(Debug, Default)]
pub(super) struct CorpusSymbols {
    /// Token id in each slot ([`NONE`] once merged into its left neighbour).
    id: Vec<u32>,
    prev: Vec<u32>,
    next: Vec<u32>,
    /// The word each slot belongs to.
    word: Vec<u32>,
    /// How often each word occurs in the corpus.
    word_freq: Vec<u64>,
    /// For each pair, the sum of the frequencies of the words at its occurrences.
    counts: FastMap<Pair, i64>,
    /// For each pair, the left slots where it occurs or once occurred (checked when used).
    occurrences: FastMap<Pair, Vec<u32>>,
}

impl CorpusSymbols {
    /// The symbols of `words` (bytes and frequency), byte `b` being token `byte_base + b`.
    pub fn new<'a>(words: impl IntoIterator<Item = (&'a [u8], u64)>, byte_base: u32) -> Result<Self> {
        let mut s = Self::default();
        for (bytes, freq) in words {
            if s.id.len() + bytes.len() >= NONE as usize {
                return Err(Error::InvalidArgument {
                    name: "texts",
                    reason: format!("the distinct words of the corpus hold {NONE} bytes or more"),
                });
            }
            let word = s.word_freq.len() as u32;
            s.word_freq.push(freq);
            let first = s.id.len() as u32;
            for (i, b) in bytes.iter().enumerate() {
                let slot = first + i as u32;
                s.id.push(byte_base + u32::from(*b));
                s.prev.push(if i == 0 { NONE } else { slot - 1 });
                s.next.push(if i + 1 == bytes.len() { NONE } else { slot + 1 });
                s.word.push(word);
                if i > 0 {
                    s.add((s.id[slot as usize - 1], s.id[slot as usize]), slot - 1, freq as i64);
                }
            }
        }
        Ok(s)
    }

    /// Every pair with its count.
    pub fn counts(&self) -> impl Iterator<Item = (Pair, i64)> + '_ {
        self.counts.iter().map(|(p, c)| (*p, *c))
    }

    /// The current count of `pair`.
    pub fn count(&self, pair: Pair) -> i64 {
        self.counts.get(&pair).copied().unwrap_or(0)
    }

    /// Adds `delta` to the count of `pair`, which starts at slot `left`; a new occurrence (a
    /// positive delta) is recorded.
    fn add(&mut self, pair: Pair, left: u32, delta: i64) {
        *self.counts.entry(pair).or_insert(0) += delta;
        if delta > 0 {
            self.occurrences.entry(pair).or_default().push(left);
        }
    }

    /// Replaces every occurrence of `pair` with `new_id`, left to right within each word (so
    /// `a a a` becomes `aa a`), and forgets the pair. Pairs formed with `new_id` go into
    /// `touched`.
    pub fn merge(&mut self, pair: Pair, new_id: u32, touched: &mut FastSet<Pair>) {
        let mut lefts = self.occurrences.remove(&pair).unwrap_or_default();
        lefts.sort_unstable();
        for left in lefts {
            let right = self.next[left as usize];
            if self.id[left as usize] != pair.0 || right == NONE || self.id[right as usize] != pair.1 {
                continue;
            }
            let freq = self.word_freq[self.word[left as usize] as usize] as i64;
            let (before, after) = (self.prev[left as usize], self.next[right as usize]);
            if before != NONE {
                self.add((self.id[before as usize], pair.0), before, -freq);
            }
            if after != NONE {
                self.add((pair.1, self.id[after as usize]), right, -freq);
                self.prev[after as usize] = left;
            }
            self.id[left as usize] = new_id;
            self.id[right as usize] = NONE;
            self.next[left as usize] = after;
            if before != NONE {
                let q = (self.id[before as usize], new_id);
                self.add(q, before, freq);
                touched.insert(q);
            }
            if after != NONE {
                let q = (new_id, self.id[after as usize]);
                self.add(q, left, freq);
                touched.insert(q);
            }
        }
        self.counts.remove(&pair);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The token ids of each word, in order.
    fn words(s: &CorpusSymbols) -> Vec<Vec<u32>> {
        let mut out = vec![Vec::new(); s.word_freq.len()];
        for slot in 0..s.id.len() {
            if s.prev[slot] == NONE && s.id[slot] != NONE {
                let mut at = slot as u32;
                while at != NONE {
                    out[s.word[slot] as usize].push(s.id[at as usize]);
                    at = s.next[at as usize];
                }
            }
        }
        out
    }

    #[test]
    fn merges_go_left_to_right_and_keep_counts_exact() {
        let mut s = CorpusSymbols::new([(&b"aaaa"[..], 2), (&b"aaa"[..], 1), (&b"abab"[..], 3)], 0).unwrap();
        let (a, b) = (u32::from(b'a'), u32::from(b'b'));
        assert_eq!(s.count((a, a)), 2 * 3 + 2);
        let mut touched = FastSet::default();
        s.merge((a, a), 300, &mut touched);
        assert_eq!(words(&s), [vec![300, 300], vec![300, a], vec![a, b, a, b]]);
        assert_eq!((s.count((a, a)), s.count((300, 300)), s.count((300, a))), (0, 2, 1));
        s.merge((a, b), 301, &mut touched);
        assert_eq!(words(&s)[2], [301, 301]);
        assert_eq!((s.count((b, a)), s.count((301, 301)), s.count((301, a))), (0, 3, 0));
        assert!(touched.contains(&(301, 301)) && touched.contains(&(300, 300)));
    }
}
