//! Word embeddings for Tessera: train word2vec vectors on your own corpus (English or Chinese),
//! read and write the standard files, evaluate them on the standard sets, and draw them.
//!
//! - [`train`]: skip-gram and CBOW with negative sampling, subsampling, a linearly decaying
//!   learning rate and a dynamic window, multi-threaded (Hogwild), as the original word2vec.
//! - [`CorpusBuilder`]: lines of text to word ids (lowercased words and punctuation, or Chinese
//!   segmented by `tessera_text::Segmenter`), with the vocabulary counted from the corpus.
//! - [`format`](mod@format): word2vec text and binary, GloVe text; streaming readers with errors naming
//!   the line or record, atomic writers.
//! - [`eval`]: cosine neighbours, 3CosAdd analogies, Spearman correlation on word-pair
//!   similarities (WordSim-353), accuracy on analogy questions (`questions-words.txt`).
//! - [`plot`]: PCA and exact t-SNE to 2-D, and an SVG scatter with readable labels.
//!
//! ```
//! use tessera_embed::{eval::Searcher, train, CorpusBuilder, Lang, Word2VecConfig};
//! let mut b = CorpusBuilder::new(Lang::En);
//! for _ in 0..30 {
//!     b.add_line("the cat sat on the mat");
//!     b.add_line("the dog sat on the rug");
//! }
//! let corpus = b.build(1)?;
//! let cfg = Word2VecConfig { dim: 20, epochs: 3, seed: 7, ..Word2VecConfig::default() };
//! let (vectors, _) = train::train(&corpus, &cfg, &mut |_| {})?;
//! let near = Searcher::new(&vectors, None).neighbours("cat", 3)?;
//! assert_eq!(near.len(), 3);
//! # Ok::<(), tessera_embed::Error>(())
//! ```

mod corpus;
mod error;
pub mod eval;
pub mod format;
#[cfg(feature = "nn")]
mod nn;
pub mod plot;
mod simd;
pub mod train;
mod vectors;
mod words;

pub use corpus::{Corpus, CorpusBuilder, Lang, Vocab, MAX_SENTENCE_WORDS};
pub use error::{Error, Place, Result};
pub use format::{Format, Loaded};
pub use train::{Model, SharedUpdates, TrainReport, TrainStatus, Word2VecConfig};
pub use vectors::Embeddings;
pub use words::WordTable;

/// The README's examples, compiled and run as doc tests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
