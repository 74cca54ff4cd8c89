//! Evaluating and exploring embeddings: cosine neighbours, 3CosAdd analogies, Spearman
//! correlation on word-pair similarities, and accuracy on analogy questions.
//!
//! The benchmark files are the standard ones: WordSim-353 (`word1<TAB>word2<TAB>score`, `#`
//! comments) and word2vec's `questions-words.txt` (`: section` lines, then `a b c d` questions).
//! Words match ignoring case, as word2vec's `compute-accuracy` and gensim do; pairs and
//! questions with a word outside the (top-N) vocabulary are counted and left out.

mod analogy;
mod search;
mod similarity;
mod stats;

pub use analogy::{evaluate_analogies, parse_analogies, read_analogies, AnalogyScore, Section, SectionScore};
pub use search::{Neighbour, Searcher};
pub use similarity::{evaluate_similarity, parse_word_pairs, read_word_pairs, SimilarityScore, WordPair};
pub use stats::{pearson, ranks, spearman};
