//! `TransformerEncoder` and `TransformerDecoder`, PyTorch's stacks of transformer layers with
//! an optional final norm.

use super::attention::AttentionMask;
use super::decoder_cache::DecoderCache;
use super::decoder_layer::{DecoderMasks, TransformerDecoderLayer};
use super::transformer::{Parts, TransformerConfig, TransformerEncoderLayer};
use super::LayerNorm;
use crate::{Error, Module, Result};
use tessera_autograd::Var;
use tessera_tensor::{DType, Device, Generator, Tensor};

/// The error for a stack of no layers.
fn check_layers(stack: &str, num_layers: usize) -> Result<()> {
    match num_layers {
        0 => Err(Error::Config(format!("{stack}: needs at least one layer"))),
        _ => Ok(()),
    }
}

/// The final norm, when the stack has one.
fn stack_norm(
    g: &mut Generator,
    cfg: TransformerConfig,
    present: bool,
    dtype: DType,
    device: &Device,
) -> Result<Option<LayerNorm>> {
    present.then(|| Parts { g, cfg, dtype, device: *device }.norm()).transpose()
}

fn apply(norm: &Option<LayerNorm>, x: Var) -> Result<Var> {
    match norm {
        Some(norm) => norm.forward(&x),
        None => Ok(x),
    }
}

/// PyTorch's `nn.TransformerEncoder`: `num_layers` [`TransformerEncoderLayer`]s, parameters
/// `layers.N.*`, and an optional final LayerNorm, `norm.*`. Layouts follow `cfg.batch_first`.
#[derive(Module)]
pub struct TransformerEncoder {
    layers: Vec<TransformerEncoderLayer>,
    norm: Option<LayerNorm>,
}

impl TransformerEncoder {
    /// `num_layers` layers initialised as PyTorch's, followed by a LayerNorm if `final_norm`.
    pub fn new(
        g: &mut Generator,
        cfg: TransformerConfig,
        num_layers: usize,
        final_norm: bool,
        dtype: DType,
        device: &Device,
    ) -> Result<Self> {
        check_layers("TransformerEncoder", num_layers)?;
        let layers =
            (0..num_layers).map(|_| TransformerEncoderLayer::new(g, cfg, dtype, device)).collect::<Result<_>>()?;
        Ok(TransformerEncoder { layers, norm: stack_norm(g, cfg, final_norm, dtype, device)? })
    }

    /// The layers.
    pub fn layers(&self) -> &[TransformerEncoderLayer] {
        &self.layers
    }

    /// The stack over `src`, every layer's self-attention hiding what `mask` says (PyTorch's
    /// `mask`/`is_causal` and `src_key_padding_mask`).
    pub fn encode(&self, src: &Var, mask: AttentionMask<'_>) -> Result<Var> {
        let x = self.layers.iter().try_fold(src.clone(), |x, layer| layer.encode(&x, mask))?;
        apply(&self.norm, x)
    }
}

impl Module for TransformerEncoder {
    /// The stack over `x` without a mask.
    fn forward(&self, x: &Var) -> Result<Var> {
        self.encode(x, AttentionMask::default())
    }

    fn describe(&self) -> String {
        format!("TransformerEncoder(layers={})", self.layers.len())
    }
}

/// PyTorch's `nn.TransformerDecoder`: `num_layers` [`TransformerDecoderLayer`]s, parameters
/// `layers.N.*`, and an optional final LayerNorm, `norm.*`. Layouts follow `cfg.batch_first`.
///
/// Decodes a whole target with [`decode`](Self::decode), or step by step:
/// [`start`](Self::start) over the memory, then [`decode_step`](Self::decode_step) with the
/// new positions only, each layer reading the keys and values of the earlier positions from the
/// [`DecoderCache`].
#[derive(Module)]
pub struct TransformerDecoder {
    layers: Vec<TransformerDecoderLayer>,
    norm: Option<LayerNorm>,
}

impl TransformerDecoder {
    /// `num_layers` layers initialised as PyTorch's, followed by a LayerNorm if `final_norm`.
    pub fn new(
        g: &mut Generator,
        cfg: TransformerConfig,
        num_layers: usize,
        final_norm: bool,
        dtype: DType,
        device: &Device,
    ) -> Result<Self> {
        check_layers("TransformerDecoder", num_layers)?;
        let layers =
            (0..num_layers).map(|_| TransformerDecoderLayer::new(g, cfg, dtype, device)).collect::<Result<_>>()?;
        Ok(TransformerDecoder { layers, norm: stack_norm(g, cfg, final_norm, dtype, device)? })
    }

    /// The layers.
    pub fn layers(&self) -> &[TransformerDecoderLayer] {
        &self.layers
    }

    /// The stack over `tgt`, every layer attending to `memory` (the encoder's output), with
    /// `masks`.
    pub fn decode(&self, tgt: &Var, memory: &Var, masks: DecoderMasks<'_>) -> Result<Var> {
        let x = self.layers.iter().try_fold(tgt.clone(), |x, layer| layer.decode(&x, memory, masks))?;
        apply(&self.norm, x)
    }

    /// [`decode`](Self::decode), also returning each layer's cross-attention weights per head
    /// `[batch, heads, tgt_len, mem_len]` (without gradients), first layer first.
    pub fn decode_with_weights(&self, tgt: &Var, memory: &Var, masks: DecoderMasks<'_>) -> Result<(Var, Vec<Tensor>)> {
        let mut weights = Vec::with_capacity(self.layers.len());
        let mut x = tgt.clone();
        for layer in &self.layers {
            let (y, w) = layer.decode_with_weights(&x, memory, masks)?;
            weights.push(w);
            x = y;
        }
        Ok((apply(&self.norm, x)?, weights))
    }

    /// A cache for decoding step by step over `memory` (configured layout): every layer's
    /// cross-attention keys and values of it, and no position yet.
    pub fn start(&self, memory: &Var) -> Result<DecoderCache> {
        Ok(DecoderCache { layers: self.layers.iter().map(|l| l.memory_cache(memory)).collect::<Result<_>>()? })
    }

    /// The stack over new target positions `tgt_new` (configured layout) only, attending
    /// causally to those in `cache` and to each other, and to the memory with `memory_mask`
    /// (key padding only). On success the cache grows by them; on error it is left as it was.
    /// Equals [`decode`](Self::decode) over the whole prefix with a causal target mask, at the
    /// new positions.
    pub fn decode_step(&self, tgt_new: &Var, cache: &mut DecoderCache, memory_mask: AttentionMask<'_>) -> Result<Var> {
        if cache.layers.len() != self.layers.len() {
            return Err(Error::Config(format!(
                "TransformerDecoder::decode_step: a cache of {} layers for a decoder of {}",
                cache.layers.len(),
                self.layers.len()
            )));
        }
        // The caches hold shared tensors: the copy is cheap, and the cache changes only if
        // every layer succeeds.
        let mut next = cache.clone();
        let mut x = tgt_new.clone();
        for (layer, layer_cache) in self.layers.iter().zip(&mut next.layers) {
            x = layer.decode_step(&x, layer_cache, memory_mask)?;
        }
        let out = apply(&self.norm, x)?;
        *cache = next;
        Ok(out)
    }
}

impl Module for TransformerDecoder {
    /// The stack over `x` as its own memory, causal self-attention.
    fn forward(&self, x: &Var) -> Result<Var> {
        let causal = AttentionMask { causal: true, ..AttentionMask::default() };
        self.decode(x, x, DecoderMasks { target: causal, memory: AttentionMask::default() })
    }

    fn describe(&self) -> String {
        format!("TransformerDecoder(layers={})", self.layers.len())
    }
}
