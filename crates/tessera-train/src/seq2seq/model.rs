//! What every encoder-decoder offers training and decoding.

use super::batch::{PadSide, SourceBatch};
use crate::{Error, Result};
use serde_json::Value;
use tessera_autograd::Var;
use tessera_nn::Module;
use tessera_tensor::Tensor;

/// An encoder-decoder: it reads a batch of sources once ([`Seq2seq::encode`]) and then either
/// predicts every target position at once from the gold prefix (teacher forcing,
/// [`Seq2seq::decode_teacher`]) or one position at a time from its own previous outputs
/// ([`Seq2seq::start`], [`Seq2seq::decode_step`]) for greedy and beam-search decoding.
pub trait Seq2seq: Module {
    /// What the encoder leaves for the decoder: its outputs, the source padding, caches.
    type Memory;
    /// What the decoder carries from one step to the next (recurrent state, key/value caches).
    type State;

    /// Where sources are padded for this model.
    fn source_padding(&self) -> PadSide;

    /// The number of target classes the decoder predicts.
    fn target_vocab(&self) -> usize;

    /// Encodes a batch of sources.
    fn encode(&self, source: &SourceBatch) -> Result<Self::Memory>;

    /// Logits `[batch, steps, target_vocab]` for decoder inputs `[batch, steps]` (u32: `<bos>` and
    /// the gold prefix), every position seeing only the inputs up to its own.
    fn decode_teacher(&self, memory: &Self::Memory, decoder_input: &Tensor) -> Result<Var>;

    /// The decoder's state before its first step.
    fn start(&self, memory: &Self::Memory) -> Result<Self::State>;

    /// One decoding step: the previous tokens `[rows]` (u32) in, logits `[rows, target_vocab]`
    /// out, the state advanced by one position.
    fn decode_step(&self, memory: &Self::Memory, state: &mut Self::State, tokens: &Tensor) -> Result<Var>;

    /// The memory of rows `rows` (i64 `[n]`) of the batch, in that order (beam search repeats
    /// each source once per hypothesis).
    fn select_memory(&self, memory: &Self::Memory, rows: &Tensor) -> Result<Self::Memory>;

    /// The state of rows `rows`, in that order (beam search keeps the hypotheses that survive).
    fn select_state(&self, state: &Self::State, rows: &Tensor) -> Result<Self::State>;

    /// The decoder's attention over the source for decoder inputs `[batch, steps]`: named
    /// matrices `[batch, steps, source_len]` (one for an LSTM, one per layer and head for a
    /// Transformer), computed without gradients.
    fn attention_maps(&self, memory: &Self::Memory, decoder_input: &Tensor) -> Result<Vec<(String, Tensor)>>;
}

/// Logits `[rows, 1, vocab]` as `[rows, vocab]`.
pub(crate) fn squeeze_step(logits: Var) -> Result<Var> {
    let (rows, vocab) = (logits.dims()[0], logits.dims()[2]);
    Ok(logits.reshape([rows, vocab])?)
}

/// Tokens `[rows]` as decoder inputs `[rows, 1]`.
pub(crate) fn step_input(tokens: &Tensor) -> Result<Tensor> {
    Ok(tokens.reshape([tokens.elem_count(), 1])?)
}

/// The whole number `key` of a model config's JSON.
pub(crate) fn config_number(v: &Value, key: &str) -> Result<u64> {
    v.get(key).and_then(Value::as_u64).ok_or_else(|| Error::Config(format!("seq2seq config lacks '{key}'")))
}

/// What an encoder-decoder's `Module::forward` answers: it takes a source and a target.
pub(crate) fn not_single_input() -> tessera_nn::Error {
    tessera_nn::Error::Config(
        "an encoder-decoder takes a source and a target: use Seq2seq::encode and decode_teacher".into(),
    )
}
