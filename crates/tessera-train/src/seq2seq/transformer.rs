//! A Transformer encoder-decoder (Vaswani et al. 2017) over PyTorch's `nn.Transformer`:
//! token embeddings scaled by `sqrt(d_model)` plus sinusoidal positions, padding masks on the
//! source, a causal target, and a linear layer to the target vocabulary (optionally tied to the
//! target embedding). Decoding step by step reads the decoder's key/value cache.

use super::batch::{PadSide, SourceBatch};
use super::model::{config_number, not_single_input, squeeze_step, step_input, Seq2seq};
use crate::{Error, Result};
use serde_json::{json, Value};
use tessera_autograd::{no_grad, Var};
use tessera_nn::{
    init, AttentionMask, DecoderCache, DecoderMasks, Dropout, Embedding, FeedForwardActivation, Linear, Module,
    Transformer, TransformerConfig,
};
use tessera_tensor::{DType, Device, Generator, Tensor};

/// What builds a [`TransformerSeq2seq`]; stored in checkpoints.
#[derive(Debug, Clone, PartialEq)]
pub struct TransformerSeq2seqConfig {
    /// Source vocabulary size.
    pub source_vocab: usize,
    /// Target vocabulary size.
    pub target_vocab: usize,
    /// Width of the residual stream.
    pub d_model: usize,
    /// Attention heads (must divide `d_model`).
    pub heads: usize,
    /// Width of the feed-forward layers.
    pub feedforward: usize,
    /// Encoder layers.
    pub encoder_layers: usize,
    /// Decoder layers.
    pub decoder_layers: usize,
    /// Dropout on embeddings, attention weights and residual branches.
    pub dropout: f64,
    /// Pre-LayerNorm blocks (else post-LN, the original Transformer's).
    pub norm_first: bool,
    /// The output layer is the target embedding (transposed), with no bias.
    pub tie_embeddings: bool,
    /// The `<pad>` id of both vocabularies.
    pub pad: u32,
    /// Seed of the weights and dropout masks.
    pub seed: u64,
}

impl TransformerSeq2seqConfig {
    /// As JSON.
    pub fn to_json(&self) -> Value {
        json!({ "arch": "transformer", "source_vocab": self.source_vocab, "target_vocab": self.target_vocab,
            "d_model": self.d_model, "heads": self.heads, "feedforward": self.feedforward,
            "encoder_layers": self.encoder_layers, "decoder_layers": self.decoder_layers, "dropout": self.dropout,
            "norm_first": self.norm_first, "tie_embeddings": self.tie_embeddings, "pad": self.pad, "seed": self.seed })
    }

    /// From the JSON [`TransformerSeq2seqConfig::to_json`] writes.
    pub fn from_json(v: &Value) -> Result<TransformerSeq2seqConfig> {
        let num = |k: &str| config_number(v, k);
        let flag = |k: &str| v.get(k).and_then(Value::as_bool).unwrap_or(false);
        Ok(TransformerSeq2seqConfig {
            source_vocab: num("source_vocab")? as usize,
            target_vocab: num("target_vocab")? as usize,
            d_model: num("d_model")? as usize,
            heads: num("heads")? as usize,
            feedforward: num("feedforward")? as usize,
            encoder_layers: num("encoder_layers")? as usize,
            decoder_layers: num("decoder_layers")? as usize,
            dropout: v.get("dropout").and_then(Value::as_f64).unwrap_or(0.0),
            norm_first: flag("norm_first"),
            tie_embeddings: flag("tie_embeddings"),
            pad: num("pad")? as u32,
            seed: num("seed")?,
        })
    }
}

/// The Transformer encoder-decoder. Parameters: `source_embedding.weight`,
/// `target_embedding.weight`, `transformer.*` (PyTorch's `nn.Transformer` names), and
/// `generator.*` unless the output layer is tied to the target embedding.
///
/// ```
/// use tessera_tensor::{Device, Tensor};
/// use tessera_train::seq2seq::{PadSide, Seq2seq, SourceBatch, TransformerSeq2seq, TransformerSeq2seqConfig};
/// let cfg = TransformerSeq2seqConfig { source_vocab: 12, target_vocab: 9, d_model: 16, heads: 2, feedforward: 32,
///     encoder_layers: 1, decoder_layers: 1, dropout: 0.0, norm_first: true, tie_embeddings: true, pad: 0, seed: 0 };
/// let model = TransformerSeq2seq::new(&cfg, &Device::Cpu)?;
/// let src = SourceBatch::new(&[&[4, 5, 6][..], &[7]], 0, PadSide::Right, &Device::Cpu)?;
/// let memory = model.encode(&src)?;
/// let input = Tensor::from_vec(vec![1u32, 3, 1, 4], [2, 2], &Device::Cpu)?;
/// assert_eq!(model.decode_teacher(&memory, &input)?.dims(), [2, 2, 9]);
/// # Ok::<(), tessera_train::Error>(())
/// ```
#[derive(Module)]
pub struct TransformerSeq2seq {
    source_embedding: Embedding,
    target_embedding: Embedding,
    transformer: Transformer,
    generator: Option<Linear>,
    dropout: Dropout,
    #[module(skip)]
    cfg: TransformerSeq2seqConfig,
}

/// The encoder's output for one batch and its padding.
#[derive(Clone)]
pub struct TransformerMemory {
    memory: Var,
    padding: Tensor,
}

/// The decoder's key/value cache and the next position.
#[derive(Clone)]
pub struct TransformerState {
    cache: DecoderCache,
    position: usize,
}

/// Sinusoidal position encodings `[len, d]` of positions `start..start + len`.
fn positions(start: usize, len: usize, d: usize, device: &Device) -> Result<Tensor> {
    let mut pe = vec![0f32; len * d];
    for p in 0..len {
        for i in 0..d {
            let angle = (start + p) as f64 / 10000f64.powf((i - i % 2) as f64 / d as f64);
            pe[p * d + i] = if i % 2 == 0 { angle.sin() } else { angle.cos() } as f32;
        }
    }
    Ok(Tensor::from_vec(pe, [len, d], &Device::Cpu)?.to_device(device)?)
}

impl TransformerSeq2seq {
    /// A model with fresh weights: `nn.Transformer`'s initialisation, embeddings from
    /// N(0, 1/d_model) (unit variance once scaled by `sqrt(d_model)`).
    pub fn new(cfg: &TransformerSeq2seqConfig, device: &Device) -> Result<TransformerSeq2seq> {
        if cfg.source_vocab == 0 || cfg.target_vocab == 0 || cfg.d_model == 0 || cfg.feedforward == 0 {
            return Err(Error::Config(format!("Transformer encoder-decoder: every size must be positive ({cfg:?})")));
        }
        let mut g = Generator::new(cfg.seed);
        let (d, dt) = (cfg.d_model, DType::F32);
        let layer = TransformerConfig {
            dim_feedforward: cfg.feedforward,
            dropout: cfg.dropout,
            activation: FeedForwardActivation::Relu,
            batch_first: true,
            norm_first: cfg.norm_first,
            ..TransformerConfig::new(d, cfg.heads)
        };
        let transformer = Transformer::new(&mut g, layer, cfg.encoder_layers, cfg.decoder_layers, dt, device)?;
        let embedding = |g: &mut Generator, n: usize| -> Result<Embedding> {
            let mut w = init::normal(g, 1.0 / (d as f64).sqrt(), [n, d], dt, device)?;
            let keep: Vec<f32> = (0..n).map(|i| f32::from(i != cfg.pad as usize)).collect();
            w = w.mul(&Tensor::from_vec(keep, [n, 1], &Device::Cpu)?.to_device(device)?)?;
            Ok(Embedding::from_weight(w, (cfg.pad as usize).lt(&n).then_some(cfg.pad as usize))?)
        };
        let source_embedding = embedding(&mut g, cfg.source_vocab)?;
        let target_embedding = embedding(&mut g, cfg.target_vocab)?;
        let generator =
            (!cfg.tie_embeddings).then(|| Linear::new(&mut g, d, cfg.target_vocab, dt, device)).transpose()?;
        Ok(TransformerSeq2seq {
            source_embedding,
            target_embedding,
            transformer,
            generator,
            dropout: Dropout::new(cfg.dropout, g.fork_seed())?,
            cfg: cfg.clone(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &TransformerSeq2seqConfig {
        &self.cfg
    }

    /// Embedded ids `[batch, len]` at positions `start..`, scaled, with positions added.
    fn embed(&self, table: &Embedding, ids: &Tensor, start: usize) -> Result<Var> {
        let d = self.cfg.d_model;
        let x = table.forward(&Var::constant(ids.clone()))?.scale((d as f64).sqrt())?;
        let pe = positions(start, ids.dims()[1], d, ids.device())?;
        Ok(self.dropout.forward(&x.add(&Var::constant(pe))?)?)
    }

    fn logits(&self, x: &Var) -> Result<Var> {
        Ok(match &self.generator {
            Some(g) => g.forward(x)?,
            None => x.matmul(&self.target_embedding.weight().t()?)?,
        })
    }

    fn masks<'a>(memory: &'a TransformerMemory) -> DecoderMasks<'a> {
        DecoderMasks {
            target: AttentionMask { key_padding: None, causal: true },
            memory: AttentionMask { key_padding: Some(&memory.padding), causal: false },
        }
    }
}

impl Seq2seq for TransformerSeq2seq {
    type Memory = TransformerMemory;
    type State = TransformerState;

    fn source_padding(&self) -> PadSide {
        PadSide::Right
    }

    fn target_vocab(&self) -> usize {
        self.cfg.target_vocab
    }

    fn encode(&self, source: &SourceBatch) -> Result<TransformerMemory> {
        let x = self.embed(&self.source_embedding, &source.ids, 0)?;
        let mask = AttentionMask { key_padding: Some(&source.padding), causal: false };
        let memory = self.transformer.encoder().encode(&x, mask)?;
        Ok(TransformerMemory { memory, padding: source.padding.clone() })
    }

    fn decode_teacher(&self, memory: &TransformerMemory, decoder_input: &Tensor) -> Result<Var> {
        let x = self.embed(&self.target_embedding, decoder_input, 0)?;
        let y = self.transformer.decoder().decode(&x, &memory.memory, Self::masks(memory))?;
        self.logits(&y)
    }

    fn start(&self, memory: &TransformerMemory) -> Result<TransformerState> {
        Ok(TransformerState { cache: self.transformer.decoder().start(&memory.memory)?, position: 0 })
    }

    fn decode_step(&self, memory: &TransformerMemory, state: &mut TransformerState, tokens: &Tensor) -> Result<Var> {
        let x = self.embed(&self.target_embedding, &step_input(tokens)?, state.position)?;
        let memory_mask = Self::masks(memory).memory;
        let y = self.transformer.decoder().decode_step(&x, &mut state.cache, memory_mask)?;
        state.position += 1;
        squeeze_step(self.logits(&y)?)
    }

    fn select_memory(&self, memory: &TransformerMemory, rows: &Tensor) -> Result<TransformerMemory> {
        Ok(TransformerMemory {
            memory: memory.memory.index_select(0, rows)?,
            padding: memory.padding.index_select(0, rows)?,
        })
    }

    fn select_state(&self, state: &TransformerState, rows: &Tensor) -> Result<TransformerState> {
        Ok(TransformerState { cache: state.cache.select_rows(rows)?, position: state.position })
    }

    fn attention_maps(&self, memory: &TransformerMemory, decoder_input: &Tensor) -> Result<Vec<(String, Tensor)>> {
        no_grad(|| {
            let x = self.embed(&self.target_embedding, decoder_input, 0)?;
            let (_, layers) =
                self.transformer.decoder().decode_with_weights(&x, &memory.memory, Self::masks(memory))?;
            let mut maps = Vec::new();
            for (l, w) in layers.iter().enumerate() {
                for h in 0..w.dims()[1] {
                    maps.push((format!("layer {l} head {h}"), w.narrow(1, h, 1)?.squeeze(1)?));
                }
            }
            Ok(maps)
        })
    }
}

impl Module for TransformerSeq2seq {
    /// Not a single-input module: use [`Seq2seq::encode`] and [`Seq2seq::decode_teacher`].
    fn forward(&self, _input: &Var) -> tessera_nn::Result<Var> {
        Err(not_single_input())
    }

    fn describe(&self) -> String {
        let c = &self.cfg;
        format!(
            "TransformerSeq2seq(source vocab={}, target vocab={}, d_model={}, heads={}, layers={}+{})",
            c.source_vocab, c.target_vocab, c.d_model, c.heads, c.encoder_layers, c.decoder_layers
        )
    }
}
