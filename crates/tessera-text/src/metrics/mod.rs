//! Sequence-generation metrics: corpus and sentence BLEU, chrF and chrF++ reproducing
//! sacreBLEU 2.x, plus exact match and token accuracy.
//!
//! With default settings the scores equal sacreBLEU's (`BLEU()` and `CHRF()`); the test suite
//! checks this against fixtures made with the `sacrebleu` package. As in sacreBLEU, references
//! come as *streams*: `references[k][i]` is the `k`-th reference of hypothesis `i`. The
//! `corpus_*` functions take a single stream, one reference per hypothesis.
//!
//! ```
//! use tessera_text::metrics::{corpus_bleu, corpus_chrf, Bleu};
//! let hyps = ["The cat sat on the mat.", "It is raining today."];
//! let refs = ["The cat sat on the mat.", "It was raining yesterday."];
//! let bleu = corpus_bleu(&hyps, &refs).unwrap();
//! assert_eq!(bleu.to_string(), "BLEU = 67.56 83.3/60.0/62.5/66.7 (BP = 1.000 ratio = 1.000 hyp_len = 12 ref_len = 12)");
//! let chrf = corpus_chrf(&hyps, &refs).unwrap();
//! assert!(chrf.score > 0.0 && chrf.score < 100.0);
//!
//! // Two reference streams, lowercased.
//! let streams = [refs, ["the cat sat on the mat.", "it is raining today."]];
//! let bleu = Bleu { lowercase: true, ..Bleu::default() }.corpus_score(&hyps, &streams).unwrap();
//! assert_eq!(format!("{:.2}", bleu.score), "100.00");
//! ```

mod bleu;
mod bleu_score;
mod chrf;
mod exact;
mod ngrams;
mod pystr;
mod tokenize_13a;
mod validate;

pub use bleu::{corpus_bleu, sentence_bleu, Bleu, BleuSmoothing, BleuTokenize};
pub use bleu_score::BleuScore;
pub use chrf::{corpus_chrf, sentence_chrf, Chrf, ChrfScore};
pub use exact::{exact_match, token_accuracy};
pub use tokenize_13a::tokenize_13a;
pub use validate::MAX_ORDER;
