//! Tab-separated source/target pairs, one per line, with every line that is not taken reported
//! by number and reason rather than silently dropped or mangled.
//!
//! The rules of [`PairSet::parse`]:
//! - a byte-order mark at the very start and a `\r` at the end of each line are stripped;
//! - blank lines (empty, or only spaces without a tab) are ignored and not reported: they carry
//!   no pair, and files often end with one or two;
//! - a line is split at tabs: one column is [`PairProblem::NoTab`], more than two are
//!   [`PairProblem::ExtraColumns`] (a source or target holding a tab cannot be told apart from
//!   an extra column, so such a line is reported rather than guessed at);
//!   [`Columns::FirstTwo`] takes the first two columns instead, for files such as Tatoeba's
//!   exports that carry an attribution in a third;
//! - a source or target that is empty or only whitespace is reported; otherwise both are kept
//!   verbatim (no trimming, no case or Unicode normalisation).

use std::collections::HashMap;
use std::fmt;
use std::path::Path;

use crate::rng::SplitMix;
use crate::{Error, Result};
use summary::{counted, skipped_text};

/// The stream of [`SplitMix`] that [`PairSet::split`] draws from.
const SPLIT_STREAM: u64 = 0x5EED_5B17;

/// One pair and where it came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pair {
    /// The text to translate from.
    pub source: String,
    /// The text to translate to.
    pub target: String,
    /// The line it was read from (1-based), or its position for [`PairSet::from_pairs`].
    pub line: usize,
}

/// Which side of a pair a problem concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Side {
    /// The first column, the input.
    Source,
    /// The second column, the output.
    Target,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Source => "source",
            Side::Target => "target",
        })
    }
}

/// Why a line was not taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PairProblem {
    /// The line has no tab, so no target.
    NoTab,
    /// The line has more than two tab-separated columns.
    ExtraColumns {
        /// How many columns it has.
        columns: usize,
    },
    /// The source is empty or only whitespace.
    EmptySource,
    /// The target is empty or only whitespace.
    EmptyTarget,
    /// One side has more tokens than allowed (found by [`PairSet::screen`]).
    TooLong {
        /// The side over the limit.
        side: Side,
        /// Its token count.
        tokens: usize,
        /// The limit.
        max: usize,
    },
    /// One side holds a character the tokenizer cannot encode (found by [`PairSet::screen`]).
    Unencodable {
        /// The side holding it.
        side: Side,
        /// The first such character.
        ch: char,
    },
    /// Any other reason a [`PairSet::screen`] check gives, as a short phrase
    /// ("duplicate of line 4").
    Other(String),
}

impl fmt::Display for PairProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PairProblem::NoTab => f.write_str("no tab between source and target"),
            PairProblem::ExtraColumns { columns } => write!(f, "{columns} tab-separated columns where 2 were expected"),
            PairProblem::EmptySource => f.write_str("empty source"),
            PairProblem::EmptyTarget => f.write_str("empty target"),
            PairProblem::TooLong { side, tokens, max } => {
                write!(f, "{side} of {tokens} tokens, over the limit of {max}")
            }
            PairProblem::Unencodable { side, ch } => {
                write!(f, "{side} has {ch:?} (U+{:04X}), which the tokenizer cannot encode", *ch as u32)
            }
            PairProblem::Other(reason) => f.write_str(reason),
        }
    }
}

/// How many tab-separated columns a line may have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Columns {
    /// Exactly two; more is [`PairProblem::ExtraColumns`].
    #[default]
    Exactly2,
    /// At least two; columns after the second are ignored.
    FirstTwo,
}

/// The pairs read and the lines skipped.
#[derive(Debug, Clone, PartialEq)]
pub struct PairSet {
    /// Where the pairs came from: a file path or a task's name ("the dates task").
    pub name: String,
    /// The pairs taken, in file order.
    pub pairs: Vec<Pair>,
    /// The lines not taken, by line number (1-based), in line order.
    pub skipped: Vec<(usize, PairProblem)>,
}

impl PairSet {
    /// Parses tab-separated `source<TAB>target` lines (the rules are in the
    /// [module docs](self)); `name` says where the text came from in messages. Never fails:
    /// lines that are not pairs are listed in [`skipped`](Self::skipped).
    ///
    /// ```
    /// use tessera_train::seq2seq::{PairProblem, PairSet};
    ///
    /// let set = PairSet::parse("demo.tsv", "\u{feff}hello\tbonjour\r\n\nno tab here\ncat\tchat\n");
    /// assert_eq!(set.pairs.len(), 2);
    /// assert_eq!((set.pairs[1].source.as_str(), set.pairs[1].target.as_str(), set.pairs[1].line), ("cat", "chat", 4));
    /// assert_eq!(set.skipped, vec![(3, PairProblem::NoTab)]);
    /// assert_eq!(set.summary(), "demo.tsv: 2 pairs; 1 line skipped: 1 without a tab (line 3)");
    /// ```
    pub fn parse(name: &str, text: &str) -> PairSet {
        Self::parse_with(name, text, Columns::Exactly2)
    }

    /// [`parse`](Self::parse) with a choice of how many columns a line may have.
    pub fn parse_with(name: &str, text: &str, columns: Columns) -> PairSet {
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut set = PairSet { name: name.to_string(), pairs: Vec::new(), skipped: Vec::new() };
        for (index, line) in text.split('\n').enumerate() {
            let line = line.strip_suffix('\r').unwrap_or(line);
            if line.chars().all(|c| c.is_whitespace() && c != '\t') {
                continue;
            }
            match split_line(line, columns) {
                Ok((source, target)) => set.pairs.push(Pair { source, target, line: index + 1 }),
                Err(problem) => set.skipped.push((index + 1, problem)),
            }
        }
        set
    }

    /// Reads and parses the UTF-8 file at `path` (see [`parse`](Self::parse)), named by its path.
    ///
    /// # Errors
    /// [`Error::Io`] when it cannot be read; [`Error::BadData`] when it is not UTF-8, naming the
    /// first bad line.
    pub fn read(path: &Path) -> Result<PairSet> {
        Self::read_with(path, Columns::Exactly2)
    }

    /// [`read`](Self::read) with a choice of how many columns a line may have.
    ///
    /// # Errors
    /// As [`read`](Self::read).
    pub fn read_with(path: &Path, columns: Columns) -> Result<PairSet> {
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        let text = decode(&bytes).map_err(|msg| Error::bad_data(path, msg))?;
        Ok(Self::parse_with(&path.display().to_string(), text, columns))
    }

    /// Pairs built in memory; `line` is the position (1-based). A pair with an empty or
    /// whitespace-only side is skipped as it would be in a file.
    pub fn from_pairs(name: &str, pairs: Vec<(String, String)>) -> PairSet {
        let mut set = PairSet { name: name.to_string(), pairs: Vec::with_capacity(pairs.len()), skipped: Vec::new() };
        for (index, (source, target)) in pairs.into_iter().enumerate() {
            match check_sides(&source, &target) {
                None => set.pairs.push(Pair { source, target, line: index + 1 }),
                Some(problem) => set.skipped.push((index + 1, problem)),
            }
        }
        set
    }

    /// The number of pairs taken.
    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    /// Whether no pair was taken.
    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    /// Moves the pairs for which `check` finds a problem to [`skipped`](Self::skipped) (kept in
    /// line order): for length limits and tokenizer coverage once a tokenizer is known.
    pub fn screen(&mut self, mut check: impl FnMut(&Pair) -> Option<PairProblem>) {
        let mut kept = Vec::with_capacity(self.pairs.len());
        let mut moved = false;
        for pair in std::mem::take(&mut self.pairs) {
            match check(&pair) {
                Some(problem) => {
                    self.skipped.push((pair.line, problem));
                    moved = true;
                }
                None => kept.push(pair),
            }
        }
        self.pairs = kept;
        if moved {
            self.skipped.sort_by_key(|(line, _)| *line);
        }
    }

    /// One paragraph: the pair count and the skipped lines counted per kind of problem with
    /// the first few line numbers, e.g. `train.tsv: 19,874 pairs; 126 lines skipped: 3 without
    /// a tab (lines 4, 17, 90), 123 with a target over 32 tokens (lines 5, 6, 7, … and 120 more)`.
    pub fn summary(&self) -> String {
        let pairs = counted(self.pairs.len(), "pair", "pairs");
        if self.skipped.is_empty() {
            format!("{}: {pairs}; no line skipped", self.name)
        } else {
            format!("{}: {pairs}; {}", self.name, skipped_text(&self.skipped))
        }
    }

    /// Refuses any skipped line, for a strict mode that takes a file only when every
    /// non-blank line is a pair.
    ///
    /// # Errors
    /// [`Error::BadData`] naming the set, the counts per problem and the first line numbers.
    pub fn ensure_clean(&self) -> Result<()> {
        if self.skipped.is_empty() {
            return Ok(());
        }
        Err(Error::bad_data(
            &self.name,
            format!("{} (strict: every non-blank line must be a pair)", skipped_text(&self.skipped)),
        ))
    }

    /// Refuses a set without a single pair.
    ///
    /// # Errors
    /// [`Error::BadData`] "no pairs", saying whether the text was empty or every line skipped.
    pub fn ensure_nonempty(&self) -> Result<()> {
        if !self.pairs.is_empty() {
            return Ok(());
        }
        let why = if self.skipped.is_empty() {
            "no pairs: it is empty or only blank lines".to_string()
        } else {
            format!("no pairs: {}", skipped_text(&self.skipped))
        };
        Err(Error::bad_data(&self.name, why))
    }

    /// Holds out about `fraction` of the pairs, chosen by `seed`: `(rest, held_out)`, each in
    /// file order. The same seed gives the same split. Pairs with the same source always land
    /// on the same side, so the held-out set measures unseen sources; with duplicate sources
    /// the held-out share can therefore exceed `fraction` slightly. When `0 < fraction < 1`
    /// both sides get at least one pair. The skipped lines stay with `rest`; `held_out` is
    /// named `"<name> (held out)"`.
    ///
    /// # Errors
    /// [`Error::Config`] when `fraction` is not in `[0, 1]`, or is strictly between and the
    /// set has fewer than two distinct sources.
    pub fn split(self, fraction: f64, seed: u64) -> Result<(PairSet, PairSet)> {
        if !(0.0..=1.0).contains(&fraction) {
            return Err(Error::Config(format!("the held-out fraction must be between 0 and 1, not {fraction}")));
        }
        let n = self.pairs.len();
        let groups = source_groups(&self.pairs);
        let partial = fraction > 0.0 && fraction < 1.0;
        if partial && groups.len() < 2 {
            return Err(Error::Config(format!(
                "cannot hold out {fraction} of {}: it has {} with {} distinct {}",
                self.name,
                counted(n, "pair", "pairs"),
                groups.len(),
                if groups.len() == 1 { "source" } else { "sources" }
            )));
        }
        let mut want = (fraction * n as f64).round() as usize;
        if partial {
            want = want.clamp(1, n - 1);
        }
        let mut order: Vec<usize> = (0..groups.len()).collect();
        SplitMix::new(seed, SPLIT_STREAM).shuffle(&mut order);
        // The last group in the order is never taken when partial, so the rest is never empty.
        let takeable = if partial { groups.len() - 1 } else { groups.len() };
        let mut held = vec![false; n];
        let mut count = 0;
        for &g in order.iter().take(takeable) {
            if count >= want {
                break;
            }
            for &i in &groups[g] {
                held[i] = true;
            }
            count += groups[g].len();
        }
        let held_name = format!("{} (held out)", self.name);
        let (held_pairs, rest_pairs): (Vec<_>, Vec<_>) = self.pairs.into_iter().zip(held).partition(|(_, h)| *h);
        let rest =
            PairSet { name: self.name, pairs: rest_pairs.into_iter().map(|(p, _)| p).collect(), skipped: self.skipped };
        let held_out =
            PairSet { name: held_name, pairs: held_pairs.into_iter().map(|(p, _)| p).collect(), skipped: Vec::new() };
        Ok((rest, held_out))
    }
}

/// The indices of the pairs grouped by source, groups in order of first appearance.
fn source_groups(pairs: &[Pair]) -> Vec<Vec<usize>> {
    let mut index: HashMap<&str, usize> = HashMap::with_capacity(pairs.len());
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (i, pair) in pairs.iter().enumerate() {
        let g = *index.entry(pair.source.as_str()).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(i);
    }
    groups
}

/// One line (without its `\r`) as a pair, or why not.
fn split_line(line: &str, columns: Columns) -> std::result::Result<(String, String), PairProblem> {
    let fields: Vec<&str> = line.split('\t').collect();
    match (fields.len(), columns) {
        (1, _) => Err(PairProblem::NoTab),
        (2, _) | (_, Columns::FirstTwo) => match check_sides(fields[0], fields[1]) {
            None => Ok((fields[0].to_string(), fields[1].to_string())),
            Some(problem) => Err(problem),
        },
        (n, Columns::Exactly2) => Err(PairProblem::ExtraColumns { columns: n }),
    }
}

fn check_sides(source: &str, target: &str) -> Option<PairProblem> {
    if source.trim().is_empty() {
        Some(PairProblem::EmptySource)
    } else if target.trim().is_empty() {
        Some(PairProblem::EmptyTarget)
    } else {
        None
    }
}

/// The file's bytes as text, or a message naming the first line that is not UTF-8.
fn decode(bytes: &[u8]) -> std::result::Result<&str, String> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err("the file is UTF-16 (it starts with a UTF-16 byte-order mark); save it as UTF-8".into());
    }
    std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        let line_start = bytes[..at].iter().rposition(|&b| b == b'\n').map_or(0, |p| p + 1);
        let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() + 1;
        let byte = bytes
            .get(at)
            .map_or(String::new(), |b| format!(" (byte 0x{b:02X} at byte {} of the line)", at - line_start + 1));
        format!("line {line} is not valid UTF-8{byte}; save the file as UTF-8")
    })
}

mod summary;
#[cfg(test)]
mod tests;
