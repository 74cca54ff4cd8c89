//! [`GptConfig`]: what builds a [`Gpt`](super::Gpt), its JSON form, its checks and its size.

use crate::memory::MemoryEstimate;
use serde_json::{json, Value};
use tessera_nn::{Error, Result};

/// What builds a [`Gpt`](super::Gpt) (nanoGPT's `GPTConfig`); stored in checkpoints.
#[derive(Debug, Clone, PartialEq)]
pub struct GptConfig {
    /// Vocabulary size.
    pub vocab: usize,
    /// Context length: the most positions the model reads.
    pub block_size: usize,
    /// Transformer blocks.
    pub n_layer: usize,
    /// Attention heads per block; must divide `n_embd`.
    pub n_head: usize,
    /// Width of the residual stream.
    pub n_embd: usize,
    /// Dropout on the embeddings, the attention weights and each residual branch.
    pub dropout: f64,
    /// Biases in the linear layers and LayerNorms (GPT-2 has them).
    pub bias: bool,
    /// GELU's tanh approximation in the MLP (GPT-2's `gelu_new`) instead of the exact one.
    pub gelu_tanh: bool,
    /// LayerNorm's epsilon.
    pub layer_norm_eps: f64,
    /// Seed of the initial weights and the dropout masks.
    pub seed: u64,
}

impl GptConfig {
    /// nanoGPT's character-level Shakespeare model on the CPU: 4 layers, 4 heads, width 128,
    /// context 64, no dropout, biases.
    pub fn small(vocab: usize) -> Self {
        GptConfig {
            vocab,
            block_size: 64,
            n_layer: 4,
            n_head: 4,
            n_embd: 128,
            dropout: 0.0,
            bias: true,
            gelu_tanh: false,
            layer_norm_eps: 1e-5,
            seed: 1337,
        }
    }

    /// As JSON (the field names above).
    pub fn to_json(&self) -> Value {
        json!({ "vocab": self.vocab, "block_size": self.block_size, "n_layer": self.n_layer,
                "n_head": self.n_head, "n_embd": self.n_embd, "dropout": self.dropout, "bias": self.bias,
                "gelu_tanh": self.gelu_tanh, "layer_norm_eps": self.layer_norm_eps, "seed": self.seed })
    }

    /// From the JSON [`GptConfig::to_json`] writes.
    pub fn from_json(v: &Value) -> Result<GptConfig> {
        let num =
            |k: &str| v.get(k).and_then(Value::as_u64).ok_or_else(|| Error::Config(format!("GPT config lacks '{k}'")));
        Ok(GptConfig {
            vocab: num("vocab")? as usize,
            block_size: num("block_size")? as usize,
            n_layer: num("n_layer")? as usize,
            n_head: num("n_head")? as usize,
            n_embd: num("n_embd")? as usize,
            dropout: v.get("dropout").and_then(Value::as_f64).unwrap_or(0.0),
            bias: v.get("bias").and_then(Value::as_bool).unwrap_or(true),
            gelu_tanh: v.get("gelu_tanh").and_then(Value::as_bool).unwrap_or(false),
            layer_norm_eps: v.get("layer_norm_eps").and_then(Value::as_f64).unwrap_or(1e-5),
            seed: num("seed")?,
        })
    }

    /// The model's size for `batch` windows of `steps` positions, counted without building it.
    pub fn memory_estimate(&self, batch: usize, steps: usize) -> MemoryEstimate {
        let (v, e, layers) = (self.vocab as f64, self.n_embd as f64, self.n_layer as f64);
        let b = if self.bias { 1.0 } else { 0.0 };
        // Two LayerNorms, the attention's input and output projections, the MLP's two layers.
        let block = 2.0 * (e + b * e) + (3.0 * e * e + b * 3.0 * e) + (e * e + b * e) + 2.0 * 4.0 * e * e + b * 5.0 * e;
        let parameters = v * e + self.block_size as f64 * e + layers * block + e + b * e;
        // Per position: about 34 values of width e per block (nanoGPT's count, with attention
        // computed tile by tile so that no window × window matrix is kept), and the logits
        // with their softmax and gradient.
        let activations = (batch as f64) * (steps as f64) * (34.0 * e * layers + 3.0 * v);
        MemoryEstimate { parameters, activations }
    }

    pub(super) fn check(&self) -> Result<()> {
        let sizes = [self.vocab, self.block_size, self.n_layer, self.n_head, self.n_embd];
        if sizes.contains(&0) {
            return Err(Error::Config(format!(
                "GPT sizes must be positive: vocab {}, block_size {}, n_layer {}, n_head {}, n_embd {}",
                self.vocab, self.block_size, self.n_layer, self.n_head, self.n_embd
            )));
        }
        if !self.n_embd.is_multiple_of(self.n_head) {
            return Err(Error::Config(format!("GPT: {} heads do not divide n_embd {}", self.n_head, self.n_embd)));
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return Err(Error::Config(format!("GPT: dropout {} must be in [0, 1)", self.dropout)));
        }
        Ok(())
    }
}
