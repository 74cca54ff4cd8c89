//! The BPE model: a vocabulary of byte-level tokens and ranked merges, and the merge loop.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::byte_map::{byte_map, bytes_to_token_string, token_string_to_bytes};
use crate::error::{Error, Result};
use crate::hash::FastMap;

/// Words up to this many bytes use the simple quadratic merge loop; longer ones use a heap.
const SHORT_WORD: usize = 48;

/// A byte-level BPE model: token strings, their ids, and merges by rank.
#[derive(Debug, Clone)]
pub struct BpeModel {
    tokens: Vec<String>,
    token_bytes: Vec<Vec<u8>>,
    vocab: FastMap<String, u32>,
    merges: Vec<(u32, u32)>,
    merge_rank: FastMap<(u32, u32), (u32, u32)>,
    byte_ids: [u32; 256],
    ignore_merges: bool,
}

/// Where a model's merges were read, so that an error names the place of the bad one.
#[derive(Debug, Clone, Copy)]
pub(crate) enum MergePlaces<'a> {
    /// Merge `rank` is entry `rank` of a list (a JSON array, or merges given in code).
    Ranks {
        /// The file (or other source) of the list.
        path: &'a str,
    },
    /// Merge `rank` is on line `lines[rank]` (1-based) of a text file.
    Lines {
        /// The file.
        path: &'a str,
        /// The line of each merge.
        lines: &'a [usize],
    },
}

impl MergePlaces<'_> {
    /// How an error message names merge `rank`.
    fn name(&self, rank: usize) -> String {
        match self {
            MergePlaces::Ranks { .. } => format!("merge {rank}"),
            MergePlaces::Lines { lines, .. } => format!("line {}", lines[rank]),
        }
    }

    /// The error for merge `rank`.
    pub fn error(&self, rank: usize, reason: String) -> Error {
        match *self {
            MergePlaces::Ranks { path } => Error::malformed(path, format!("merge {rank}: {reason}")),
            MergePlaces::Lines { path, lines } => Error::BadLine { path: path.to_string(), line: lines[rank], reason },
        }
    }
}

impl BpeModel {
    /// Builds a model from tokens in id order and merges (pairs of ids) in rank order.
    ///
    /// `source` names where the data came from, for error messages. A token given twice, a
    /// missing byte-level token, a merge with an id outside the vocabulary, a merge whose result
    /// is not in the vocabulary and a pair merged twice are errors.
    pub fn new(tokens: Vec<String>, merges: Vec<(u32, u32)>, source: &str) -> Result<Self> {
        Self::with_merge_places(tokens, merges, source, MergePlaces::Ranks { path: source })
    }

    /// [`BpeModel::new`], with errors about a merge naming its place in `places`.
    pub(crate) fn with_merge_places(
        tokens: Vec<String>,
        merges: Vec<(u32, u32)>,
        source: &str,
        places: MergePlaces<'_>,
    ) -> Result<Self> {
        let mut vocab = FastMap::default();
        for (id, token) in tokens.iter().enumerate() {
            if vocab.insert(token.clone(), id as u32).is_some() {
                return Err(Error::malformed(source, format!("token `{token}` appears twice in the vocabulary")));
            }
        }
        let map = byte_map();
        let mut byte_ids = [0u32; 256];
        for b in 0..256 {
            let s = map.to_char[b].to_string();
            byte_ids[b] = *vocab.get(&s).ok_or_else(|| {
                Error::malformed(
                    source,
                    format!("the vocabulary lacks the byte-level token for byte 0x{b:02x} (`{s}`)"),
                )
            })?;
        }
        let mut merge_rank: FastMap<(u32, u32), (u32, u32)> = FastMap::default();
        for (rank, &(a, b)) in merges.iter().enumerate() {
            let (Some(ta), Some(tb)) = (tokens.get(a as usize), tokens.get(b as usize)) else {
                let reason = format!("ids {a} and {b} do not both lie in the vocabulary (size {})", tokens.len());
                return Err(places.error(rank, reason));
            };
            let joined = format!("{ta}{tb}");
            let Some(&new_id) = vocab.get(&joined) else {
                let reason = format!("merge `{ta} {tb}` makes `{joined}`, which is not in the vocabulary");
                return Err(places.error(rank, reason));
            };
            if let Some(&(first, _)) = merge_rank.get(&(a, b)) {
                let reason = format!("merge `{ta} {tb}` repeats {}", places.name(first as usize));
                return Err(places.error(rank, reason));
            }
            merge_rank.insert((a, b), (rank as u32, new_id));
        }
        let token_bytes = tokens
            .iter()
            .map(|t| {
                let mut out = Vec::with_capacity(t.len());
                token_string_to_bytes(t, &mut out);
                out
            })
            .collect();
        Ok(Self { tokens, token_bytes, vocab, merges, merge_rank, byte_ids, ignore_merges: false })
    }

    /// Hugging Face's `ignore_merges`: a word that is itself in the vocabulary becomes that one
    /// token without running the merges.
    pub fn set_ignore_merges(&mut self, ignore: bool) {
        self.ignore_merges = ignore;
    }

    /// Whether `ignore_merges` is on.
    pub fn ignore_merges(&self) -> bool {
        self.ignore_merges
    }

    /// Number of tokens in the vocabulary.
    pub fn vocab_size(&self) -> usize {
        self.tokens.len()
    }

    /// The byte-level string of token `id`.
    pub fn id_to_token(&self, id: u32) -> Option<&str> {
        self.tokens.get(id as usize).map(String::as_str)
    }

    /// The id of a byte-level token string.
    pub fn token_to_id(&self, token: &str) -> Option<u32> {
        self.vocab.get(token).copied()
    }

    /// The bytes token `id` stands for.
    pub fn token_bytes(&self, id: u32) -> Option<&[u8]> {
        self.token_bytes.get(id as usize).map(Vec::as_slice)
    }

    /// All tokens in id order.
    pub fn tokens(&self) -> &[String] {
        &self.tokens
    }

    /// The merges, as id pairs in rank order.
    pub fn merges(&self) -> &[(u32, u32)] {
        &self.merges
    }

    /// Appends the BPE ids of one pre-token's bytes to `out`.
    pub fn encode_word(&self, bytes: &[u8], out: &mut Vec<u32>) {
        if self.ignore_merges {
            if let Some(id) = self.vocab.get(&bytes_to_token_string(bytes)) {
                out.push(*id);
                return;
            }
        }
        let mut symbols: Vec<u32> = bytes.iter().map(|b| self.byte_ids[*b as usize]).collect();
        if symbols.len() <= SHORT_WORD {
            self.merge_short(&mut symbols);
        } else {
            symbols = self.merge_long(&symbols);
        }
        out.extend_from_slice(&symbols);
    }

    fn merge_short(&self, symbols: &mut Vec<u32>) {
        while symbols.len() > 1 {
            let mut best: Option<(u32, usize, u32)> = None;
            for i in 0..symbols.len() - 1 {
                if let Some(&(rank, new_id)) = self.merge_rank.get(&(symbols[i], symbols[i + 1])) {
                    if best.is_none_or(|(r, _, _)| rank < r) {
                        best = Some((rank, i, new_id));
                    }
                }
            }
            let Some((_, i, new_id)) = best else { break };
            symbols[i] = new_id;
            symbols.remove(i + 1);
        }
    }

    /// Heap-driven merging for long words: O(n log n) instead of O(n^2).
    fn merge_long(&self, initial: &[u32]) -> Vec<u32> {
        let n = initial.len();
        let mut ids = initial.to_vec();
        let mut prev: Vec<usize> = (0..n).map(|i| i.wrapping_sub(1)).collect();
        let mut next: Vec<usize> = (1..=n).collect();
        let mut alive = vec![true; n];
        let mut heap = BinaryHeap::new();
        for i in 0..n.saturating_sub(1) {
            if let Some(&(rank, new_id)) = self.merge_rank.get(&(ids[i], ids[i + 1])) {
                heap.push(Reverse((rank, i, ids[i], ids[i + 1], new_id)));
            }
        }
        while let Some(Reverse((rank, i, left, right, new_id))) = heap.pop() {
            let j = next[i];
            if !alive[i] || j >= n || !alive[j] || ids[i] != left || ids[j] != right {
                continue;
            }
            ids[i] = new_id;
            alive[j] = false;
            next[i] = next[j];
            if next[i] < n {
                prev[next[i]] = i;
            }
            let _ = rank;
            let p = prev[i];
            if p < n {
                if let Some(&(r, nid)) = self.merge_rank.get(&(ids[p], ids[i])) {
                    heap.push(Reverse((r, p, ids[p], ids[i], nid)));
                }
            }
            let k = next[i];
            if k < n {
                if let Some(&(r, nid)) = self.merge_rank.get(&(ids[i], ids[k])) {
                    heap.push(Reverse((r, i, ids[i], ids[k], nid)));
                }
            }
        }
        (0..n).filter(|i| alive[*i]).map(|i| ids[i]).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> BpeModel {
        let mut tokens: Vec<String> = (0..=255u8).map(|b| bytes_to_token_string(&[b])).collect();
        tokens.push("aa".into()); // 256
        tokens.push("aaaa".into()); // 257
        let a = b'a' as u32;
        BpeModel::new(tokens, vec![(a, a), (256, 256)], "tiny").unwrap()
    }

    #[test]
    fn short_and_long_merge_loops_agree() {
        let m = tiny();
        for len in [1usize, 2, 3, 5, 47, 49, 100, 101] {
            let word = vec![b'a'; len];
            let mut short = word.iter().map(|b| *b as u32).collect::<Vec<_>>();
            m.merge_short(&mut short);
            let long = m.merge_long(&word.iter().map(|b| *b as u32).collect::<Vec<_>>());
            assert_eq!(short, long, "len {len}");
        }
    }

    #[test]
    fn merge_pointing_outside_vocab_is_an_error() {
        let tokens: Vec<String> = (0..=255u8).map(|b| bytes_to_token_string(&[b])).collect();
        let err = BpeModel::new(tokens, vec![(97, 97)], "x.json").unwrap_err();
        assert!(err.to_string().contains("x.json"), "{err}");
    }
}
