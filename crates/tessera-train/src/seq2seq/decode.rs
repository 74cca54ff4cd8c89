//! Decoding: greedy, and batched beam search with Wu et al. (2016)'s length penalty.

use super::batch::{SourceBatch, Specials};
use super::model::Seq2seq;
use crate::{Error, Result};
use std::cmp::Ordering;
use tessera_autograd::no_grad;
use tessera_tensor::{Device, Tensor};

/// How beam search runs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BeamConfig {
    /// Hypotheses kept per source (1 decodes greedily).
    pub width: usize,
    /// Wu et al.'s α: hypotheses are ranked by `log p / ((5 + length) / 6)^α` (0 ranks by `log p`
    /// alone, which favours short outputs).
    pub length_penalty: f64,
    /// Tokens generated at most per source (`<eos>` included).
    pub max_len: usize,
}

impl Default for BeamConfig {
    /// Width 4, α 0.6 (Wu et al.'s choice), at most 100 tokens.
    fn default() -> Self {
        BeamConfig { width: 4, length_penalty: 0.6, max_len: 100 }
    }
}

/// A decoded output.
#[derive(Debug, Clone, PartialEq)]
pub struct Hypothesis {
    /// The tokens, without `<bos>` and `<eos>`.
    pub tokens: Vec<u32>,
    /// The sum of the tokens' log-probabilities (`<eos>` included when it was reached).
    pub log_prob: f64,
    /// What beams are ranked by: `log_prob` over the length penalty.
    pub score: f64,
    /// Whether `<eos>` ended it (else the length limit did).
    pub finished: bool,
}

/// Wu et al.'s length penalty `((5 + length) / 6)^α`.
pub fn length_penalty(length: usize, alpha: f64) -> f64 {
    ((5.0 + length as f64) / 6.0).powf(alpha)
}

/// Log-probabilities `[rows, vocab]` of the model's next token, on the host.
fn next_log_probs<M: Seq2seq>(
    model: &M,
    memory: &M::Memory,
    state: &mut M::State,
    tokens: &[u32],
    device: &Device,
) -> Result<Vec<f32>> {
    let input = Tensor::from_vec(tokens.to_vec(), [tokens.len()], &Device::Cpu)?.to_device(device)?;
    let logits = model.decode_step(memory, state, &input)?;
    Ok(logits.tensor().log_softmax(-1)?.to_dtype(tessera_tensor::DType::F32)?.to_vec::<f32>()?)
}

/// Greedy decoding of a batch: at every step each source's most probable next token, until
/// `<eos>` or `max_len` tokens. Runs without recording a graph; put the model in evaluation
/// mode first.
pub fn greedy<M: Seq2seq>(
    model: &M,
    source: &SourceBatch,
    specials: Specials,
    max_len: usize,
) -> Result<Vec<Hypothesis>> {
    no_grad(|| {
        let device = *source.ids.device();
        let memory = model.encode(source)?;
        let mut state = model.start(&memory)?;
        let vocab = model.target_vocab();
        let batch = source.batch();
        let mut out: Vec<Hypothesis> =
            (0..batch).map(|_| Hypothesis { tokens: Vec::new(), log_prob: 0.0, score: 0.0, finished: false }).collect();
        let mut tokens = vec![specials.bos; batch];
        for _ in 0..max_len {
            if out.iter().all(|h| h.finished) {
                break;
            }
            let lp = next_log_probs(model, &memory, &mut state, &tokens, &device)?;
            for (b, h) in out.iter_mut().enumerate().filter(|(_, h)| !h.finished) {
                let row = &lp[b * vocab..(b + 1) * vocab];
                let best = argmax(row);
                h.log_prob += row[best] as f64;
                if best as u32 == specials.eos {
                    h.finished = true;
                } else {
                    h.tokens.push(best as u32);
                }
                tokens[b] = best as u32;
            }
        }
        for h in &mut out {
            h.score = h.log_prob;
        }
        Ok(out)
    })
}

/// The index of the largest value (the first of equals); NaN never wins.
fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in row.iter().enumerate() {
        if v > row[best] || row[best].is_nan() {
            best = i;
        }
    }
    best
}

/// One surviving hypothesis of a source.
#[derive(Clone)]
struct Beam {
    tokens: Vec<u32>,
    log_prob: f64,
}

/// The widest beam [`beam_search`] runs: each beam is a row of the decoder's batch (its memory,
/// state and logits), so the width multiplies what a step holds.
pub const MAX_BEAM_WIDTH: usize = 1000;

/// Beam search over a batch: every source keeps the `width` most probable prefixes; a prefix
/// whose `<eos>` is among the `width` best extensions is set aside as finished, ranked by its
/// length-penalised score (the `width` best are kept); a source is done once `width`
/// hypotheses have finished and none of its remaining prefixes is more probable than the least
/// probable of them (exact for α = 0: a prefix's probability only falls; with α > 0 a longer
/// output's smaller penalty is not waited for), or at `max_len`, where its unfinished prefixes
/// compete too. Returns each source's best hypothesis. Width 1 gives exactly what
/// [`greedy`] gives. Runs without recording a graph; put the model in evaluation mode first.
pub fn beam_search<M: Seq2seq>(
    model: &M,
    source: &SourceBatch,
    specials: Specials,
    cfg: &BeamConfig,
) -> Result<Vec<Hypothesis>> {
    let k = cfg.width;
    if k == 0 || k > MAX_BEAM_WIDTH {
        return Err(Error::Config(format!("beam width {k}: use 1 to {MAX_BEAM_WIDTH}")));
    }
    no_grad(|| {
        let device = *source.ids.device();
        let batch = source.batch();
        let vocab = model.target_vocab();
        let rows: Vec<i64> = (0..batch * k).map(|r| (r / k) as i64).collect();
        let memory = model.select_memory(&model.encode(source)?, &Tensor::from_vec(rows, [batch * k], &device)?)?;
        let mut state = model.start(&memory)?;
        // Every source starts from one prefix (`<bos>`): its other beams stay empty until the
        // first step has produced k candidates.
        let mut beams: Vec<Vec<Beam>> = vec![vec![Beam { tokens: Vec::new(), log_prob: 0.0 }]; batch];
        let mut finished: Vec<Vec<Hypothesis>> = vec![Vec::new(); batch];
        let mut tokens = vec![specials.bos; batch * k];
        for step in 0..cfg.max_len {
            let lp = next_log_probs(model, &memory, &mut state, &tokens, &device)?;
            let mut parents: Vec<i64> = Vec::with_capacity(batch * k);
            for b in 0..batch {
                let mut next = Vec::with_capacity(k);
                if !beams[b].is_empty() {
                    let candidates = best_candidates(&beams[b], &lp[b * k * vocab..(b + 1) * k * vocab], vocab, 2 * k);
                    for (rank, (beam, token, log_prob)) in candidates.into_iter().enumerate() {
                        if next.len() == k {
                            break;
                        }
                        if token == specials.eos {
                            // Only an ending among the k best extensions counts: one ranked
                            // below k alive prefixes would not have been in a beam of k.
                            if rank < k {
                                let tokens = beams[b][beam].tokens.clone();
                                let score = log_prob / length_penalty(step + 1, cfg.length_penalty);
                                keep_best(&mut finished[b], Hypothesis { tokens, log_prob, score, finished: true }, k);
                            }
                        } else {
                            let mut t = beams[b][beam].tokens.clone();
                            t.push(token);
                            next.push((beam, Beam { tokens: t, log_prob }));
                        }
                    }
                }
                // Done once k hypotheses have ended and no prefix left is more probable than the
                // least probable of them (a prefix's probability can only fall as it grows).
                let least = finished[b].iter().map(|h| h.log_prob).fold(f64::INFINITY, f64::min);
                if finished[b].len() >= k && next.iter().all(|(_, beam)| beam.log_prob <= least) {
                    next.clear();
                }
                for j in 0..k {
                    let (parent, token) = match next.get(j) {
                        Some((beam, new)) => (*beam, *new.tokens.last().unwrap_or(&specials.pad)),
                        None => (0, specials.pad),
                    };
                    parents.push((b * k + parent) as i64);
                    tokens[b * k + j] = token;
                }
                beams[b] = next.into_iter().map(|(_, beam)| beam).collect();
            }
            if beams.iter().all(Vec::is_empty) {
                break;
            }
            state = model.select_state(&state, &Tensor::from_vec(parents, [batch * k], &device)?)?;
        }
        Ok(beams
            .into_iter()
            .zip(finished)
            .map(|(alive, mut done)| {
                for beam in alive {
                    let score = beam.log_prob / length_penalty(beam.tokens.len(), cfg.length_penalty);
                    done.push(Hypothesis { tokens: beam.tokens, log_prob: beam.log_prob, score, finished: false });
                }
                // Stable: among equal scores the first found (the more probable prefix) wins.
                done.sort_by(|a, b| b.score.partial_cmp(&a.score).unwrap_or(Ordering::Equal));
                done.into_iter().next().unwrap_or(Hypothesis {
                    tokens: Vec::new(),
                    log_prob: f64::NEG_INFINITY,
                    score: f64::NEG_INFINITY,
                    finished: false,
                })
            })
            .collect())
    })
}

/// Adds `hyp` to `finished`, keeping the `k` best by score.
fn keep_best(finished: &mut Vec<Hypothesis>, hyp: Hypothesis, k: usize) {
    finished.push(hyp);
    if finished.len() > k {
        // Stable: of equal scores the earlier found stays.
        finished.sort_by(|a, b| b.score.partial_cmp(&a.score).unwrap_or(Ordering::Equal));
        finished.truncate(k);
    }
}

/// The `n` best extensions `(beam, token, log_prob)` of a source's beams, best first (ties:
/// the earlier beam, then the smaller token id, as a greedy argmax breaks them).
fn best_candidates(beams: &[Beam], lp: &[f32], vocab: usize, n: usize) -> Vec<(usize, u32, f64)> {
    let mut all: Vec<(usize, u32, f64)> = Vec::with_capacity(beams.len() * vocab);
    for (j, beam) in beams.iter().enumerate() {
        for (v, &p) in lp[j * vocab..(j + 1) * vocab].iter().enumerate() {
            if !p.is_nan() {
                all.push((j, v as u32, beam.log_prob + p as f64));
            }
        }
    }
    let order = |a: &(usize, u32, f64), b: &(usize, u32, f64)| {
        b.2.partial_cmp(&a.2).unwrap_or(Ordering::Equal).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1))
    };
    if all.len() > n {
        all.select_nth_unstable_by(n - 1, order);
        all.truncate(n);
    }
    all.sort_by(order);
    all
}
