//! The prefix dictionary: a character trie with a frequency for every word.

use crate::error::{Error, Result};
use crate::hash::FastMap;

/// Word frequencies in a trie keyed by characters; walking it from a position yields every
/// dictionary word starting there (the edges of the word DAG).
#[derive(Debug, Clone)]
pub(crate) struct PrefixDict {
    /// Frequency of the word ending at each node; `None` for pure prefixes.
    freq: Vec<Option<u64>>,
    /// Natural log of `freq` (negative infinity for a frequency of zero).
    log_freq: Vec<f64>,
    /// Child of `(node, char)`, packed as `node << 21 | char`.
    children: FastMap<u64, u32>,
    /// Sum of all word frequencies.
    total: u64,
}

impl PrefixDict {
    pub fn new() -> Self {
        Self { freq: vec![None], log_freq: vec![f64::NEG_INFINITY], children: FastMap::default(), total: 0 }
    }

    #[inline]
    pub fn child(&self, node: u32, c: char) -> Option<u32> {
        self.children.get(&(((node as u64) << 21) | c as u64)).copied()
    }

    /// Word frequency at `node`, if a word ends there.
    #[inline]
    pub fn node_freq(&self, node: u32) -> Option<u64> {
        self.freq[node as usize]
    }

    #[inline]
    pub fn node_log_freq(&self, node: u32) -> f64 {
        self.log_freq[node as usize]
    }

    pub fn total(&self) -> u64 {
        self.total
    }

    fn node_of(&self, word: &str) -> Option<u32> {
        let mut node = 0u32;
        for c in word.chars() {
            node = self.child(node, c)?;
        }
        Some(node)
    }

    /// The frequency of `word`, if it is in the dictionary.
    pub fn freq(&self, word: &str) -> Option<u64> {
        self.node_of(word).and_then(|n| self.node_freq(n))
    }

    /// Adds or updates a word; keeps the total in step.
    pub fn insert(&mut self, word: &str, freq: u64) {
        let mut node = 0u32;
        for c in word.chars() {
            let key = ((node as u64) << 21) | c as u64;
            node = match self.children.get(&key) {
                Some(n) => *n,
                None => {
                    let n = self.freq.len() as u32;
                    self.freq.push(None);
                    self.log_freq.push(f64::NEG_INFINITY);
                    self.children.insert(key, n);
                    n
                }
            };
        }
        if node == 0 {
            return;
        }
        let old = self.freq[node as usize].replace(freq).unwrap_or(0);
        self.log_freq[node as usize] = (freq as f64).ln();
        self.total = self.total - old + freq;
    }

    /// Loads `word freq [tag]` lines; `source` names the file in errors.
    ///
    /// A line without a frequency gets `default_freq(word)`.
    pub fn load_lines(
        &mut self,
        text: &str,
        source: &str,
        mut default_freq: impl FnMut(&Self, &str) -> u64,
    ) -> Result<()> {
        for (i, line) in text.lines().enumerate() {
            let mut parts = line.split_whitespace();
            let Some(word) = parts.next() else { continue };
            let freq = match parts.next() {
                Some(f) => f.parse::<u64>().map_err(|_| Error::BadLine {
                    path: source.to_string(),
                    line: i + 1,
                    reason: format!("frequency `{f}` of word `{word}` is not a non-negative integer"),
                })?,
                None => default_freq(self, word),
            };
            self.insert(word, freq);
        }
        Ok(())
    }
}
