//! An LSTM encoder-decoder with global attention (Luong et al. 2015): the decoder's LSTM output
//! at each step scores every encoder output (dot, general or Bahdanau's additive score), the
//! softmax of the scores weighs the encoder outputs into a context vector, and
//! `tanh(W_c [context; output])` predicts the next token.

use super::batch::{PadSide, SourceBatch};
use super::model::{config_number, not_single_input, squeeze_step, step_input, Seq2seq};
use crate::{Error, Result};
use serde_json::{json, Value};
use tessera_autograd::{no_grad, Var};
use tessera_nn::{init, Dropout, Embedding, Linear, Lstm, LstmState, Module};
use tessera_tensor::{DType, Device, Generator, Tensor};

/// How a decoder output `h` scores an encoder output `s`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AttentionScore {
    /// `hᵀ s` (Luong's dot).
    Dot,
    /// `hᵀ W s` (Luong's general).
    General,
    /// `vᵀ tanh(W₁ h + W₂ s)` (Bahdanau's additive score; Luong's concat).
    Additive,
}

impl AttentionScore {
    /// Its name on the command line and in configs: `dot`, `general`, `additive`.
    pub fn name(self) -> &'static str {
        match self {
            AttentionScore::Dot => "dot",
            AttentionScore::General => "general",
            AttentionScore::Additive => "additive",
        }
    }

    /// The score named `name`.
    pub fn from_name(name: &str) -> Result<AttentionScore> {
        match name {
            "dot" => Ok(AttentionScore::Dot),
            "general" => Ok(AttentionScore::General),
            "additive" | "bahdanau" | "concat" => Ok(AttentionScore::Additive),
            other => Err(Error::Config(format!("unknown attention score `{other}`: use dot, general or additive"))),
        }
    }
}

/// What builds an [`LstmAttention`]; stored in checkpoints.
#[derive(Debug, Clone, PartialEq)]
pub struct LstmAttentionConfig {
    /// Source vocabulary size.
    pub source_vocab: usize,
    /// Target vocabulary size.
    pub target_vocab: usize,
    /// Embedding size of both sides.
    pub embed: usize,
    /// LSTM hidden size of the encoder and the decoder.
    pub hidden: usize,
    /// Stacked LSTM layers on each side.
    pub layers: usize,
    /// The attention score.
    pub score: AttentionScore,
    /// Dropout on embeddings, between LSTM layers and on the attentional output.
    pub dropout: f64,
    /// The `<pad>` id of both vocabularies (its embeddings are zero).
    pub pad: u32,
    /// Seed of the weights and dropout masks.
    pub seed: u64,
}

impl LstmAttentionConfig {
    /// As JSON.
    pub fn to_json(&self) -> Value {
        json!({ "arch": "lstm-attention", "source_vocab": self.source_vocab, "target_vocab": self.target_vocab,
            "embed": self.embed, "hidden": self.hidden, "layers": self.layers, "score": self.score.name(),
            "dropout": self.dropout, "pad": self.pad, "seed": self.seed })
    }

    /// From the JSON [`LstmAttentionConfig::to_json`] writes.
    pub fn from_json(v: &Value) -> Result<LstmAttentionConfig> {
        let num = |k: &str| config_number(v, k);
        Ok(LstmAttentionConfig {
            source_vocab: num("source_vocab")? as usize,
            target_vocab: num("target_vocab")? as usize,
            embed: num("embed")? as usize,
            hidden: num("hidden")? as usize,
            layers: num("layers")? as usize,
            score: AttentionScore::from_name(v.get("score").and_then(Value::as_str).unwrap_or("general"))?,
            dropout: v.get("dropout").and_then(Value::as_f64).unwrap_or(0.0),
            pad: num("pad")? as u32,
            seed: num("seed")?,
        })
    }
}

/// Luong's attention-based encoder-decoder over LSTMs. Sources are padded on the left, so
/// that the encoder's final state (the decoder's initial state) follows each source's last
/// token; padded positions get no attention.
///
/// ```
/// use tessera_tensor::{Device, Tensor};
/// use tessera_train::seq2seq::{AttentionScore, LstmAttention, LstmAttentionConfig, PadSide, Seq2seq, SourceBatch};
/// let cfg = LstmAttentionConfig { source_vocab: 12, target_vocab: 9, embed: 8, hidden: 16, layers: 1,
///     score: AttentionScore::General, dropout: 0.0, pad: 0, seed: 0 };
/// let model = LstmAttention::new(&cfg, &Device::Cpu)?;
/// let src = SourceBatch::new(&[&[4, 5, 6][..], &[7]], 0, PadSide::Left, &Device::Cpu)?;
/// let memory = model.encode(&src)?;
/// let input = Tensor::from_vec(vec![1u32, 3, 1, 4], [2, 2], &Device::Cpu)?;
/// assert_eq!(model.decode_teacher(&memory, &input)?.dims(), [2, 2, 9]);
/// # Ok::<(), tessera_train::Error>(())
/// ```
#[derive(Module)]
pub struct LstmAttention {
    encoder_embedding: Embedding,
    encoder: Lstm,
    decoder_embedding: Embedding,
    decoder: Lstm,
    /// General score's `W`.
    score_weight: Option<Linear>,
    /// Additive score's `W₁`, `W₂` and `v`.
    score_query: Option<Linear>,
    score_key: Option<Linear>,
    score_v: Option<Var>,
    combine: Linear,
    output: Linear,
    dropout: Dropout,
    #[module(skip)]
    cfg: LstmAttentionConfig,
}

/// The encoder's outputs for one batch.
#[derive(Clone)]
pub struct LstmMemory {
    /// Encoder outputs `[batch, source_len, hidden]`.
    outputs: Var,
    /// What decoder outputs are scored against: the outputs themselves (dot), projected
    /// (general: `W s`; additive: `W₂ s`).
    keys: Var,
    /// `[batch, 1, source_len]`: 0 on tokens, a large negative number on padding.
    padding_bias: Var,
    /// The encoder's final state.
    last: LstmState,
}

impl LstmAttention {
    /// A model with fresh weights (PyTorch's initialisation for each layer).
    pub fn new(cfg: &LstmAttentionConfig, device: &Device) -> Result<LstmAttention> {
        if cfg.embed == 0 || cfg.hidden == 0 || cfg.layers == 0 || cfg.source_vocab == 0 || cfg.target_vocab == 0 {
            return Err(Error::Config(format!("LSTM encoder-decoder: every size must be positive ({cfg:?})")));
        }
        let mut g = Generator::new(cfg.seed);
        let (e, h, dt) = (cfg.embed, cfg.hidden, DType::F32);
        let pad = Some(cfg.pad as usize);
        let encoder_embedding = Embedding::new(&mut g, cfg.source_vocab, e, pad, dt, device)?;
        let encoder =
            Lstm::new(&mut g, e, h, cfg.layers, true, dt, device)?.with_dropout(cfg.dropout, g.fork_seed())?;
        let decoder_embedding = Embedding::new(&mut g, cfg.target_vocab, e, pad, dt, device)?;
        let decoder =
            Lstm::new(&mut g, e, h, cfg.layers, true, dt, device)?.with_dropout(cfg.dropout, g.fork_seed())?;
        let (general, additive) = (cfg.score == AttentionScore::General, cfg.score == AttentionScore::Additive);
        let score_weight = general.then(|| Linear::with_bias(&mut g, h, h, false, dt, device)).transpose()?;
        let score_query = additive.then(|| Linear::with_bias(&mut g, h, h, false, dt, device)).transpose()?;
        let score_key = additive.then(|| Linear::with_bias(&mut g, h, h, true, dt, device)).transpose()?;
        let bound = 1.0 / (h as f64).sqrt();
        let score_v = match additive {
            true => Some(Var::param(init::uniform(&mut g, bound, [h, 1], dt, device)?)?),
            false => None,
        };
        Ok(LstmAttention {
            encoder_embedding,
            encoder,
            decoder_embedding,
            decoder,
            score_weight,
            score_query,
            score_key,
            score_v,
            combine: Linear::with_bias(&mut g, 2 * h, h, false, dt, device)?,
            output: Linear::new(&mut g, h, cfg.target_vocab, dt, device)?,
            dropout: Dropout::new(cfg.dropout, g.fork_seed())?,
            cfg: cfg.clone(),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &LstmAttentionConfig {
        &self.cfg
    }

    /// The device its parameters are on.
    pub fn device(&self) -> &Device {
        self.output.weight().device()
    }

    /// The attention weights `[batch, steps, source_len]` of decoder outputs `[batch, steps,
    /// hidden]`.
    fn attention(&self, memory: &LstmMemory, dec: &Var) -> Result<Var> {
        let scores = match (&self.score_query, &self.score_v) {
            (Some(query), Some(v)) => {
                let (b, t, h) = (dec.dims()[0], dec.dims()[1], dec.dims()[2]);
                let s = memory.keys.dims()[1];
                let q = query.forward(dec)?.reshape([b, t, 1, h])?;
                let k = memory.keys.reshape([b, 1, s, h])?;
                q.add(&k)?.tanh()?.matmul(v)?.reshape([b, t, s])?
            }
            _ => dec.matmul(&memory.keys.transpose(1, 2)?)?,
        };
        Ok(scores.add(&memory.padding_bias)?.softmax(-1)?)
    }

    /// Logits `[batch, steps, vocab]` from decoder inputs `[batch, steps]` and a state.
    fn decode_from(&self, memory: &LstmMemory, input: &Tensor, state: &LstmState) -> Result<(Var, LstmState)> {
        let x = self.dropout.forward(&self.decoder_embedding.forward(&Var::constant(input.clone()))?)?;
        let (dec, state) = self.decoder.forward_with_state(&x, Some(state))?;
        let weights = self.attention(memory, &dec)?;
        let context = weights.matmul(&memory.outputs)?;
        let attentional = self.combine.forward(&Var::cat(&[context, dec], 2)?)?.tanh()?;
        Ok((self.output.forward(&self.dropout.forward(&attentional)?)?, state))
    }
}

impl Seq2seq for LstmAttention {
    type Memory = LstmMemory;
    type State = LstmState;

    fn source_padding(&self) -> PadSide {
        PadSide::Left
    }

    fn target_vocab(&self) -> usize {
        self.cfg.target_vocab
    }

    fn encode(&self, source: &SourceBatch) -> Result<LstmMemory> {
        let x = self.dropout.forward(&self.encoder_embedding.forward(&Var::constant(source.ids.clone()))?)?;
        let (outputs, last) = self.encoder.forward_with_state(&x, None)?;
        let keys = match (&self.score_weight, &self.score_key) {
            (Some(w), _) | (None, Some(w)) => w.forward(&outputs)?,
            (None, None) => outputs.clone(),
        };
        let (b, s) = (source.batch(), source.len());
        let bias = source.padding.to_dtype(DType::F32)?.scale(-1e9)?.reshape([b, 1, s])?;
        Ok(LstmMemory { outputs, keys, padding_bias: Var::constant(bias), last })
    }

    fn decode_teacher(&self, memory: &LstmMemory, decoder_input: &Tensor) -> Result<Var> {
        Ok(self.decode_from(memory, decoder_input, &memory.last)?.0)
    }

    fn start(&self, memory: &LstmMemory) -> Result<LstmState> {
        Ok(memory.last.clone())
    }

    fn decode_step(&self, memory: &LstmMemory, state: &mut LstmState, tokens: &Tensor) -> Result<Var> {
        let (logits, next) = self.decode_from(memory, &step_input(tokens)?, state)?;
        *state = next;
        squeeze_step(logits)
    }

    fn select_memory(&self, memory: &LstmMemory, rows: &Tensor) -> Result<LstmMemory> {
        Ok(LstmMemory {
            outputs: memory.outputs.index_select(0, rows)?,
            keys: memory.keys.index_select(0, rows)?,
            padding_bias: memory.padding_bias.index_select(0, rows)?,
            last: self.select_state(&memory.last, rows)?,
        })
    }

    fn select_state(&self, state: &LstmState, rows: &Tensor) -> Result<LstmState> {
        Ok(LstmState { h: state.h.index_select(1, rows)?, c: state.c.index_select(1, rows)? })
    }

    fn attention_maps(&self, memory: &LstmMemory, decoder_input: &Tensor) -> Result<Vec<(String, Tensor)>> {
        no_grad(|| {
            let x = self.decoder_embedding.forward(&Var::constant(decoder_input.clone()))?;
            let (dec, _) = self.decoder.forward_with_state(&x, Some(&memory.last))?;
            let name = format!("{} attention", self.cfg.score.name());
            Ok(vec![(name, self.attention(memory, &dec)?.tensor().clone())])
        })
    }
}

impl Module for LstmAttention {
    /// Not a single-input module: use [`Seq2seq::encode`] and [`Seq2seq::decode_teacher`].
    fn forward(&self, _input: &Var) -> tessera_nn::Result<Var> {
        Err(not_single_input())
    }

    fn describe(&self) -> String {
        let c = &self.cfg;
        format!(
            "LstmAttention(source vocab={}, target vocab={}, embed={}, hidden={}, layers={}, score={})",
            c.source_vocab,
            c.target_vocab,
            c.embed,
            c.hidden,
            c.layers,
            c.score.name()
        )
    }
}
