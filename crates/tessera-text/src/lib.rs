//! Text preprocessing for Tessera: normalisation, pre-tokenization, tokenizers (character, word,
//! byte-level BPE compatible with GPT-2 and Hugging Face `tokenizer.json`), Chinese word
//! segmentation (jieba-compatible), n-gram language models, batching, and sequence-generation
//! metrics (sacreBLEU-compatible BLEU and chrF, exact match, token accuracy).
//!
//! ```
//! use tessera_text::{ByteLevelBpe, Segmenter};
//! let gpt2 = ByteLevelBpe::gpt2();
//! assert_eq!(gpt2.encode("Hello world"), [15496, 995]);
//! let seg = Segmenter::new();
//! assert_eq!(seg.cut("我来到北京清华大学"), ["我", "来到", "北京", "清华大学"]);
//! ```

pub mod batch;
pub mod bpe;
pub mod chars;
mod error;
mod hash;
pub mod io;
pub mod metrics;
pub mod ngram;
pub mod normalize;
pub mod pretokenize;
pub mod segment;
mod tokenizer;
pub mod vocab;

pub use batch::{bucket_by_length, pad_batch, shuffled_buckets, PaddedBatch, StreamBatch, StreamBatches};
pub use bpe::{BpeModel, BpeTrainer, ByteLevelBpe, Encoding};
pub use error::{Error, Result};
pub use metrics::{
    corpus_bleu, corpus_chrf, exact_match, sentence_bleu, token_accuracy, Bleu, BleuScore, BleuSmoothing, Chrf,
    ChrfScore,
};
pub use ngram::{NgramModel, Smoothing};
pub use normalize::{NormalizeStep, Normalizer};
pub use segment::{SegmentMode, Segmenter};
pub use tokenizer::Tokenizer;
pub use vocab::{CharTokenizer, Vocab, VocabBuilder, WordTokenizer};

/// The README's examples, compiled and run as doc tests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
