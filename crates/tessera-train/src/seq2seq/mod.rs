//! Sequence to sequence: encoder-decoder models (an LSTM with attention, a Transformer), their
//! training with teacher forcing, greedy and beam-search decoding, the data they learn from
//! (tab-separated pairs, a generated dates task), and attention maps.

mod any;
mod batch;
pub mod dates;
mod decode;
mod evaluate;
mod lstm;
mod memory;
mod model;
pub mod pairs;
mod task;
mod transformer;

pub use any::{AnyMemory, AnyState, Seq2seqConfig, Seq2seqModel};
pub use batch::{EncodedPair, PadSide, Seq2seqBatch, Seq2seqData, SourceBatch, Specials};
pub use dates::{dates_task, iso, render, DateForm, DatesTask, FORMS};
pub use decode::{beam_search, greedy, length_penalty, BeamConfig, Hypothesis, MAX_BEAM_WIDTH};
pub use evaluate::{decode_all, decode_each, score, TranslationScores};
pub use lstm::{AttentionScore, LstmAttention, LstmAttentionConfig, LstmMemory};
pub use model::Seq2seq;
pub use pairs::{Columns, Pair, PairProblem, PairSet, Side};
pub use task::{Detokenize, Seq2seqOptions, Seq2seqTask};
pub use transformer::{TransformerMemory, TransformerSeq2seq, TransformerSeq2seqConfig, TransformerState};
