//! The prefix dictionary: a character trie with a frequency for every word.

use std::num::IntErrorKind;
use std::sync::OnceLock;

use crate::error::{Error, Result};
use crate::hash::FastMap;

/// The longest word a dictionary takes, in characters. jieba's own words have at most 16; the
/// bound keeps the trie shallow, so finding the words at one position of a text takes bounded
/// time and segmentation stays linear in the text's length.
pub const MAX_WORD_CHARS: usize = 256;

/// Marks an edge whose child is a prefix only, not a word (no real log frequency is `+inf`).
const NOT_A_WORD: f64 = f64::INFINITY;

/// One trie edge in the frozen layout: the character, the child node, and the child's word
/// log-frequency (or [`NOT_A_WORD`]).
#[derive(Debug, Clone, Copy)]
struct Edge {
    c: u32,
    child: u32,
    log_freq: f64,
}

impl Frozen {
    /// The edge from `node` labelled `c`.
    #[inline]
    fn step(&self, node: u32, c: char) -> Option<&Edge> {
        let c = c as u32;
        if node == 0 && c < 0x10000 {
            return match self.root_bmp[c as usize] {
                0 => None,
                i => self.edges.get(i as usize - 1),
            };
        }
        let slice = &self.edges[self.first[node as usize] as usize..self.first[node as usize + 1] as usize];
        slice.binary_search_by_key(&c, |e| e.c).ok().map(|i| &slice[i])
    }
}

/// A read-optimised copy of the trie: each node's edges sorted and contiguous, and a direct
/// table for the root's children in the Basic Multilingual Plane.
#[derive(Debug, Clone)]
struct Frozen {
    root_bmp: Vec<u32>,
    first: Vec<u32>,
    edges: Vec<Edge>,
}

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
    /// Built on first read after a change.
    frozen: OnceLock<Frozen>,
}

impl PrefixDict {
    pub fn new() -> Self {
        Self {
            freq: vec![None],
            log_freq: vec![f64::NEG_INFINITY],
            children: FastMap::default(),
            total: 0,
            frozen: OnceLock::new(),
        }
    }

    fn freeze(&self) -> &Frozen {
        self.frozen.get_or_init(|| {
            let mut triples: Vec<(u32, u32, u32)> =
                self.children.iter().map(|(k, child)| ((k >> 21) as u32, (k & 0x1F_FFFF) as u32, *child)).collect();
            triples.sort_unstable();
            let mut first = vec![0u32; self.freq.len() + 1];
            for t in &triples {
                first[t.0 as usize + 1] += 1;
            }
            for i in 1..first.len() {
                first[i] += first[i - 1];
            }
            let edges: Vec<Edge> = triples
                .iter()
                .map(|&(_, c, child)| Edge {
                    c,
                    child,
                    log_freq: if self.freq[child as usize].is_some() {
                        self.log_freq[child as usize]
                    } else {
                        NOT_A_WORD
                    },
                })
                .collect();
            let mut root_bmp = vec![0u32; 0x10000];
            for (i, e) in edges[..first[1] as usize].iter().enumerate() {
                if e.c < 0x10000 {
                    root_bmp[e.c as usize] = i as u32 + 1;
                }
            }
            Frozen { root_bmp, first, edges }
        })
    }

    /// Builds the read-optimised layout now (otherwise done on first use by a segmentation).
    pub fn ensure_frozen(&self) {
        self.freeze();
    }

    /// Calls `f(end, log_freq)` for every dictionary word `chars[start..end]`, shortest first.
    /// Uses the frozen layout when it is built, else walks the hash map (cheap after a change).
    #[inline]
    pub fn for_each_word_at(&self, chars: &[(usize, char)], start: usize, mut f: impl FnMut(usize, f64)) {
        let Some(fz) = self.frozen.get() else {
            let mut node = 0u32;
            for (j, &(_, c)) in chars[start..].iter().enumerate() {
                let Some(next) = self.child(node, c) else { return };
                node = next;
                if self.freq[node as usize].is_some() {
                    f(start + j + 1, self.log_freq[node as usize]);
                }
            }
            return;
        };
        let mut node = 0u32;
        for (j, &(_, c)) in chars[start..].iter().enumerate() {
            let edge = fz.step(node, c);
            let Some(edge) = edge else { return };
            if edge.log_freq != NOT_A_WORD {
                f(start + j + 1, edge.log_freq);
            }
            node = edge.child;
        }
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

    /// Whether `word` is in the dictionary (fast path through the frozen layout when built).
    pub fn contains(&self, word: &str) -> bool {
        let Some(fz) = self.frozen.get() else {
            return self.freq(word).is_some();
        };
        let mut node = 0u32;
        let mut is_word = false;
        for c in word.chars() {
            let edge = fz.step(node, c);
            let Some(edge) = edge else { return false };
            is_word = edge.log_freq != NOT_A_WORD;
            node = edge.child;
        }
        is_word
    }

    /// The frequency of `word`, if it is in the dictionary.
    pub fn freq(&self, word: &str) -> Option<u64> {
        self.node_of(word).and_then(|n| self.node_freq(n))
    }

    /// Adds or updates a word; keeps the total in step. On error (a word longer than
    /// [`MAX_WORD_CHARS`], or frequencies adding up past `u64::MAX`) nothing changes and the reason
    /// is returned.
    pub fn insert(&mut self, word: &str, freq: u64) -> std::result::Result<(), String> {
        check_word_length(word)?;
        let old = self.freq(word).unwrap_or(0);
        let total = (self.total - old)
            .checked_add(freq)
            .ok_or_else(|| format!("frequency {freq} takes the dictionary's total past {}", u64::MAX))?;
        self.frozen = OnceLock::new();
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
            return Ok(());
        }
        self.freq[node as usize] = Some(freq);
        self.log_freq[node as usize] = (freq as f64).ln();
        self.total = total;
        Ok(())
    }

    /// Loads `word freq [tag]` lines; `source` names the text in errors. A missing frequency is 0.
    pub fn load_lines(&mut self, text: &str, source: &str) -> Result<()> {
        for entry in parse_lines(text, source)? {
            self.insert(entry.word, entry.freq.unwrap_or(0)).map_err(|reason| entry.error(source, reason))?;
        }
        Ok(())
    }
}

/// Refuses a word longer than [`MAX_WORD_CHARS`], with the reason (reading at most that many
/// characters of an acceptable word).
pub(crate) fn check_word_length(word: &str) -> std::result::Result<(), String> {
    if word.chars().nth(MAX_WORD_CHARS).is_none() {
        return Ok(());
    }
    let start: String = word.chars().take(16).collect();
    let chars = word.chars().count();
    Err(format!("word `{start}...` has {chars} characters, more than the limit of {MAX_WORD_CHARS}"))
}

/// One `word [freq] [tag]` line of a dictionary.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DictEntry<'a> {
    /// 1-based line number.
    pub line: usize,
    /// The word.
    pub word: &'a str,
    /// Its frequency, if the line gives one.
    pub freq: Option<u64>,
}

impl DictEntry<'_> {
    /// An error about this line of `source`.
    pub fn error(&self, source: &str, reason: String) -> Error {
        Error::BadLine { path: source.to_string(), line: self.line, reason }
    }
}

/// Parses `word [freq] [tag]` lines (fields separated by spaces or tabs; blank lines, a leading
/// byte-order mark and fields after the tag are ignored). A frequency that is not a non-negative
/// integer, or is larger than `u64::MAX`, is an error naming `source` and the line.
pub(crate) fn parse_lines<'a>(text: &'a str, source: &str) -> Result<Vec<DictEntry<'a>>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let mut parts = line.split_whitespace();
        let Some(word) = parts.next() else { continue };
        let mut entry = DictEntry { line: i + 1, word, freq: None };
        if let Some(f) = parts.next() {
            let freq = f.parse::<u64>().map_err(|e| {
                let fault = match e.kind() {
                    IntErrorKind::PosOverflow => format!("is larger than {}", u64::MAX),
                    _ => "is not a non-negative integer".to_string(),
                };
                entry.error(source, format!("frequency `{f}` of word `{word}` {fault}"))
            })?;
            entry.freq = Some(freq);
        }
        out.push(entry);
    }
    Ok(out)
}
