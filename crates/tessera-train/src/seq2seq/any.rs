//! Either encoder-decoder behind one type, chosen by a config at run time (a command line's
//! `--arch`, a checkpoint's config).

use super::batch::{PadSide, SourceBatch};
use super::lstm::{LstmAttention, LstmAttentionConfig, LstmMemory};
use super::model::Seq2seq;
use super::transformer::{TransformerMemory, TransformerSeq2seq, TransformerSeq2seqConfig, TransformerState};
use crate::{Error, Result};
use serde_json::Value;
use tessera_autograd::Var;
use tessera_nn::{LstmState, MapFn, Module, ModuleParts, Part};
use tessera_tensor::{Device, Tensor};

/// The configuration of either architecture.
#[derive(Debug, Clone, PartialEq)]
pub enum Seq2seqConfig {
    /// An LSTM encoder-decoder with attention.
    Lstm(LstmAttentionConfig),
    /// A Transformer encoder-decoder.
    Transformer(TransformerSeq2seqConfig),
}

impl Seq2seqConfig {
    /// As JSON, with `arch` naming the architecture.
    pub fn to_json(&self) -> Value {
        match self {
            Seq2seqConfig::Lstm(c) => c.to_json(),
            Seq2seqConfig::Transformer(c) => c.to_json(),
        }
    }

    /// From the JSON [`Seq2seqConfig::to_json`] writes.
    pub fn from_json(v: &Value) -> Result<Seq2seqConfig> {
        match v.get("arch") {
            Some(Value::String(a)) if a == "lstm-attention" => {
                Ok(Seq2seqConfig::Lstm(LstmAttentionConfig::from_json(v)?))
            }
            Some(Value::String(a)) if a == "transformer" => {
                Ok(Seq2seqConfig::Transformer(TransformerSeq2seqConfig::from_json(v)?))
            }
            Some(other) => Err(Error::Config(format!(
                "seq2seq config: architecture {other} is not `lstm-attention` or `transformer`"
            ))),
            None => Err(Error::Config("seq2seq config: no `arch` (`lstm-attention` or `transformer`)".into())),
        }
    }
}

/// Either encoder-decoder; a [`Seq2seq`] itself, so training and decoding need not know which.
pub enum Seq2seqModel {
    /// An LSTM encoder-decoder with attention.
    Lstm(Box<LstmAttention>),
    /// A Transformer encoder-decoder.
    Transformer(Box<TransformerSeq2seq>),
}

/// Either model's memory.
#[derive(Clone)]
pub enum AnyMemory {
    /// An LSTM's.
    Lstm(LstmMemory),
    /// A Transformer's.
    Transformer(TransformerMemory),
}

/// Either model's decoding state.
#[derive(Clone)]
pub enum AnyState {
    /// An LSTM's.
    Lstm(LstmState),
    /// A Transformer's.
    Transformer(TransformerState),
}

fn mismatch() -> Error {
    Error::Config("a memory or state of one architecture given to the other".into())
}

impl Seq2seqModel {
    /// A model with fresh weights as `cfg` says.
    pub fn new(cfg: &Seq2seqConfig, device: &Device) -> Result<Seq2seqModel> {
        Ok(match cfg {
            Seq2seqConfig::Lstm(c) => Seq2seqModel::Lstm(Box::new(LstmAttention::new(c, device)?)),
            Seq2seqConfig::Transformer(c) => Seq2seqModel::Transformer(Box::new(TransformerSeq2seq::new(c, device)?)),
        })
    }

    /// Its configuration.
    pub fn config(&self) -> Seq2seqConfig {
        match self {
            Seq2seqModel::Lstm(m) => Seq2seqConfig::Lstm(m.config().clone()),
            Seq2seqModel::Transformer(m) => Seq2seqConfig::Transformer(m.config().clone()),
        }
    }

    fn inner(&self) -> &dyn Module {
        match self {
            Seq2seqModel::Lstm(m) => m.as_ref(),
            Seq2seqModel::Transformer(m) => m.as_ref(),
        }
    }
}

impl ModuleParts for Seq2seqModel {
    fn parts(&self) -> Vec<(String, Part<'_>)> {
        match self {
            Seq2seqModel::Lstm(m) => m.parts(),
            Seq2seqModel::Transformer(m) => m.parts(),
        }
    }

    fn map_parameters(&mut self, f: &mut MapFn<'_>) -> tessera_nn::Result<()> {
        match self {
            Seq2seqModel::Lstm(m) => m.map_parameters(f),
            Seq2seqModel::Transformer(m) => m.map_parameters(f),
        }
    }
}

impl Module for Seq2seqModel {
    fn forward(&self, input: &Var) -> tessera_nn::Result<Var> {
        self.inner().forward(input)
    }

    fn describe(&self) -> String {
        self.inner().describe()
    }
}

impl Seq2seq for Seq2seqModel {
    type Memory = AnyMemory;
    type State = AnyState;

    fn source_padding(&self) -> PadSide {
        match self {
            Seq2seqModel::Lstm(m) => m.source_padding(),
            Seq2seqModel::Transformer(m) => m.source_padding(),
        }
    }

    fn target_vocab(&self) -> usize {
        match self {
            Seq2seqModel::Lstm(m) => m.target_vocab(),
            Seq2seqModel::Transformer(m) => m.target_vocab(),
        }
    }

    fn encode(&self, source: &SourceBatch) -> Result<AnyMemory> {
        Ok(match self {
            Seq2seqModel::Lstm(m) => AnyMemory::Lstm(m.encode(source)?),
            Seq2seqModel::Transformer(m) => AnyMemory::Transformer(m.encode(source)?),
        })
    }

    fn decode_teacher(&self, memory: &AnyMemory, decoder_input: &Tensor) -> Result<Var> {
        match (self, memory) {
            (Seq2seqModel::Lstm(m), AnyMemory::Lstm(mem)) => m.decode_teacher(mem, decoder_input),
            (Seq2seqModel::Transformer(m), AnyMemory::Transformer(mem)) => m.decode_teacher(mem, decoder_input),
            _ => Err(mismatch()),
        }
    }

    fn start(&self, memory: &AnyMemory) -> Result<AnyState> {
        match (self, memory) {
            (Seq2seqModel::Lstm(m), AnyMemory::Lstm(mem)) => Ok(AnyState::Lstm(m.start(mem)?)),
            (Seq2seqModel::Transformer(m), AnyMemory::Transformer(mem)) => Ok(AnyState::Transformer(m.start(mem)?)),
            _ => Err(mismatch()),
        }
    }

    fn decode_step(&self, memory: &AnyMemory, state: &mut AnyState, tokens: &Tensor) -> Result<Var> {
        match (self, memory, state) {
            (Seq2seqModel::Lstm(m), AnyMemory::Lstm(mem), AnyState::Lstm(s)) => m.decode_step(mem, s, tokens),
            (Seq2seqModel::Transformer(m), AnyMemory::Transformer(mem), AnyState::Transformer(s)) => {
                m.decode_step(mem, s, tokens)
            }
            _ => Err(mismatch()),
        }
    }

    fn select_memory(&self, memory: &AnyMemory, rows: &Tensor) -> Result<AnyMemory> {
        match (self, memory) {
            (Seq2seqModel::Lstm(m), AnyMemory::Lstm(mem)) => Ok(AnyMemory::Lstm(m.select_memory(mem, rows)?)),
            (Seq2seqModel::Transformer(m), AnyMemory::Transformer(mem)) => {
                Ok(AnyMemory::Transformer(m.select_memory(mem, rows)?))
            }
            _ => Err(mismatch()),
        }
    }

    fn select_state(&self, state: &AnyState, rows: &Tensor) -> Result<AnyState> {
        match (self, state) {
            (Seq2seqModel::Lstm(m), AnyState::Lstm(s)) => Ok(AnyState::Lstm(m.select_state(s, rows)?)),
            (Seq2seqModel::Transformer(m), AnyState::Transformer(s)) => {
                Ok(AnyState::Transformer(m.select_state(s, rows)?))
            }
            _ => Err(mismatch()),
        }
    }

    fn attention_maps(&self, memory: &AnyMemory, decoder_input: &Tensor) -> Result<Vec<(String, Tensor)>> {
        match (self, memory) {
            (Seq2seqModel::Lstm(m), AnyMemory::Lstm(mem)) => m.attention_maps(mem, decoder_input),
            (Seq2seqModel::Transformer(m), AnyMemory::Transformer(mem)) => m.attention_maps(mem, decoder_input),
            _ => Err(mismatch()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_or_missing_architecture_is_named_in_the_error() {
        let unknown = Seq2seqConfig::from_json(&serde_json::json!({ "arch": "rnn" })).unwrap_err().to_string();
        assert!(unknown.contains("architecture \"rnn\" is not"), "{unknown}");
        let number = Seq2seqConfig::from_json(&serde_json::json!({ "arch": 5 })).unwrap_err().to_string();
        assert!(number.contains("architecture 5 is not"), "{number}");
        let missing = Seq2seqConfig::from_json(&serde_json::json!({})).unwrap_err().to_string();
        assert!(missing.contains("no `arch`"), "{missing}");
    }
}
