//! Generation with a key-value cache: each new token runs one position through the model, its
//! attention reading the keys and values every earlier position left in the cache.

use super::model::Gpt;
use crate::lm::NextToken;
use crate::Result;
use tessera_autograd::Var;
use tessera_nn::Module;
use tessera_tensor::{Device, Tensor};

/// One layer's keys and values so far, `[batch, heads, positions, head_dim]` each.
#[derive(Default)]
pub struct LayerCache {
    kv: Option<(Tensor, Tensor)>,
}

impl LayerCache {
    /// Appends the keys and values of new positions; returns all of them (graph-free: the
    /// cache serves generation, which records nothing).
    pub(super) fn append(&mut self, k: &Var, v: &Var) -> tessera_nn::Result<(Var, Var)> {
        let (k, v) = match self.kv.take() {
            Some((ck, cv)) => (Tensor::cat(&[ck, k.tensor().clone()], 2)?, Tensor::cat(&[cv, v.tensor().clone()], 2)?),
            None => (k.tensor().contiguous()?, v.tensor().contiguous()?),
        };
        self.kv = Some((k.clone(), v.clone()));
        Ok((Var::constant(k), Var::constant(v)))
    }
}

/// What [`Gpt`] carries from one generation step to the next: the ids in its context window
/// and every layer's cache for them.
pub struct GptState {
    window: Vec<u32>,
    caches: Vec<LayerCache>,
}

impl Gpt {
    /// Runs `window` (at most the context length) from an empty cache.
    fn prime(&self, window: &[u32]) -> Result<(Var, GptState)> {
        let mut caches: Vec<LayerCache> = (0..self.config().n_layer).map(|_| LayerCache::default()).collect();
        let logits = self.run(&ids_tensor(window, self.device())?, 0, Some(&mut caches))?;
        Ok((logits, GptState { window: window.to_vec(), caches }))
    }
}

fn ids_tensor(ids: &[u32], device: &Device) -> Result<Tensor> {
    Ok(Tensor::from_vec(ids.to_vec(), [1, ids.len()], &Device::Cpu)?.to_device(device)?)
}

/// Logits from the cache: a new id costs one position's work while the context has room. Past
/// the context length the window slides (as nanoGPT's sampling crops to the last `block_size`
/// ids): the last `block_size` ids are run again from an empty cache, so a prompt longer than
/// the context reads only its last `block_size` ids.
impl NextToken for Gpt {
    type State = GptState;

    fn vocab_size(&self) -> usize {
        self.config().vocab
    }

    fn next_token_logits(&self, ids: &[u32], state: Option<&GptState>) -> Result<(Var, GptState)> {
        let block = self.config().block_size;
        let Some(state) = state else {
            return self.prime(&ids[ids.len().saturating_sub(block)..]);
        };
        let mut window = state.window.clone();
        window.extend_from_slice(ids);
        if window.len() > block {
            return self.prime(&window[window.len() - block..]);
        }
        // The state is borrowed: the cache is copied (tensors are shared, not duplicated).
        let mut caches: Vec<LayerCache> = state.caches.iter().map(|c| LayerCache { kv: c.kv.clone() }).collect();
        let logits = self.run(&ids_tensor(ids, self.device())?, state.window.len(), Some(&mut caches))?;
        Ok((logits, GptState { window, caches }))
    }
}

/// A [`Gpt`] sampled without a cache: every new token re-runs the whole context window (the
/// last `block_size` ids), as nanoGPT's `generate` does. For comparisons with the cache.
pub struct Uncached<'a>(pub &'a Gpt);

impl tessera_nn::ModuleParts for Uncached<'_> {
    fn parts(&self) -> Vec<(String, tessera_nn::Part<'_>)> {
        self.0.parts()
    }
}

impl Module for Uncached<'_> {
    fn forward(&self, ids: &Var) -> tessera_nn::Result<Var> {
        self.0.forward(ids)
    }

    fn set_training(&self, training: bool) {
        self.0.set_training(training)
    }
}

impl NextToken for Uncached<'_> {
    type State = Vec<u32>;

    fn vocab_size(&self) -> usize {
        self.0.config().vocab
    }

    fn next_token_logits(&self, ids: &[u32], state: Option<&Vec<u32>>) -> Result<(Var, Vec<u32>)> {
        let mut all = state.cloned().unwrap_or_default();
        all.extend_from_slice(ids);
        let window = &all[all.len().saturating_sub(self.0.config().block_size)..];
        let logits = self.0.forward_ids(&ids_tensor(window, self.0.device())?)?;
        Ok((logits, all))
    }
}
