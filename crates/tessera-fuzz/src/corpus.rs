//! The corpus: inputs kept because they produced an outcome no earlier input did. Outcomes are
//! signatures of what a parser answered (`ok`, or the first words of its error with numbers and
//! quoted text blanked out): a cheap stand-in for coverage that still steers the search towards
//! inputs that reach new checks.

use std::collections::HashSet;
use tessera_train::rng::SplitMix;

/// Words of an error message kept in its signature.
const SIGNATURE_WORDS: usize = 10;

/// What separates the outcomes of several readers in one target's outcome.
pub const OUTCOME_PARTS: &str = " | ";

/// Longer words of an error message are input quoted in it.
const LONGEST_WORD: usize = 24;

/// The signature of a parser's answer.
pub fn outcome<T, E: std::fmt::Display>(result: &Result<T, E>) -> String {
    match result {
        Ok(_) => "ok".to_string(),
        Err(e) => signature(&e.to_string()),
    }
}

/// Where the quote opened at `open` closes: for `"` (Rust's and serde's escaped strings) the next
/// `"` not escaped; for `'` and `` ` `` (names written as they are) the next one before a space,
/// punctuation or the end, else the last one.
fn closing_quote(chars: &[char], open: usize) -> Option<usize> {
    let q = chars[open];
    let rest = open + 1..chars.len();
    if q == '"' {
        return rest.clone().find(|&j| chars[j] == q && chars[j - 1] != '\\');
    }
    let boundary = |j: usize| chars.get(j + 1).is_none_or(|n| n.is_whitespace() || ",.:;)]".contains(*n));
    rest.clone().find(|&j| chars[j] == q && boundary(j)).or_else(|| rest.rev().find(|&j| chars[j] == q))
}

/// `message` with each quoted part (from a quote opening a word to its [`closing_quote`])
/// replaced by `_`.
fn strip_quoted(message: &str) -> String {
    let chars: Vec<char> = message.chars().collect();
    let mut out = String::with_capacity(message.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let opens = matches!(c, '\'' | '`' | '"') && (i == 0 || chars[i - 1].is_whitespace() || chars[i - 1] == '(');
        match opens.then(|| closing_quote(&chars, i)).flatten() {
            Some(j) => {
                out.push('_');
                i = j + 1;
            }
            None => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

/// The signature of an error message: its first words, with quoted text as `_`, each word
/// holding a digit (numbers, dims, hex) as `#`, each holding other than ASCII letters and
/// punctuation as `_`, and each longer than `LONGEST_WORD` as `~`, runs of these as one, so
/// that messages differing only in values or names match.
pub fn signature(message: &str) -> String {
    let message = strip_quoted(message);
    let mut words: Vec<&str> = Vec::new();
    for word in message.split_whitespace() {
        // File paths vary with the scratch folder: keep their last component only.
        let last = word.rsplit('/').next().unwrap_or(word);
        let word = if word.bytes().any(|b| b.is_ascii_digit()) {
            "#"
        } else if !last.chars().all(|c| c.is_ascii_alphabetic() || ",.:;()=_-[]{}<>".contains(c)) {
            "_"
        } else if last.chars().count() > LONGEST_WORD {
            "~"
        } else {
            last
        };
        if !(matches!(word, "#" | "_" | "~") && words.last() == Some(&word)) {
            words.push(word);
        }
        if words.len() == SIGNATURE_WORDS {
            break;
        }
    }
    words.join(" ")
}

/// Inputs and the outcomes seen so far.
#[derive(Debug, Default)]
pub struct Corpus {
    inputs: Vec<Vec<u8>>,
    bytes: usize,
    seen: HashSet<String>,
    capacity: usize,
    max_bytes: usize,
}

impl Corpus {
    /// An empty corpus keeping at most `capacity` inputs and `max_bytes` bytes (then a new input
    /// replaces a random one).
    pub fn new(capacity: usize, max_bytes: usize) -> Self {
        Corpus { inputs: Vec::new(), bytes: 0, seen: HashSet::new(), capacity: capacity.max(1), max_bytes }
    }

    /// Records `input`'s outcome; keeps the input when the outcome is new. Returns whether it was.
    ///
    /// An outcome of several readers (parts separated by ` | `) is new when one part is: the
    /// combinations of independent readers' answers are not worth an input each.
    pub fn add(&mut self, input: &[u8], outcome: &str, rng: &mut SplitMix) -> bool {
        let mut new = false;
        for (i, part) in outcome.split(OUTCOME_PARTS).enumerate() {
            new |= self.seen.insert(format!("{i}: {part}"));
        }
        if new {
            self.keep(input.to_vec(), rng);
        }
        new
    }

    /// Keeps `input` whatever its outcome (a seed).
    pub fn keep(&mut self, input: Vec<u8>, rng: &mut SplitMix) {
        self.bytes += input.len();
        if self.inputs.is_empty() || (self.inputs.len() < self.capacity && self.bytes <= self.max_bytes) {
            self.inputs.push(input);
        } else {
            let at = rng.below(self.inputs.len());
            let old = std::mem::replace(&mut self.inputs[at], input);
            self.bytes -= old.len();
        }
    }

    /// The index of a random input (0 when there is none).
    pub fn pick_index(&self, rng: &mut SplitMix) -> usize {
        rng.below(self.inputs.len().max(1))
    }

    /// The input at `index` (empty when there is none).
    pub fn get(&self, index: usize) -> &[u8] {
        self.inputs.get(index).map_or(&[], Vec::as_slice)
    }

    /// The number of inputs kept.
    pub fn len(&self) -> usize {
        self.inputs.len()
    }

    /// Whether no input is kept.
    pub fn is_empty(&self) -> bool {
        self.inputs.is_empty()
    }

    /// The number of distinct outcomes seen (of each reader, for a target of several).
    pub fn outcomes(&self) -> usize {
        self.seen.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_blank_values_quotes_and_folders() {
        assert_eq!(
            signature("/tmp/x/mnist.csv: line 12, field 3: 'abc' is not an integer in 0..=255"),
            "mnist.csv: line # field # _ is not an integer"
        );
        assert_eq!(signature("`a b` and \"c\" 100000 0x0a1f [4, abcdefghijklmnopqrstuvwxyz"), "_ and _ # ~");
        assert_eq!(signature("field 3: 'x -'i\u{feff}nf ' is bad, `a`b` é"), "field # _ is bad, _");
        assert_eq!(signature("word `a` in `b c` is"), "word _ in _ is");
        let serde = "file `v.json`: invalid type: string \"*]f`[e \\\" e,\", expected struct V at line 1";
        assert_eq!(signature(serde), "file _: invalid type: string _, expected struct V at");
        assert_eq!(outcome(&Ok::<(), String>(())), "ok");
    }

    #[test]
    fn new_outcomes_are_kept_and_the_capacity_holds() {
        let (mut c, mut rng) = (Corpus::new(2, 1 << 20), SplitMix::new(1, 0));
        assert!(c.is_empty() && c.get(c.pick_index(&mut rng)).is_empty());
        assert!(c.add(b"a", "ok", &mut rng));
        assert!(!c.add(b"b", "ok", &mut rng));
        assert!(c.add(b"c", "err", &mut rng));
        assert!(c.add(b"d", "err2", &mut rng));
        assert_eq!((c.len(), c.outcomes()), (2, 3));
        assert!(c.add(b"e", "ok | err", &mut rng), "a new part");
        assert!(!c.add(b"f", "err | err", &mut rng), "parts count by position, not combination");
        assert!(c.add(b"g", "ok | ok", &mut rng));
        let mut small = Corpus::new(100, 10);
        for _ in 0..5 {
            small.keep(vec![0; 4], &mut rng);
        }
        assert_eq!(small.len(), 2, "no more bytes than the budget");
    }
}
