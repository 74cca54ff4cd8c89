//! The mutation engine: byte-level and text-aware changes to an input, stacked a few at a time
//! (AFL's "havoc"), and purely random inputs, all from a seeded generator so that a run can be
//! repeated.

use crate::input::{join2, split2};
use tessera_train::rng::SplitMix;

/// Bytes that often sit on a parser's boundaries.
const INTERESTING_BYTES: [u8; 12] = [0, 0xff, 0x7f, 0x80, 1, 0x20, b'0', b'9', b'\n', b',', b'"', 0x1f];

/// Integers at the edges of 32- and 64-bit fields, written over 2, 4 or 8 bytes.
const BOUNDARIES: [u64; 12] = [
    0,
    1,
    0x7fff,
    0xffff,
    (1 << 31) - 1,
    1 << 31,
    (1 << 32) - 1,
    1 << 32,
    (1 << 63) - 1,
    1 << 63,
    u64::MAX,
    u64::MAX - 1,
];

/// Replacements for a number written in ASCII.
const NUMBERS: [&str; 30] = [
    "0",
    "-1",
    "-0",
    "1",
    "9",
    "10",
    "255",
    "256",
    "65535",
    "2147483647",
    "2147483648",
    "4294967295",
    "4294967296",
    "9223372036854775807",
    "9223372036854775808",
    "18446744073709551615",
    "18446744073709551616",
    "99999999999999999999999999999999",
    "1e308",
    "1e309",
    "-1e308",
    "1e-400",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "1.5",
    "0.1",
    "0x10",
    "",
];

/// Openings repeated to nest a JSON document deeply.
const NESTINGS: [&str; 3] = ["[", "{\"a\":", "[{\"a\":"];

/// How deep a nesting goes.
const DEPTHS: [usize; 5] = [64, 200, 1_000, 10_000, 100_000];

/// One change to an input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    FlipBit,
    InterestingByte,
    RandomByte,
    InsertBytes,
    DeleteRange,
    DuplicateRange,
    Truncate,
    Splice,
    Boundary,
    Number,
    Token,
    Nest,
    RepeatLine,
}

/// The operations, with the weight of each (JSON targets get nesting more often).
const OPS: [(Op, u32); 13] = [
    (Op::FlipBit, 6),
    (Op::InterestingByte, 4),
    (Op::RandomByte, 3),
    (Op::InsertBytes, 3),
    (Op::DeleteRange, 4),
    (Op::DuplicateRange, 3),
    (Op::Truncate, 2),
    (Op::Splice, 3),
    (Op::Boundary, 5),
    (Op::Number, 6),
    (Op::Token, 5),
    (Op::Nest, 1),
    (Op::RepeatLine, 2),
];

/// Mutates inputs for one target.
#[derive(Debug, Clone)]
pub struct Mutator {
    rng: SplitMix,
    max_len: usize,
    tokens: &'static [&'static [u8]],
    json: bool,
    two_files: bool,
}

impl Mutator {
    /// A mutator seeded with `seed`, producing inputs of at most `max_len` bytes; `tokens` are
    /// words of the target's format to insert, and `json` favours deep nesting.
    pub fn new(seed: u64, max_len: usize, tokens: &'static [&'static [u8]], json: bool) -> Self {
        Mutator { rng: SplitMix::new(seed, 0x6d75_7461_7465), max_len: max_len.max(1), tokens, json, two_files: false }
    }

    /// Inputs hold two files ([`join2`]): half the mutations then change one file and keep the
    /// length field right, so that a change inside the first file does not move the second.
    pub fn two_files(mut self, two: bool) -> Self {
        self.two_files = two;
        self
    }

    /// The generator, for picking inputs from a corpus with the same seed.
    pub fn rng(&mut self) -> &mut SplitMix {
        &mut self.rng
    }

    /// `input` with one to four changes (`other`, another input, is what a splice takes from).
    pub fn mutate(&mut self, input: &[u8], other: &[u8]) -> Vec<u8> {
        if self.two_files && self.rng.below(2) == 0 {
            let ((a, b), (other_a, other_b)) = (split2(input), split2(other));
            let joined = if self.rng.below(2) == 0 {
                join2(&self.havoc(a, other_a), b)
            } else {
                join2(a, &self.havoc(b, other_b))
            };
            return joined[..joined.len().min(self.max_len)].to_vec();
        }
        self.havoc(input, other)
    }

    /// `input` with one to four changes of any kind.
    fn havoc(&mut self, input: &[u8], other: &[u8]) -> Vec<u8> {
        let mut data = input.to_vec();
        let count = 1 + self.rng.below(4);
        for _ in 0..count {
            let op = self.pick_op();
            self.apply(op, &mut data, other);
            data.truncate(self.max_len);
        }
        data
    }

    /// A random input: bytes, or format words and numbers strung together.
    pub fn random_input(&mut self) -> Vec<u8> {
        let len = self.rng.below(512.min(self.max_len + 1));
        if self.rng.below(2) == 0 || self.tokens.is_empty() {
            return (0..len).map(|_| self.rng.next_u64() as u8).collect();
        }
        let mut out = Vec::new();
        while out.len() < len {
            let word = match self.rng.below(3) {
                0 => NUMBERS[self.rng.below(NUMBERS.len())].as_bytes(),
                _ => self.tokens[self.rng.below(self.tokens.len())],
            };
            out.extend(word);
        }
        out.truncate(self.max_len);
        out
    }

    fn pick_op(&mut self) -> Op {
        let weight = |op: Op, w: u32| if op == Op::Nest && self.json { 4 } else { w };
        let total: u32 = OPS.iter().map(|&(op, w)| weight(op, w)).sum();
        let mut at = self.rng.below(total as usize) as u32;
        for (op, w) in OPS {
            let w = weight(op, w);
            if at < w {
                return op;
            }
            at -= w;
        }
        Op::FlipBit
    }

    /// A position in `0..len` (0 when empty).
    fn pos(&mut self, len: usize) -> usize {
        self.rng.below(len.max(1))
    }

    /// A range length in `1..=max` (biased to short ranges).
    fn range_len(&mut self, max: usize) -> usize {
        let cap = if self.rng.below(4) == 0 { max } else { max.min(16) };
        1 + self.rng.below(cap.max(1))
    }

    fn apply(&mut self, op: Op, data: &mut Vec<u8>, other: &[u8]) {
        if data.is_empty() && matches!(op, Op::FlipBit | Op::InterestingByte | Op::RandomByte | Op::DeleteRange) {
            data.push(self.rng.next_u64() as u8);
            return;
        }
        match op {
            Op::FlipBit => {
                let at = self.pos(data.len());
                data[at] ^= 1 << self.rng.below(8);
            }
            Op::InterestingByte => {
                let at = self.pos(data.len());
                data[at] = INTERESTING_BYTES[self.rng.below(INTERESTING_BYTES.len())];
            }
            Op::RandomByte => {
                let at = self.pos(data.len());
                data[at] = self.rng.next_u64() as u8;
            }
            Op::InsertBytes => {
                let at = self.pos(data.len() + 1);
                let len = self.range_len(64);
                let bytes: Vec<u8> = (0..len).map(|_| self.rng.next_u64() as u8).collect();
                data.splice(at..at, bytes);
            }
            Op::DeleteRange => {
                let at = self.pos(data.len());
                let len = self.range_len(data.len() - at);
                data.drain(at..at + len);
            }
            Op::DuplicateRange => self.duplicate(data),
            Op::Truncate => {
                let len = self.pos(data.len() + 1);
                data.truncate(len);
            }
            Op::Splice => {
                let cut = self.pos(data.len() + 1);
                let from = self.pos(other.len() + 1);
                data.truncate(cut);
                data.extend(&other[from.min(other.len())..]);
            }
            Op::Boundary => self.boundary(data),
            Op::Number => self.number(data),
            Op::Token => {
                if let Some(&token) = self.tokens.get(self.pos(self.tokens.len())) {
                    let at = self.pos(data.len() + 1);
                    data.splice(at..at, token.iter().copied());
                }
            }
            Op::Nest => self.nest(data),
            Op::RepeatLine => self.repeat_line(data),
        }
    }

    /// Copies a range of `data` to another place, up to eight times over.
    fn duplicate(&mut self, data: &mut Vec<u8>) {
        if data.is_empty() {
            return;
        }
        let start = self.pos(data.len());
        let len = self.range_len(data.len() - start);
        let times = (1 + self.rng.below(8)).min(self.max_len / len + 1);
        let copy = data[start..start + len].repeat(times);
        let at = self.pos(data.len() + 1);
        data.splice(at..at, copy);
    }

    /// Writes a boundary integer over 2, 4 or 8 bytes, little- or big-endian.
    fn boundary(&mut self, data: &mut Vec<u8>) {
        let width = [2, 4, 8][self.rng.below(3)];
        let value = BOUNDARIES[self.rng.below(BOUNDARIES.len())];
        // The value's low `width` bytes, in either byte order.
        let (le, be) = (value.to_le_bytes(), value.to_be_bytes());
        let field = if self.rng.below(2) == 0 { &le[..width] } else { &be[8 - width..] };
        if data.len() < width {
            data.resize(width, 0);
        }
        let at = self.pos(data.len() - width + 1);
        data[at..at + width].copy_from_slice(field);
    }

    /// Replaces a run of ASCII digits (with its sign, point and exponent) by a number from
    /// [`NUMBERS`]; with no digits, inserts one.
    fn number(&mut self, data: &mut Vec<u8>) {
        let runs = digit_runs(data);
        let replacement = NUMBERS[self.rng.below(NUMBERS.len())].as_bytes().to_vec();
        match runs.get(self.pos(runs.len())) {
            Some(&(start, end)) => {
                data.splice(start..end, replacement);
            }
            _ => {
                let at = self.pos(data.len() + 1);
                data.splice(at..at, replacement);
            }
        }
    }

    /// Inserts a deep nesting of JSON arrays or objects, closed or not.
    fn nest(&mut self, data: &mut Vec<u8>) {
        let open = NESTINGS[self.rng.below(NESTINGS.len())];
        let depth = DEPTHS[self.rng.below(DEPTHS.len())].min(self.max_len / open.len().max(1));
        let mut text = open.repeat(depth);
        if self.rng.below(2) == 0 {
            let close = if open == "[" {
                "]"
            } else if open == "[{\"a\":" {
                "}]"
            } else {
                "}"
            };
            text.push('0');
            text.push_str(&close.repeat(depth));
        }
        let at = self.pos(data.len() + 1);
        data.splice(at..at, text.into_bytes());
    }

    /// Repeats one line of `data` many times.
    fn repeat_line(&mut self, data: &mut Vec<u8>) {
        let starts: Vec<usize> = std::iter::once(0)
            .chain(data.iter().enumerate().filter(|(_, &b)| b == b'\n').map(|(i, _)| i + 1))
            .collect();
        let start = starts[self.pos(starts.len())];
        let end = data[start..].iter().position(|&b| b == b'\n').map_or(data.len(), |p| start + p + 1);
        let mut line = data[start..end].to_vec();
        if line.last() != Some(&b'\n') {
            line.push(b'\n');
        }
        // No more copies than fit in the longest input.
        let times = [2, 10, 100, 1000][self.rng.below(4)].min(self.max_len / line.len() + 1);
        data.splice(end..end, line.repeat(times));
    }
}

/// The spans of numbers written in ASCII: digits with a sign, a point and an exponent.
fn digit_runs(data: &[u8]) -> Vec<(usize, usize)> {
    let mut runs = Vec::new();
    let mut i = 0;
    while i < data.len() {
        if !data[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let start = if i > 0 && data[i - 1] == b'-' { i - 1 } else { i };
        while i < data.len() && (data[i].is_ascii_digit() || matches!(data[i], b'.' | b'e' | b'E')) {
            i += 1;
        }
        runs.push((start, i));
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mutations_are_repeatable_and_bounded() {
        let seed = b"label,a,b\n1,2,3\n{\"x\": [1, 2.5e3]}".to_vec();
        let run = |s: u64| {
            let mut m = Mutator::new(s, 4096, &[b"label", b","], true);
            (0..2000).map(|_| m.mutate(&seed, b"other input 42")).collect::<Vec<_>>()
        };
        let (a, b) = (run(7), run(7));
        assert_eq!(a, b);
        assert!(a.iter().all(|m| m.len() <= 4096));
        assert!(a.iter().any(|m| m.windows(5).any(|w| w == b"[[[[[")), "nesting happens");
        assert!(a.iter().any(|m| m.windows(3).any(|w| w == b"NaN")), "numbers are replaced");
        assert!(a.iter().filter(|m| *m != &seed).count() > 1900);
        let mut two = Mutator::new(3, 4096, &[], false).two_files(true);
        let (a, b) = (b"first file".as_slice(), b"second".as_slice());
        let kept = (0..200).map(|_| two.mutate(&join2(a, b), b"")).filter(|m| split2(m).0 == a || split2(m).1 == b);
        assert!(kept.count() > 100, "one file changes, the other stays");
        let mut m = Mutator::new(1, 16, &[], false);
        assert!((0..100).all(|_| m.random_input().len() <= 16 && m.mutate(b"", b"").len() <= 16));
    }

    #[test]
    fn digit_runs_take_signs_points_and_exponents() {
        assert_eq!(digit_runs(b"a -12.5e3,7"), [(2, 9), (10, 11)]);
    }
}
