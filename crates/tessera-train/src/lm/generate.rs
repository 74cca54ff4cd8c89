//! Sampling text from a trained language model.

use crate::rng::SplitMix;
use crate::{Error, Result};
use std::ops::ControlFlow;
use tessera_autograd::{no_grad, Var};
use tessera_nn::Module;

/// A model [`generate`] can sample from: the next-token logits after some ids, with a state
/// carried from one call to the next (an LSTM's hidden and cell states; a model without one
/// can carry the ids it has read).
pub trait NextToken: Module {
    /// What is carried from one call to the next.
    type State;

    /// The number of ids the model predicts.
    fn vocab_size(&self) -> usize;

    /// Logits `[..., vocab]` whose last row predicts the id after the sequence `ids` read after
    /// `state` (from the start when `None`), and the state after the last id. (An LSTM gives a
    /// row per id; a GPT a row per position of its context window.)
    fn next_token_logits(&self, ids: &[u32], state: Option<&Self::State>) -> Result<(Var, Self::State)>;
}

/// How the next token is drawn from the model's distribution.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Sampling {
    /// Divides the logits: below 1 sharpens, above 1 flattens; 0 always takes the most likely
    /// token (greedy).
    pub temperature: f64,
    /// Draw only among the `k` most likely tokens.
    pub top_k: Option<usize>,
    /// Draw only among the most likely tokens whose probabilities (after the temperature and
    /// `top_k`) add up to at least `p`, in `(0, 1]` (nucleus sampling).
    pub top_p: Option<f64>,
    /// Seed of the draws: the same seed, model and prompt give the same text.
    pub seed: u64,
}

impl Default for Sampling {
    fn default() -> Self {
        Sampling { temperature: 1.0, top_k: None, top_p: None, seed: 0 }
    }
}

/// Picks a token from `logits` (one row over the vocabulary).
fn pick(logits: &[f64], s: &Sampling, rng: &mut SplitMix) -> u32 {
    let argmax = || logits.iter().enumerate().fold(0, |best, (i, &v)| if v > logits[best] { i } else { best });
    if s.temperature == 0.0 || s.top_k == Some(1) {
        return argmax() as u32;
    }
    let mut order: Vec<usize> = (0..logits.len()).collect();
    if s.top_k.is_some() || s.top_p.is_some() {
        order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
    }
    if let Some(k) = s.top_k {
        order.truncate(k.max(1));
    }
    let max = order.iter().map(|&i| logits[i]).fold(f64::NEG_INFINITY, f64::max);
    let mut weights: Vec<f64> = order.iter().map(|&i| ((logits[i] - max) / s.temperature).exp()).collect();
    if let Some(p) = s.top_p {
        // The shortest most-likely prefix holding at least p of the probability.
        let need = p * weights.iter().sum::<f64>();
        let mut held = 0.0;
        let keep = weights.iter().position(|w| {
            held += w;
            held >= need
        });
        let keep = keep.map_or(weights.len(), |i| i + 1);
        order.truncate(keep);
        weights.truncate(keep);
    }
    let mut r = rng.unit() * weights.iter().sum::<f64>();
    for (&i, w) in order.iter().zip(&weights) {
        if r < *w {
            return i as u32;
        }
        r -= w;
    }
    order[order.len() - 1] as u32
}

/// Continues `prompt` (token ids, at least one) by `tokens` sampled tokens and returns them
/// (without the prompt). The model runs in evaluation mode (no dropout) and records no graph;
/// it is put back in training mode at the end.
///
/// ```
/// use tessera_tensor::Device;
/// use tessera_train::lm::{generate, LstmLm, LstmLmConfig, Sampling};
/// let cfg = LstmLmConfig { vocab: 10, embed: 4, hidden: 8, layers: 1, dropout: 0.0, seed: 0 };
/// let lm = LstmLm::new(&cfg, &Device::Cpu)?;
/// let s = Sampling { temperature: 0.8, top_k: Some(5), top_p: None, seed: 7 };
/// let a = generate(&lm, &[1, 2], 6, &s)?;
/// assert_eq!(a.len(), 6);
/// assert_eq!(a, generate(&lm, &[1, 2], 6, &s)?);
/// # Ok::<(), tessera_train::Error>(())
/// ```
pub fn generate<M: NextToken + ?Sized>(
    model: &M,
    prompt: &[u32],
    tokens: usize,
    sampling: &Sampling,
) -> Result<Vec<u32>> {
    let mut out = Vec::new();
    generate_each(model, prompt, tokens, sampling, |id| {
        out.push(id);
        ControlFlow::Continue(())
    })?;
    Ok(out)
}

/// [`generate`], handing each token to `each` as soon as it is sampled (to print text as it
/// comes), which may end the generation early with `ControlFlow::Break`. Returns how many
/// tokens were sampled. The tokens are those [`generate`] returns for the same arguments.
///
/// ```
/// use std::ops::ControlFlow;
/// use tessera_tensor::Device;
/// use tessera_train::lm::{generate, generate_each, LstmLm, LstmLmConfig, Sampling};
/// let cfg = LstmLmConfig { vocab: 10, embed: 4, hidden: 8, layers: 1, dropout: 0.0, seed: 0 };
/// let lm = LstmLm::new(&cfg, &Device::Cpu)?;
/// let s = Sampling { seed: 3, ..Sampling::default() };
/// let mut first = Vec::new();
/// let sampled = generate_each(&lm, &[1], 50, &s, |id| {
///     first.push(id);
///     if first.len() == 4 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
/// })?;
/// assert_eq!((sampled, first), (4, generate(&lm, &[1], 4, &s)?));
/// # Ok::<(), tessera_train::Error>(())
/// ```
pub fn generate_each<M: NextToken + ?Sized>(
    model: &M,
    prompt: &[u32],
    tokens: usize,
    sampling: &Sampling,
    mut each: impl FnMut(u32) -> ControlFlow<()>,
) -> Result<usize> {
    if prompt.is_empty() {
        return Err(Error::Config("generation needs a prompt of at least one token".into()));
    }
    if !(sampling.temperature >= 0.0 && sampling.temperature.is_finite()) {
        return Err(Error::Config(format!("temperature {} must be finite and >= 0", sampling.temperature)));
    }
    if sampling.top_k == Some(0) {
        return Err(Error::Config("top-k must be at least 1".into()));
    }
    if let Some(p) = sampling.top_p.filter(|p| !(*p > 0.0 && *p <= 1.0)) {
        return Err(Error::Config(format!("top-p {p} must be in (0, 1]")));
    }
    let vocab = model.vocab_size();
    if let Some(&bad) = prompt.iter().find(|&&id| id as usize >= vocab) {
        return Err(Error::Config(format!("prompt token id {bad} is out of range for a vocabulary of {vocab}")));
    }
    let mut rng = SplitMix::new(sampling.seed, 0x6e6e);
    model.set_training(false);
    let result = no_grad(|| -> Result<usize> {
        let mut input = prompt.to_vec();
        let mut state = None;
        for sampled in 1..=tokens {
            let (logits, next) = model.next_token_logits(&input, state.as_ref())?;
            let vocab = logits.dims().last().copied().unwrap_or(0);
            let rows = logits.tensor().reshape([logits.tensor().elem_count() / vocab.max(1), vocab])?;
            let last = rows.narrow(0, rows.dims()[0] - 1, 1)?.to_vec_f64()?;
            let id = pick(&last, sampling, &mut rng);
            if each(id).is_break() {
                return Ok(sampled);
            }
            input = vec![id];
            state = Some(next);
        }
        Ok(tokens)
    });
    model.set_training(true);
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn greedy_and_top_k_pick_from_the_right_tokens() {
        let logits = [0.1, 3.0, 2.9, -1.0];
        let mut rng = SplitMix::new(1, 0);
        assert_eq!(pick(&logits, &Sampling { temperature: 0.0, ..Sampling::default() }, &mut rng), 1);
        let s = Sampling { temperature: 1.0, top_k: Some(2), top_p: None, seed: 0 };
        let mut counts = [0usize; 4];
        for _ in 0..2000 {
            counts[pick(&logits, &s, &mut rng) as usize] += 1;
        }
        assert_eq!(counts[0] + counts[3], 0, "top-2 drew outside the top 2: {counts:?}");
        // exp(3.0) / (exp(3.0) + exp(2.9)) = 0.525
        let share = counts[1] as f64 / 2000.0;
        assert!((share - 0.525).abs() < 0.05, "share of the best token {share}");
    }

    #[test]
    fn top_p_keeps_the_smallest_prefix_holding_p() {
        // Probabilities 0.0278, 0.5056, 0.4575, 0.0093.
        let logits = [0.1, 3.0, 2.9, -1.0];
        let mut rng = SplitMix::new(2, 0);
        let half = Sampling { top_p: Some(0.5), ..Sampling::default() };
        assert!((0..500).all(|_| pick(&logits, &half, &mut rng) == 1));
        let most = Sampling { top_p: Some(0.9), ..Sampling::default() };
        let mut seen = [0usize; 4];
        for _ in 0..2000 {
            seen[pick(&logits, &most, &mut rng) as usize] += 1;
        }
        assert!(seen[0] + seen[3] == 0 && seen[1] > 0 && seen[2] > 0, "{seen:?}");
    }

    #[test]
    fn low_temperature_concentrates_on_the_mode() {
        let logits = [1.0, 2.0, 0.0];
        let mut rng = SplitMix::new(3, 0);
        let cold = Sampling { temperature: 0.05, top_k: None, top_p: None, seed: 0 };
        assert!((0..200).all(|_| pick(&logits, &cold, &mut rng) == 1));
    }
}
