//! Fuzzing of Tessera's file readers on the stable toolchain, without libFuzzer or nightly.
//!
//! - [`targets`]: one function per reader (MNIST IDX and CSV, checkpoints and model configs,
//!   `tokenizer.json`, vocabularies, jieba dictionaries, run folders, seq2seq pairs, word vectors
//!   and their benchmarks, Hugging Face GPT-2 folders), each taking arbitrary bytes;
//! - [`seeds`]: valid inputs to start from, generated with the libraries (and `seeds/<target>/`);
//! - [`mutate`]: the mutation engine (bit flips, interesting bytes, boundary integers in both byte
//!   orders, numbers in text, ranges inserted, deleted, duplicated, splices, deep JSON nesting);
//! - [`corpus`]: inputs kept when they produce a new outcome, a cheap stand-in for coverage;
//! - [`exec`], [`worker`], [`supervise`]: an input runs in-process under `catch_unwind` with a
//!   watchdog, in a worker process watched by the runner, so that aborts (allocation failures,
//!   stack overflows) and timeouts are caught too and the input is saved to
//!   `regressions/<target>/`.
//!
//! `cargo xtask fuzz [--minutes N] [--target NAME]` runs the `tessera-fuzz` program;
//! `tests/regressions.rs` replays every seed and saved failure.

pub mod corpus;
pub mod exec;
pub mod input;
pub mod mutate;
pub mod seeds;
pub mod supervise;
pub mod sys;
pub mod targets;
pub mod worker;

/// The longest input the mutations make, in bytes.
pub const DEFAULT_MAX_LEN: usize = 128 << 10;

/// A worker's address-space cap: 4 GiB, so that a huge allocation fails at once.
pub const DEFAULT_MEMORY_LIMIT: u64 = 4 << 30;
