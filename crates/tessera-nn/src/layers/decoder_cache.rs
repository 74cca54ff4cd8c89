//! What a transformer decoder carries between decoding steps.

use super::attention::KeyValues;
use crate::Result;
use tessera_tensor::Tensor;

/// What one decoder layer carries between decoding steps: its self-attention's keys and values
/// so far and the cross-attention's keys and values of the memory (computed once). Made by
/// [`TransformerDecoderLayer::memory_cache`](super::TransformerDecoderLayer::memory_cache).
#[derive(Clone)]
pub struct DecoderLayerCache {
    /// The self-attention's keys and values of the positions decoded so far (`None` before the
    /// first step).
    pub self_kv: Option<KeyValues>,
    /// The cross-attention's keys and values of the memory.
    pub memory_kv: KeyValues,
}

impl DecoderLayerCache {
    /// The batch rows `rows` (1-D, i64 or u32), in that order, of both caches: how beam search
    /// follows its hypotheses.
    pub fn select_rows(&self, rows: &Tensor) -> Result<DecoderLayerCache> {
        Ok(DecoderLayerCache {
            self_kv: self.self_kv.as_ref().map(|kv| kv.select_rows(rows)).transpose()?,
            memory_kv: self.memory_kv.select_rows(rows)?,
        })
    }

    /// The number of positions decoded so far.
    pub fn len(&self) -> usize {
        self.self_kv.as_ref().map_or(0, KeyValues::len)
    }

    /// Whether no position has been decoded yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What a [`TransformerDecoder`](super::TransformerDecoder) carries between decoding steps: one
/// cache per layer. Made by [`TransformerDecoder::start`](super::TransformerDecoder::start).
#[derive(Clone)]
pub struct DecoderCache {
    /// The layers' caches, first layer first.
    pub layers: Vec<DecoderLayerCache>,
}

impl DecoderCache {
    /// The number of positions decoded so far.
    pub fn len(&self) -> usize {
        self.layers.first().map_or(0, DecoderLayerCache::len)
    }

    /// Whether no position has been decoded yet.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The batch rows `rows` (1-D, i64 or u32), in that order, of every layer's cache: how
    /// beam search follows its hypotheses.
    pub fn select_rows(&self, rows: &Tensor) -> Result<DecoderCache> {
        Ok(DecoderCache { layers: self.layers.iter().map(|l| l.select_rows(rows)).collect::<Result<_>>()? })
    }
}
