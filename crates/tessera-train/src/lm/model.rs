//! The classic LSTM language model: Embedding, LSTM, Linear over the vocabulary.

use super::generate::NextToken;
use crate::memory::{lstm_parameters, MemoryEstimate};
use serde_json::{json, Value};
use tessera_autograd::Var;
use tessera_nn::{init, Dropout, Embedding, Error, Linear, Lstm, LstmState, Module, Result};
use tessera_tensor::{DType, Device, Generator, Tensor};

/// What builds an [`LstmLm`]; stored in checkpoints so that a model can be rebuilt.
#[derive(Debug, Clone, PartialEq)]
pub struct LstmLmConfig {
    /// Vocabulary size (the embedding rows and the output classes).
    pub vocab: usize,
    /// Embedding size.
    pub embed: usize,
    /// LSTM hidden size.
    pub hidden: usize,
    /// Stacked LSTM layers.
    pub layers: usize,
    /// Dropout on the embeddings, between LSTM layers and on the LSTM output.
    pub dropout: f64,
    /// Seed of the initial weights and of the dropout masks.
    pub seed: u64,
}

impl LstmLmConfig {
    /// As JSON (`{"vocab": .., "embed": .., ...}`).
    pub fn to_json(&self) -> Value {
        json!({ "vocab": self.vocab, "embed": self.embed, "hidden": self.hidden, "layers": self.layers,
                "dropout": self.dropout, "seed": self.seed })
    }

    /// From the JSON [`LstmLmConfig::to_json`] writes (other keys are ignored).
    pub fn from_json(v: &Value) -> Result<LstmLmConfig> {
        let num = |k: &str| {
            v.get(k).and_then(Value::as_u64).ok_or_else(|| Error::Config(format!("LSTM LM config lacks '{k}'")))
        };
        Ok(LstmLmConfig {
            vocab: num("vocab")? as usize,
            embed: num("embed")? as usize,
            hidden: num("hidden")? as usize,
            layers: num("layers")? as usize,
            dropout: v.get("dropout").and_then(Value::as_f64).unwrap_or(0.0),
            seed: num("seed")?,
        })
    }

    /// The model's size for `batch` rows of `steps` tokens, counted without building it.
    pub fn memory_estimate(&self, batch: usize, steps: usize) -> MemoryEstimate {
        let (v, e, h, layers) = (self.vocab as f64, self.embed as f64, self.hidden as f64, self.layers as f64);
        let parameters = v * e + lstm_parameters(e, h, layers) + h * v + v;
        // Per token: the embedding, gates, cell and hidden states of each layer, and the logits
        // with their softmax and gradient.
        let activations = (batch as f64) * (steps as f64) * (e + 10.0 * h * layers + 3.0 * v);
        MemoryEstimate { parameters, activations }
    }
}

/// Embedding → dropout → LSTM → dropout → Linear, predicting the next token at every step.
///
/// Inputs are token ids `[batch, steps]` (u32 or i64); the logits come out time-major,
/// `[steps * batch, vocab]`, row `t * batch + b` for step `t` of row `b` (what
/// [`LstmLm::time_major_targets`] gives for the targets). Parameter names follow PyTorch's
/// word-language-model example: `encoder.weight`, `rnn.weight_ih_l0`, ..., `decoder.weight`.
///
/// ```
/// use tessera_tensor::{Device, Tensor};
/// use tessera_train::lm::{LstmLm, LstmLmConfig};
/// let cfg = LstmLmConfig { vocab: 20, embed: 8, hidden: 16, layers: 1, dropout: 0.0, seed: 0 };
/// let lm = LstmLm::new(&cfg, &Device::Cpu)?;
/// let ids = Tensor::from_vec(vec![1u32, 2, 3, 4, 5, 6], [2, 3], &Device::Cpu)?;
/// let (logits, state) = lm.forward_ids(&ids, None)?;
/// assert_eq!(logits.dims(), [6, 20]);
/// assert_eq!(state.h.dims(), [1, 2, 16]);
/// # Ok::<(), tessera_nn::Error>(())
/// ```
#[derive(Module)]
pub struct LstmLm {
    #[module(skip)]
    cfg: LstmLmConfig,
    // The layers in the order the data meets them (the summary lists them so).
    encoder: Embedding,
    drop: Dropout,
    rnn: Lstm,
    decoder: Linear,
}

impl LstmLm {
    /// A model with fresh weights: embedding and decoder uniform in ±0.1 (decoder bias zero),
    /// the LSTM with PyTorch's default initialisation.
    pub fn new(cfg: &LstmLmConfig, device: &Device) -> Result<LstmLm> {
        if cfg.vocab == 0 || cfg.embed == 0 || cfg.hidden == 0 || cfg.layers == 0 {
            return Err(Error::Config(format!(
                "LSTM LM sizes must be positive: vocab {}, embed {}, hidden {}, layers {}",
                cfg.vocab, cfg.embed, cfg.hidden, cfg.layers
            )));
        }
        let mut g = Generator::new(cfg.seed);
        let dt = DType::F32;
        let encoder = Embedding::from_weight(init::uniform(&mut g, 0.1, [cfg.vocab, cfg.embed], dt, device)?, None)?;
        let rnn = Lstm::new(&mut g, cfg.embed, cfg.hidden, cfg.layers, false, dt, device)?
            .with_dropout(cfg.dropout, cfg.seed ^ 0x5eed_0001)?;
        let decoder = Linear::from_tensors(
            init::uniform(&mut g, 0.1, [cfg.vocab, cfg.hidden], dt, device)?,
            Some(Tensor::zeros([cfg.vocab], dt, device)?),
        )?;
        let drop = Dropout::new(cfg.dropout, cfg.seed ^ 0x5eed_0002)?;
        Ok(LstmLm { cfg: cfg.clone(), encoder, drop, rnn, decoder })
    }

    /// The configuration it was built from.
    pub fn config(&self) -> &LstmLmConfig {
        &self.cfg
    }

    /// The device its parameters are on.
    pub fn device(&self) -> &Device {
        self.encoder.weight().device()
    }

    /// Restarts every dropout mask stream from `seed` (training calls this at each epoch start).
    pub fn reseed_dropout(&self, seed: u64) {
        self.drop.reseed(seed);
        self.rnn.reseed_dropout(seed ^ 0x9e37_79b9_7f4a_7c15);
    }

    /// `[batch, steps]` ids, row-major, as the time-major `[steps, batch]` tensor the model reads
    /// (the same reordering applies to the targets).
    pub fn time_major_targets(ids: &Tensor) -> Result<Tensor> {
        if ids.rank() != 2 {
            return Err(Error::Config(format!("token ids must be [batch, steps], got {}", ids.shape())));
        }
        Ok(ids.t()?.contiguous()?.flatten_all()?)
    }

    /// Logits `[steps * batch, vocab]` (time-major rows) for ids `[batch, steps]`, starting from
    /// `state` (zeros when `None`), and the state after the last step.
    pub fn forward_ids(&self, ids: &Tensor, state: Option<&LstmState>) -> Result<(Var, LstmState)> {
        let [batch, steps] = match *ids.dims() {
            [b, s] => [b, s],
            _ => {
                return Err(Error::BadInput {
                    layer: self.describe(),
                    expected: "token ids [batch, steps]".into(),
                    got: ids.shape().clone(),
                })
            }
        };
        let ids = ids.t()?.contiguous()?;
        let emb = self.drop.forward(&self.encoder.forward(&Var::constant(ids))?)?;
        let (out, state) = self.rnn.forward_with_state(&emb, state)?;
        let out = self.drop.forward(&out)?.reshape([steps * batch, self.cfg.hidden])?;
        Ok((self.decoder.forward(&out)?, state))
    }
}

impl Module for LstmLm {
    /// Logits for ids `[batch, steps]` from a zero state.
    fn forward(&self, ids: &Var) -> Result<Var> {
        Ok(self.forward_ids(ids.tensor(), None)?.0)
    }

    fn describe(&self) -> String {
        format!(
            "LstmLm(vocab={}, embed={}, hidden={}, layers={}, dropout={})",
            self.cfg.vocab, self.cfg.embed, self.cfg.hidden, self.cfg.layers, self.cfg.dropout
        )
    }

    fn flops_per_example(&self, input_dims: &[usize]) -> u64 {
        // One example is a row of `steps` ids.
        let steps = input_dims.first().copied().unwrap_or(1);
        self.rnn.flops_per_example(&[steps, self.cfg.embed])
            + self.decoder.flops_per_example(&[self.cfg.hidden]) * steps as u64
    }
}

impl NextToken for LstmLm {
    type State = LstmState;

    fn vocab_size(&self) -> usize {
        self.cfg.vocab
    }

    fn next_token_logits(&self, ids: &[u32], state: Option<&LstmState>) -> crate::Result<(Var, LstmState)> {
        let ids = Tensor::from_vec(ids.to_vec(), [1, ids.len()], &Device::Cpu)?.to_device(self.device())?;
        Ok(self.forward_ids(&ids, state)?)
    }
}
