//! Training a byte-level BPE vocabulary with incremental pair counts and a lazy priority queue.
//!
//! Each merge costs time in proportion to the occurrences of the merged pair (see
//! [`CorpusSymbols`]), so training is about linear in the corpus, even on one long word.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use super::byte_map::bytes_to_token_string;
use super::corpus_symbols::{CorpusSymbols, Pair};
use super::model::BpeModel;
use super::tokenizer::ByteLevelBpe;
use crate::error::{Error, Result};
use crate::hash::{FastMap, FastSet};
use crate::pretokenize::gpt2_split;

/// Settings for training a byte-level BPE tokenizer.
///
/// ```
/// use tessera_text::BpeTrainer;
/// let text = "low lower lowest newer newest wider ".repeat(20);
/// let bpe = BpeTrainer::new(300).train([text.as_str()]).unwrap();
/// assert!(bpe.vocab_size() <= 300);
/// assert_eq!(bpe.decode(&bpe.encode("lowest")).unwrap(), "lowest");
/// ```
#[derive(Debug, Clone)]
pub struct BpeTrainer {
    /// Target vocabulary size: special tokens + 256 bytes + merges.
    pub vocab_size: usize,
    /// A pair must occur at least this often to be merged.
    pub min_frequency: u64,
    /// Special tokens, given the first ids.
    pub special_tokens: Vec<String>,
}

/// Counts of pre-token words across the corpus.
#[derive(Debug, Default)]
struct WordCounts {
    counts: FastMap<String, u64>,
}

impl WordCounts {
    fn add_text(&mut self, text: &str) {
        for (s, e) in gpt2_split(text) {
            let w = &text[s..e];
            match self.counts.get_mut(w) {
                Some(c) => *c += 1,
                None => {
                    self.counts.insert(w.to_string(), 1);
                }
            }
        }
    }
}

impl BpeTrainer {
    /// A trainer for `vocab_size` tokens with `<|endoftext|>` as the only special token.
    pub fn new(vocab_size: usize) -> Self {
        Self { vocab_size, min_frequency: 2, special_tokens: vec!["<|endoftext|>".to_string()] }
    }

    /// Trains on the given texts.
    pub fn train<'a>(&self, texts: impl IntoIterator<Item = &'a str>) -> Result<ByteLevelBpe> {
        let base = self.special_tokens.len() + 256;
        if self.vocab_size < base {
            return Err(Error::InvalidArgument {
                name: "vocab_size",
                reason: format!(
                    "{} is smaller than 256 bytes + {} special tokens",
                    self.vocab_size,
                    self.special_tokens.len()
                ),
            });
        }
        let mut words = WordCounts::default();
        for t in texts {
            words.add_text(t);
        }
        let mut tokens: Vec<String> = self.special_tokens.clone();
        let byte_base = tokens.len() as u32;
        tokens.extend((0..=255u8).map(|b| bytes_to_token_string(&[b])));
        {
            let mut seen = FastSet::default();
            for t in &tokens {
                if !seen.insert(t.as_str()) {
                    return Err(Error::InvalidArgument {
                        name: "special_tokens",
                        reason: format!("`{t}` is given twice or clashes with a byte token"),
                    });
                }
            }
        }
        let mut token_ids: FastMap<String, u32> =
            tokens.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
        let mut entries: Vec<(String, u64)> = words.counts.into_iter().collect();
        entries.sort_unstable();
        let mut symbols = CorpusSymbols::new(entries.iter().map(|(w, f)| (w.as_bytes(), *f)), byte_base)?;
        drop(entries);

        let mut heap: BinaryHeap<(i64, Reverse<Pair>)> = symbols.counts().map(|(p, c)| (c, Reverse(p))).collect();
        let mut merges: Vec<Pair> = Vec::new();
        let mut touched: FastSet<Pair> = FastSet::default();

        while tokens.len() < self.vocab_size {
            let Some((count, Reverse(pair))) = heap.pop() else { break };
            let current = symbols.count(pair);
            if current != count {
                if current > 0 {
                    heap.push((current, Reverse(pair)));
                }
                continue;
            }
            if count <= 0 || (count as u64) < self.min_frequency {
                break;
            }
            let joined = format!("{}{}", tokens[pair.0 as usize], tokens[pair.1 as usize]);
            // Two different pairs can spell the same token ("ab"+"c", "a"+"bc"): reuse its id.
            let new_id = match token_ids.get(&joined) {
                Some(id) => *id,
                None => {
                    let id = tokens.len() as u32;
                    token_ids.insert(joined.clone(), id);
                    tokens.push(joined);
                    id
                }
            };
            merges.push(pair);
            touched.clear();
            symbols.merge(pair, new_id, &mut touched);
            for q in touched.iter() {
                let c = symbols.count(*q);
                if c > 0 {
                    heap.push((c, Reverse(*q)));
                }
            }
        }
        let specials: Vec<(String, u32)> =
            self.special_tokens.iter().enumerate().map(|(i, t)| (t.clone(), i as u32)).collect();
        let model = BpeModel::new(tokens, merges, "trained model")?;
        Ok(ByteLevelBpe::from_parts(model, specials, true, false))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frequent_pairs_become_tokens() {
        let text = "the cat the hat the mat ".repeat(50);
        let bpe = BpeTrainer::new(280).train([text.as_str()]).unwrap();
        assert!(bpe.token_to_id("Ġthe").is_some());
        assert_eq!(bpe.encode(" the").len(), 1);
        assert_eq!(bpe.decode(&bpe.encode(&text)).unwrap(), text);
    }

    #[test]
    fn too_small_vocab_is_an_error() {
        assert!(BpeTrainer::new(10).train(["abc"]).is_err());
    }

    #[test]
    fn empty_corpus_gives_bytes_only() {
        let bpe = BpeTrainer::new(1000).train([""]).unwrap();
        assert_eq!(bpe.vocab_size(), 257);
    }
}
