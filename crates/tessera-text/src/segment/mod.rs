//! Chinese word segmentation compatible with jieba.
//!
//! A prefix dictionary gives, at each character, every dictionary word starting there (a DAG of
//! words); dynamic programming picks the path with the highest product of word probabilities;
//! runs of single characters missing from the dictionary go to a BMES hidden Markov model decoded
//! with Viterbi. Search mode adds the dictionary bigrams and trigrams inside long words.

mod blocks;
mod dict;
mod full;
mod hmm;

use std::cell::RefCell;
use std::path::Path;

use blocks::{for_each_run, is_block_char, is_hmm_han, split_alnum_runs, split_other};
pub use dict::MAX_WORD_CHARS;
use dict::{check_word_length, parse_lines, PrefixDict};
use hmm::Viterbi;

use crate::error::{Error, Result};
use crate::io::read_text;

static DEFAULT_DICT: &str = include_str!("../../data/jieba/dict.txt");

/// How finely to segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SegmentMode {
    /// The most probable segmentation (jieba's `cut`).
    #[default]
    Default,
    /// Default, plus the dictionary words inside longer words (jieba's `cut_for_search`).
    Search,
}

/// Scratch buffers reused between calls on one thread.
#[derive(Default)]
struct Scratch {
    chars: Vec<(usize, char)>,
    /// DAG edges: for each start character, `(end char index, log frequency)`.
    edge_start: Vec<usize>,
    edges: Vec<(usize, f64)>,
    route: Vec<(f64, usize)>,
    viterbi: Viterbi,
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

/// A Chinese word segmenter (jieba's algorithm and, by default, jieba's dictionary and HMM).
///
/// ```
/// use tessera_text::{Segmenter, SegmentMode};
/// let seg = Segmenter::new();
/// assert_eq!(seg.cut("他来到了网易杭研大厦"), ["他", "来到", "了", "网易", "杭研", "大厦"]);
/// let fine = seg.cut_mode("中国科学院", SegmentMode::Search, true);
/// assert_eq!(fine, ["中国", "科学", "学院", "科学院", "中国科学院"]);
/// ```
#[derive(Debug, Clone)]
pub struct Segmenter {
    dict: PrefixDict,
}

impl Default for Segmenter {
    fn default() -> Self {
        Self::new()
    }
}

impl Segmenter {
    /// A segmenter with jieba's dictionary (349,046 words, shipped in the crate).
    pub fn new() -> Self {
        match Self::from_dict_str(DEFAULT_DICT, "data/jieba/dict.txt") {
            Ok(seg) => seg,
            Err(e) => unreachable!("the embedded dictionary is malformed: {e}"),
        }
    }

    /// A segmenter with no dictionary words (every run of CJK characters goes to the HMM).
    pub fn empty() -> Self {
        Self { dict: PrefixDict::new() }
    }

    /// A segmenter with the dictionary in `path` (`word freq [tag]` per line).
    pub fn from_dict_file(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref();
        Self::from_dict_str(&read_text(path)?, &path.display().to_string())
    }

    /// A segmenter with the dictionary in `text` (`word freq [tag]` per line, fields separated by
    /// spaces or tabs, a missing frequency read as 0); `source` names the text in errors.
    ///
    /// A frequency that is not an integer in `0..=u64::MAX`, a word longer than
    /// [`MAX_WORD_CHARS`] characters, or frequencies adding up past `u64::MAX` are errors naming
    /// `source` and the line.
    ///
    /// ```
    /// use tessera_text::Segmenter;
    /// let seg = Segmenter::from_dict_str("北京 10\n大学 5\n", "dict.txt").unwrap();
    /// assert_eq!(seg.cut_with("北京大学", false), ["北京", "大学"]);
    /// let err = Segmenter::from_dict_str("北京 10\n大学 -5\n", "dict.txt").unwrap_err();
    /// assert_eq!(err.to_string(), "`dict.txt` line 2: frequency `-5` of word `大学` is not a non-negative integer");
    /// ```
    pub fn from_dict_str(text: &str, source: &str) -> Result<Self> {
        let mut seg = Self::empty();
        seg.dict.load_lines(text, source)?;
        Ok(seg)
    }

    /// Adds the words of a user dictionary (`word [freq] [tag]` per line); a word without a
    /// frequency gets the one [`Segmenter::suggest_freq`] proposes, so that it is kept whole.
    pub fn load_user_dict(&mut self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        self.load_user_dict_str(&read_text(path)?, &path.display().to_string())
    }

    /// Like [`Segmenter::load_user_dict`], from a string; `source` names it in errors, which are
    /// those of [`Segmenter::from_dict_str`].
    pub fn load_user_dict_str(&mut self, text: &str, source: &str) -> Result<()> {
        for entry in parse_lines(text, source)? {
            self.insert_word(entry.word, entry.freq).map_err(|reason| entry.error(source, reason))?;
        }
        Ok(())
    }

    /// Adds a word (or changes its frequency); `None` uses [`Segmenter::suggest_freq`]. Returns
    /// the frequency given to the word. A word longer than [`MAX_WORD_CHARS`] characters, or a
    /// frequency taking the dictionary's total past `u64::MAX`, is an error.
    pub fn add_word(&mut self, word: &str, freq: Option<u64>) -> Result<u64> {
        self.insert_word(word, freq).map_err(|reason| Error::InvalidArgument { name: "word", reason })
    }

    /// [`Segmenter::add_word`], with the reason for a refusal as a string.
    fn insert_word(&mut self, word: &str, freq: Option<u64>) -> std::result::Result<u64, String> {
        check_word_length(word)?;
        let freq = freq.unwrap_or_else(|| self.suggest_freq(word));
        self.dict.insert(word, freq)?;
        Ok(freq)
    }

    /// Whether `word` is in the dictionary.
    pub fn has_word(&self, word: &str) -> bool {
        self.dict.freq(word).is_some()
    }

    /// The smallest frequency that makes the segmenter keep `word` whole (jieba's rule).
    pub fn suggest_freq(&self, word: &str) -> u64 {
        let log_total = (self.dict.total().max(1) as f64).ln();
        let log_freq: f64 = self
            .cut_inner(word, false, false)
            .iter()
            .map(|w| (self.dict.freq(w).unwrap_or(1) as f64).ln() - log_total)
            .sum();
        let suggested = ((log_freq + log_total).exp() as u64).saturating_add(1);
        suggested.max(self.dict.freq(word).unwrap_or(1))
    }

    /// Segments `text` in default mode with the HMM for unknown words.
    pub fn cut<'a>(&self, text: &'a str) -> Vec<&'a str> {
        self.cut_with(text, true)
    }

    /// Segments `text` in default mode, with or without the HMM.
    pub fn cut_with<'a>(&self, text: &'a str, hmm: bool) -> Vec<&'a str> {
        self.cut_inner(text, hmm, true)
    }

    /// `freeze`: build the read-optimised dictionary first (skipped while adding user words).
    fn cut_inner<'a>(&self, text: &'a str, hmm: bool, freeze: bool) -> Vec<&'a str> {
        if freeze {
            self.dict.ensure_frozen();
        }
        let mut out = Vec::with_capacity(text.len() / 3 + 1);
        SCRATCH.with(|s| {
            let mut scratch = s.borrow_mut();
            for_each_run(text, is_block_char, |run, is_block| {
                if is_block {
                    self.cut_block(run, hmm, &mut scratch, &mut out);
                } else {
                    split_other(run, &mut out);
                }
            });
        });
        out
    }

    /// Segments `text` in the given mode.
    pub fn cut_mode<'a>(&self, text: &'a str, mode: SegmentMode, hmm: bool) -> Vec<&'a str> {
        let words = self.cut_with(text, hmm);
        match mode {
            SegmentMode::Default => words,
            SegmentMode::Search => self.expand_for_search(words),
        }
    }

    /// Segments `text` and returns each word with its byte span in `text`.
    ///
    /// ```
    /// use tessera_text::{Segmenter, SegmentMode};
    /// let seg = Segmenter::new();
    /// let words = seg.tokenize("南京市长江大桥", SegmentMode::Default, true);
    /// assert_eq!(words[0], ("南京市", 0, 9));
    /// ```
    pub fn tokenize<'a>(&self, text: &'a str, mode: SegmentMode, hmm: bool) -> Vec<(&'a str, usize, usize)> {
        let base = text.as_ptr() as usize;
        self.cut_mode(text, mode, hmm)
            .into_iter()
            .map(|w| {
                // Every word is a slice of `text`, so its start is its address minus the text's.
                let start = w.as_ptr() as usize - base;
                (w, start, start + w.len())
            })
            .collect()
    }

    fn expand_for_search<'a>(&self, words: Vec<&'a str>) -> Vec<&'a str> {
        let mut out = Vec::with_capacity(words.len() * 2);
        let mut bounds = Vec::new();
        for word in words {
            bounds.clear();
            bounds.extend(word.char_indices().map(|(i, _)| i));
            bounds.push(word.len());
            let n = bounds.len() - 1;
            for gram in [2usize, 3] {
                if n > gram {
                    for i in 0..=n - gram {
                        let piece = &word[bounds[i]..bounds[i + gram]];
                        if self.dict.contains(piece) {
                            out.push(piece);
                        }
                    }
                }
            }
            out.push(word);
        }
        out
    }

    /// Builds the DAG and the best route for one block.
    fn route(&self, block: &str, s: &mut Scratch) {
        s.chars.clear();
        s.chars.extend(block.char_indices());
        let n = s.chars.len();
        s.edge_start.clear();
        s.edges.clear();
        for i in 0..n {
            s.edge_start.push(s.edges.len());
            let edges = &mut s.edges;
            self.dict.for_each_word_at(&s.chars, i, |end, log_freq| edges.push((end, log_freq)));
        }
        s.edge_start.push(s.edges.len());
        let log_total = (self.dict.total().max(1) as f64).ln();
        s.route.clear();
        s.route.resize(n + 1, (0.0, n));
        for i in (0..n).rev() {
            let edges = &s.edges[s.edge_start[i]..s.edge_start[i + 1]];
            let mut best = (-log_total + s.route[i + 1].0, i + 1);
            let mut found = false;
            for &(end, log_freq) in edges {
                let cand = (log_freq - log_total + s.route[end].0, end);
                if !found || cand.0 > best.0 || (cand.0 == best.0 && cand.1 >= best.1) {
                    best = cand;
                    found = true;
                }
            }
            s.route[i] = best;
        }
    }

    fn cut_block<'a>(&self, block: &'a str, hmm: bool, s: &mut Scratch, out: &mut Vec<&'a str>) {
        self.route(block, s);
        let n = s.chars.len();
        let byte_at = |chars: &[(usize, char)], i: usize| if i < chars.len() { chars[i].0 } else { block.len() };
        let mut i = 0;
        let mut pending: Option<usize> = None;
        while i < n {
            let j = s.route[i].1;
            let single = j == i + 1;
            let keep_pending = if hmm { single } else { single && s.chars[i].1.is_ascii_alphanumeric() };
            if keep_pending {
                pending.get_or_insert(i);
            } else {
                if let Some(p) = pending.take() {
                    self.flush(&block[byte_at(&s.chars, p)..byte_at(&s.chars, i)], hmm, &mut s.viterbi, out);
                }
                out.push(&block[byte_at(&s.chars, i)..byte_at(&s.chars, j)]);
            }
            i = j;
        }
        if let Some(p) = pending {
            self.flush(&block[byte_at(&s.chars, p)..], hmm, &mut s.viterbi, out);
        }
    }

    /// Emits a run of characters the route left as single characters.
    fn flush<'a>(&self, run: &'a str, hmm: bool, viterbi: &mut Viterbi, out: &mut Vec<&'a str>) {
        let mut chars = run.char_indices();
        let one_char = chars.next().is_some() && chars.next().is_none();
        if !hmm || one_char {
            out.push(run);
        } else if !self.dict.contains(run) {
            for_each_run(run, is_hmm_han, |piece, han| {
                if !han {
                    split_alnum_runs(piece, out);
                } else if piece.chars().nth(1).is_some() {
                    viterbi.cut(piece, out);
                } else {
                    out.push(piece);
                }
            });
        } else {
            out.extend(run.char_indices().map(|(i, c)| &run[i..i + c.len_utf8()]));
        }
    }
}
