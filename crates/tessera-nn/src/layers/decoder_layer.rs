//! `TransformerDecoderLayer`, PyTorch's decoder block, whole-sequence and step by step.

use super::attention::{AttentionMask, KeyValues, MultiheadAttention};
use super::decoder_cache::DecoderLayerCache;
use super::transformer::{check_config, feed_forward, Parts, TransformerConfig};
use super::{Dropout, LayerNorm, Linear};
use crate::{Error, Module, Result};
use tessera_autograd::Var;
use tessera_tensor::{DType, Device, Generator, Tensor};

/// What a decoder layer hides: in its own sequence and in the encoder's output.
#[derive(Debug, Clone, Copy, Default)]
pub struct DecoderMasks<'a> {
    /// The self-attention's mask (PyTorch's `tgt_key_padding_mask`, `tgt_is_causal`).
    pub target: AttentionMask<'a>,
    /// The cross-attention's mask (`memory_key_padding_mask`, `memory_is_causal`).
    pub memory: AttentionMask<'a>,
}

/// Self-attention, attention over an encoder's output (`memory`) and a feed-forward, each with
/// a residual connection and a LayerNorm, as PyTorch's `TransformerDecoderLayer`: parameters
/// `self_attn.*`, `multihead_attn.*`, `linear1.*`, `linear2.*`, `norm1.*` to `norm3.*`.
///
/// Besides [`decode`](Self::decode) over a whole target, it decodes step by step from a
/// [`DecoderLayerCache`] ([`memory_cache`](Self::memory_cache), then
/// [`decode_step`](Self::decode_step)), projecting each position's keys and values once.
#[derive(Module)]
pub struct TransformerDecoderLayer {
    self_attn: MultiheadAttention,
    multihead_attn: MultiheadAttention,
    linear1: Linear,
    dropout: Dropout,
    linear2: Linear,
    norm1: LayerNorm,
    norm2: LayerNorm,
    norm3: LayerNorm,
    dropout1: Dropout,
    dropout2: Dropout,
    dropout3: Dropout,
    #[module(skip)]
    cfg: TransformerConfig,
}

impl TransformerDecoderLayer {
    /// A layer initialised as PyTorch's (dropout masks seeded from `g`).
    pub fn new(g: &mut Generator, cfg: TransformerConfig, dtype: DType, device: &Device) -> Result<Self> {
        check_config(&cfg)?;
        let mut p = Parts { g, cfg, dtype, device: *device };
        Ok(TransformerDecoderLayer {
            self_attn: p.attention()?,
            multihead_attn: p.attention()?,
            linear1: p.linear(cfg.d_model, cfg.dim_feedforward)?,
            dropout: p.dropout()?,
            linear2: p.linear(cfg.dim_feedforward, cfg.d_model)?,
            norm1: p.norm()?,
            norm2: p.norm()?,
            norm3: p.norm()?,
            dropout1: p.dropout()?,
            dropout2: p.dropout()?,
            dropout3: p.dropout()?,
            cfg,
        })
    }

    /// The layer over `tgt`, attending to `memory` (the encoder's output), with `masks`.
    pub fn decode(&self, tgt: &Var, memory: &Var, masks: DecoderMasks<'_>) -> Result<Var> {
        self.block(
            tgt,
            |x| self.self_attn.attend(x, x, x, masks.target),
            |x| self.multihead_attn.attend(x, memory, memory, masks.memory),
        )
    }

    /// [`decode`](Self::decode), also returning the cross-attention's weights per head
    /// `[batch, heads, tgt_len, mem_len]` (without gradients), for attention maps.
    pub fn decode_with_weights(&self, tgt: &Var, memory: &Var, masks: DecoderMasks<'_>) -> Result<(Var, Tensor)> {
        let mut weights = None;
        let out = self.block(
            tgt,
            |x| self.self_attn.attend(x, x, x, masks.target),
            |x| {
                weights = Some(self.multihead_attn.attention_weights_per_head(x, memory, masks.memory)?);
                self.multihead_attn.attend(x, memory, memory, masks.memory)
            },
        )?;
        let weights = weights.ok_or_else(|| Error::Config("decode_with_weights: no cross-attention ran".into()))?;
        Ok((out, weights))
    }

    /// A cache for decoding step by step over `memory` (configured layout): the
    /// cross-attention's keys and values of the memory, computed once, and no position yet.
    pub fn memory_cache(&self, memory: &Var) -> Result<DecoderLayerCache> {
        Ok(DecoderLayerCache { self_kv: None, memory_kv: self.multihead_attn.key_values(memory, memory)? })
    }

    /// The layer over new target positions `tgt` (configured layout) only: they attend
    /// causally to the positions in `cache` and to each other, and to the cached memory with
    /// `memory_mask` (key padding only: a causal memory mask is refused). On success the cache
    /// grows by them; on error it is left as it was. Equals [`decode`](Self::decode) over the
    /// whole prefix with a causal target mask, at the new positions.
    pub fn decode_step(&self, tgt: &Var, cache: &mut DecoderLayerCache, memory_mask: AttentionMask<'_>) -> Result<Var> {
        if memory_mask.causal {
            return Err(Error::Config("decode_step: a causal memory mask is not supported".into()));
        }
        let causal = AttentionMask { key_padding: None, causal: true };
        let mut grown: Option<KeyValues> = None;
        let out = self.block(
            tgt,
            |x| {
                let new = self.self_attn.key_values(x, x)?;
                let all = match &cache.self_kv {
                    Some(past) => past.append(&new)?,
                    None => new,
                };
                let out = self.self_attn.attend_key_values(x, &all, causal)?;
                grown = Some(all);
                Ok(out)
            },
            |x| self.multihead_attn.attend_key_values(x, &cache.memory_kv, memory_mask),
        )?;
        if grown.is_some() {
            cache.self_kv = grown;
        }
        Ok(out)
    }

    /// The three residual sub-blocks around the given self- and cross-attention, in the
    /// configured norm order.
    fn block(
        &self,
        tgt: &Var,
        self_attention: impl FnOnce(&Var) -> Result<Var>,
        cross_attention: impl FnOnce(&Var) -> Result<Var>,
    ) -> Result<Var> {
        let sa = |x: &Var| self.dropout1.forward(&self_attention(x)?);
        let mha = |x: &Var| self.dropout2.forward(&cross_attention(x)?);
        let ff =
            |x: &Var| self.dropout3.forward(&feed_forward(&self.cfg, &self.linear1, &self.dropout, &self.linear2, x)?);
        if self.cfg.norm_first {
            let x = tgt.add(&sa(&self.norm1.forward(tgt)?)?)?;
            let x = x.add(&mha(&self.norm2.forward(&x)?)?)?;
            Ok(x.add(&ff(&self.norm3.forward(&x)?)?)?)
        } else {
            let x = self.norm1.forward(&tgt.add(&sa(tgt)?)?)?;
            let x = self.norm2.forward(&x.add(&mha(&x)?)?)?;
            self.norm3.forward(&x.add(&ff(&x)?)?)
        }
    }
}

impl Module for TransformerDecoderLayer {
    /// The layer over `x` as its own memory, causal self-attention (a decoder-only block).
    fn forward(&self, x: &Var) -> Result<Var> {
        let causal = AttentionMask { causal: true, ..AttentionMask::default() };
        self.decode(x, x, DecoderMasks { target: causal, memory: AttentionMask::default() })
    }

    fn describe(&self) -> String {
        format!("TransformerDecoderLayer(d_model={}, nhead={})", self.cfg.d_model, self.cfg.nhead)
    }
}
