//! The encoder-decoders' sizes counted from their configurations, before anything is allocated:
//! what `train seq2seq` checks against the machine's memory and `translate` checks against the
//! weights of a checkpoint, so that a size too large is a clear error and not an allocation abort.

use super::any::Seq2seqConfig;
use super::lstm::{AttentionScore, LstmAttentionConfig};
use super::transformer::TransformerSeq2seqConfig;
use crate::memory::{lstm_parameters, MemoryEstimate};

impl LstmAttentionConfig {
    /// The model's size for `batch` pairs of `source_len` and `target_len` tokens, counted
    /// without building it. Parameters are exact; activations count what one training step keeps
    /// per token (gates, states, the attention context and the logits with their gradient) and
    /// the attention scores of every target token against every source token.
    ///
    /// ```
    /// use tessera_train::seq2seq::{AttentionScore, LstmAttentionConfig};
    /// let cfg = LstmAttentionConfig { source_vocab: 12, target_vocab: 9, embed: 8, hidden: 16, layers: 1,
    ///     score: AttentionScore::Dot, dropout: 0.0, pad: 0, seed: 0 };
    /// // Two embeddings, two LSTMs, the combining layer and the output layer.
    /// let lstm = 4.0 * 16.0 * (8.0 + 16.0) + 8.0 * 16.0;
    /// let expected = 12.0 * 8.0 + 9.0 * 8.0 + 2.0 * lstm + 32.0 * 16.0 + 16.0 * 9.0 + 9.0;
    /// assert_eq!(cfg.memory_estimate(1, 1, 1).parameters, expected);
    /// ```
    pub fn memory_estimate(&self, batch: usize, source_len: usize, target_len: usize) -> MemoryEstimate {
        let (e, h, layers) = (self.embed as f64, self.hidden as f64, self.layers as f64);
        let (vs, vt) = (self.source_vocab as f64, self.target_vocab as f64);
        let score = match self.score {
            AttentionScore::Dot => 0.0,
            AttentionScore::General => h * h,
            AttentionScore::Additive => 2.0 * h * h + 2.0 * h,
        };
        let parameters = (vs + vt) * e + 2.0 * lstm_parameters(e, h, layers) + score + 2.0 * h * h + h * vt + vt;
        let (b, s, t) = (batch as f64, source_len as f64, target_len as f64);
        // The additive score keeps `tanh(W₁ h + W₂ s)` for every (target, source) pair.
        let per_pair_score = if self.score == AttentionScore::Additive { 2.0 * h + 3.0 } else { 3.0 };
        let activations = b
            * (s * (e + 10.0 * h * layers) + t * (e + 10.0 * h * layers + 4.0 * h + 3.0 * vt) + t * s * per_pair_score);
        MemoryEstimate { parameters, activations }
    }
}

impl TransformerSeq2seqConfig {
    /// The model's size for `batch` pairs of `source_len` and `target_len` tokens, counted
    /// without building it. Parameters are exact (PyTorch's `nn.Transformer` with its two final
    /// LayerNorms, the embeddings, and the output layer unless it is tied); activations count
    /// what one training step keeps per token and layer (projections, the feed-forward layer,
    /// norms, every head's attention weights) and the logits with their gradient.
    pub fn memory_estimate(&self, batch: usize, source_len: usize, target_len: usize) -> MemoryEstimate {
        let (d, f, heads) = (self.d_model as f64, self.feedforward as f64, self.heads as f64);
        let (vs, vt) = (self.source_vocab as f64, self.target_vocab as f64);
        let (enc, dec) = (self.encoder_layers as f64, self.decoder_layers as f64);
        let attention = 4.0 * d * d + 4.0 * d;
        let feedforward = 2.0 * d * f + f + d;
        let encoder_layer = attention + feedforward + 2.0 * 2.0 * d;
        let decoder_layer = 2.0 * attention + feedforward + 3.0 * 2.0 * d;
        let generator = if self.tie_embeddings { 0.0 } else { d * vt + vt };
        let parameters = (vs + vt) * d + enc * encoder_layer + dec * decoder_layer + 2.0 * 2.0 * d + generator;
        let (b, s, t) = (batch as f64, source_len as f64, target_len as f64);
        let source_token = enc * (12.0 * d + 2.0 * f + heads * s);
        let target_token = dec * (18.0 * d + 2.0 * f + heads * (t + s)) + 3.0 * vt;
        let activations = b * (s * (d + source_token) + t * (d + target_token));
        MemoryEstimate { parameters, activations }
    }
}

impl Seq2seqConfig {
    /// Either architecture's [`memory_estimate`](LstmAttentionConfig::memory_estimate).
    pub fn memory_estimate(&self, batch: usize, source_len: usize, target_len: usize) -> MemoryEstimate {
        match self {
            Seq2seqConfig::Lstm(c) => c.memory_estimate(batch, source_len, target_len),
            Seq2seqConfig::Transformer(c) => c.memory_estimate(batch, source_len, target_len),
        }
    }

    /// A short description of its sizes, for messages: `transformer d_model 128, 2+2 layers,
    /// vocabularies 40 and 30`.
    pub fn describe(&self) -> String {
        match self {
            Seq2seqConfig::Lstm(c) => format!(
                "LSTM encoder-decoder (embed {}, hidden {}, {} layers, vocabularies {} and {})",
                c.embed, c.hidden, c.layers, c.source_vocab, c.target_vocab
            ),
            Seq2seqConfig::Transformer(c) => format!(
                "Transformer encoder-decoder (d_model {}, feed-forward {}, {}+{} layers, vocabularies {} and {})",
                c.d_model, c.feedforward, c.encoder_layers, c.decoder_layers, c.source_vocab, c.target_vocab
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seq2seq::Seq2seqModel;
    use tessera_nn::Module;
    use tessera_tensor::Device;

    #[test]
    fn estimates_count_every_parameter_of_both_architectures() {
        let mut configs = Vec::new();
        for (layers, score) in [(1, AttentionScore::Dot), (2, AttentionScore::General), (3, AttentionScore::Additive)] {
            configs.push(Seq2seqConfig::Lstm(LstmAttentionConfig {
                source_vocab: 11,
                target_vocab: 7,
                embed: 5,
                hidden: 6,
                layers,
                score,
                dropout: 0.0,
                pad: 0,
                seed: 0,
            }));
        }
        for (encoder_layers, decoder_layers, tie_embeddings, norm_first) in [(1, 2, false, true), (2, 1, true, false)] {
            configs.push(Seq2seqConfig::Transformer(TransformerSeq2seqConfig {
                source_vocab: 11,
                target_vocab: 7,
                d_model: 8,
                heads: 2,
                feedforward: 12,
                encoder_layers,
                decoder_layers,
                dropout: 0.0,
                norm_first,
                tie_embeddings,
                pad: 0,
                seed: 0,
            }));
        }
        for cfg in configs {
            let model = Seq2seqModel::new(&cfg, &Device::Cpu).unwrap();
            assert_eq!(cfg.memory_estimate(1, 1, 1).parameters, model.parameter_count() as f64, "{}", cfg.describe());
        }
    }

    #[test]
    fn activations_grow_with_the_batch_and_the_lengths() {
        let cfg = Seq2seqConfig::Transformer(TransformerSeq2seqConfig {
            source_vocab: 100,
            target_vocab: 90,
            d_model: 16,
            heads: 4,
            feedforward: 32,
            encoder_layers: 2,
            decoder_layers: 2,
            dropout: 0.1,
            norm_first: true,
            tie_embeddings: false,
            pad: 0,
            seed: 0,
        });
        let small = cfg.memory_estimate(2, 10, 10).activations;
        assert!(cfg.memory_estimate(4, 10, 10).activations == 2.0 * small);
        assert!(cfg.memory_estimate(2, 20, 10).activations > small);
        assert!(cfg.memory_estimate(2, 10, 20).activations > small);
    }
}
