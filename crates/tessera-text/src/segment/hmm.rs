//! The BMES hidden Markov model that segments runs of characters missing from the dictionary.

use std::sync::OnceLock;

use crate::hash::FastMap;

/// Log-probability used for impossible events (jieba's `MIN_FLOAT`).
const MIN_LOG: f64 = -3.14e100;

const B: usize = 0;
const E: usize = 1;
const M: usize = 2;
const S: usize = 3;

/// States that may precede each state, indexed by state.
const PREVIOUS: [[usize; 2]; 4] = [[E, S], [B, M], [M, B], [S, E]];

static MODEL_TEXT: &str = include_str!("../../data/jieba/hmm.model");

/// Start, transition and emission log-probabilities, in jieba's `hmm.model` layout.
pub(crate) struct HmmModel {
    start: [f64; 4],
    trans: [[f64; 4]; 4],
    emit: FastMap<char, [f64; 4]>,
}

fn parse_row(line: &str) -> Option<[f64; 4]> {
    let mut row = [0.0; 4];
    let mut parts = line.split_whitespace();
    for v in &mut row {
        *v = parts.next()?.parse().ok()?;
    }
    Some(row)
}

fn parse_model(text: &str) -> Option<HmmModel> {
    let mut lines = text.lines().filter(|l| !l.starts_with('#') && !l.trim().is_empty());
    let start = parse_row(lines.next()?)?;
    let mut trans = [[0.0; 4]; 4];
    for row in &mut trans {
        *row = parse_row(lines.next()?)?;
    }
    let mut emit: FastMap<char, [f64; 4]> = FastMap::default();
    for state in 0..4 {
        for entry in lines.next()?.split(',') {
            let (ch, p) = entry.rsplit_once(':')?;
            let mut chars = ch.chars();
            let (Some(c), None) = (chars.next(), chars.next()) else { continue };
            emit.entry(c).or_insert([MIN_LOG; 4])[state] = p.parse().ok()?;
        }
    }
    Some(HmmModel { start, trans, emit })
}

/// The model shipped with the crate (jieba's).
pub(crate) fn model() -> &'static HmmModel {
    static MODEL: OnceLock<HmmModel> = OnceLock::new();
    MODEL.get_or_init(|| match parse_model(MODEL_TEXT) {
        Some(m) => m,
        None => unreachable!("the embedded hmm.model is malformed"),
    })
}

/// Reusable buffers for Viterbi decoding.
#[derive(Default)]
pub(crate) struct Viterbi {
    score: Vec<[f64; 4]>,
    back: Vec<[u8; 4]>,
    chars: Vec<(usize, char)>,
    path: Vec<usize>,
}

#[inline]
fn better(a: (f64, usize), b: (f64, usize)) -> bool {
    // Tuple order as in jieba: higher score, then the later state in B, E, M, S order.
    a.0 > b.0 || (a.0 == b.0 && a.1 > b.1)
}

impl Viterbi {
    /// Cuts `text` (two or more characters, all in the model's domain) into words.
    pub fn cut<'a>(&mut self, text: &'a str, out: &mut Vec<&'a str>) {
        let hmm = model();
        self.chars.clear();
        self.chars.extend(text.char_indices());
        let n = self.chars.len();
        if n == 0 {
            return;
        }
        self.score.clear();
        self.back.clear();
        let emit_of = |c: char| hmm.emit.get(&c).copied().unwrap_or([MIN_LOG; 4]);
        let e0 = emit_of(self.chars[0].1);
        let mut first = [0.0; 4];
        for y in 0..4 {
            first[y] = hmm.start[y] + e0[y];
        }
        self.score.push(first);
        self.back.push([0; 4]);
        for t in 1..n {
            let em = emit_of(self.chars[t].1);
            let prev = self.score[t - 1];
            let mut row = [0.0; 4];
            let mut from = [0u8; 4];
            for y in 0..4 {
                let mut best = (f64::NEG_INFINITY, usize::MAX);
                for &y0 in &PREVIOUS[y] {
                    let cand = (prev[y0] + hmm.trans[y0][y] + em[y], y0);
                    if best.1 == usize::MAX || better(cand, best) {
                        best = cand;
                    }
                }
                row[y] = best.0;
                from[y] = best.1 as u8;
            }
            self.score.push(row);
            self.back.push(from);
        }
        let last = self.score[n - 1];
        let mut state = if better((last[S], S), (last[E], E)) { S } else { E };
        let path = &mut self.path;
        path.clear();
        path.resize(n, 0);
        for t in (0..n).rev() {
            path[t] = state;
            state = self.back[t][state] as usize;
        }
        let mut begin = 0;
        let mut next_start = 0;
        for (t, &(pos, c)) in self.chars.iter().enumerate() {
            let end = pos + c.len_utf8();
            match path[t] {
                B => begin = pos,
                E => {
                    out.push(&text[begin..end]);
                    next_start = end;
                }
                S => {
                    out.push(&text[pos..end]);
                    next_start = end;
                }
                _ => {}
            }
        }
        if next_start < text.len() {
            out.push(&text[next_start..]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_parses_and_cuts_like_jieba() {
        let m = model();
        assert!(m.emit.len() > 5000);
        let mut v = Viterbi::default();
        let mut out = Vec::new();
        v.cut("小明硕士毕业于中国科学院计算所", &mut out);
        assert_eq!(out, ["小明", "硕士", "毕业于", "中国", "科学院", "计算", "所"]);
    }
}
