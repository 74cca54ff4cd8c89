//! `tessera train lm` and `tessera generate` end to end on the shipped Shakespeare text: a short
//! character-level run must beat the Kneser-Ney bigram on validation perplexity, sampling must be
//! reproducible for a seed, and a run must resume from its last checkpoint.

use flate2::read::GzDecoder;
use serde_json::Value;
mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

fn tessera(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tessera")).args(args).output().expect("running tessera");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "tessera {args:?} failed:\n{stdout}\n{stderr}");
    stdout.into_owned()
}

/// The first `lines` lines of the shipped corpus, written to `dir`.
fn shipped_slice(dir: &Path, lines: usize) -> PathBuf {
    let gz = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/data/shakespeare_7_plays.txt.gz")).unwrap();
    let mut text = String::new();
    GzDecoder::new(&gz[..]).read_to_string(&mut text).unwrap();
    let slice: String = text.lines().take(lines).map(|l| format!("{l}\n")).collect();
    let path = dir.join("slice.txt");
    std::fs::write(&path, slice).unwrap();
    path
}

/// An empty folder for one test, under the system's temporary directory.
fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tessera-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn json(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn char_lm_beats_the_bigram_generates_reproducibly_and_resumes() {
    let dir = fresh_dir("cli-lm");
    let corpus = shipped_slice(&dir, 3000);
    let run = dir.join("run");
    let (corpus_arg, run_arg) = (corpus.to_str().unwrap(), run.to_str().unwrap());
    let common = ["--tokenizer", "char", "--embed", "32", "--hidden", "128", "--dropout", "0.1", "--seq-len", "32"];
    let mut args = vec!["train", "lm", "--corpus", corpus_arg, "--epochs", "2", "--out", run_arg, "--lr", "0.005"];
    args.extend(common);
    let printed = tessera(&args);
    assert!(printed.contains("KN bigram"), "{printed}");

    let results = json(&run.join("results.json"));
    let (val, bigram) = (results["val_ppl"].as_f64().unwrap(), results["bigram_val_ppl"].as_f64().unwrap());
    assert!(val < bigram, "LSTM validation perplexity {val} does not beat the bigram's {bigram}");
    for file in ["config.json", "vocab.json", "metrics.jsonl", "perplexity.svg", "checkpoints/best.safetensors"] {
        assert!(run.join(file).exists(), "the run folder lacks {file}");
    }

    let sample = |seed: &str| {
        tessera(&["generate", "--checkpoint", run_arg, "--prompt", "KING", "--tokens", "60", "--seed", seed])
    };
    let first = sample("5");
    assert!(first.starts_with("KING") && first.trim_end().len() > 40, "{first}");
    assert_eq!(first, sample("5"), "the same seed gave different text");
    assert_ne!(first, sample("6"), "different seeds gave the same text");

    tessera(&["train", "lm", "--resume", run_arg, "--epochs", "3"]);
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    let epochs: Vec<u64> =
        metrics.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["epoch"].as_u64().unwrap()).collect();
    assert_eq!(epochs, [1, 2, 3], "metrics after resuming: {metrics}");
    assert_eq!(json(&run.join("results.json"))["epochs"].as_u64(), Some(3));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn bpe_lm_run_keeps_its_tokenizer() {
    let dir = fresh_dir("cli-lm-bpe");
    let corpus = shipped_slice(&dir, 600);
    let (tokenizer, run) = (dir.join("bpe.json"), dir.join("run"));
    let (corpus_arg, tok_arg, run_arg) = (corpus.to_str().unwrap(), tokenizer.to_str().unwrap(), run.to_str().unwrap());
    tessera(&["bpe", "train", "--vocab-size", "300", "--out", tok_arg, corpus_arg]);
    let bpe_spec = format!("bpe:{tok_arg}");
    let args = ["--tokenizer", &bpe_spec, "--embed", "16", "--hidden", "32", "--seq-len", "16", "--batch-size", "8"];
    let mut train = vec!["train", "lm", "--corpus", corpus_arg, "--epochs", "1", "--out", run_arg];
    train.extend(args);
    let printed = tessera(&train);
    assert!(printed.contains("KN bigram"), "{printed}");
    assert_eq!(json(&run.join("tokenizer.json")), json(&tokenizer), "the run folder's copy of the tokenizer");
    // The run samples with its own copy once the original file is gone.
    std::fs::remove_file(&tokenizer).unwrap();
    let sample = tessera(&["generate", "--checkpoint", run_arg, "--prompt", "The", "--tokens", "20", "--seed", "1"]);
    assert!(sample.starts_with("The") && sample.trim_end().len() > 3, "{sample}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The stderr of a `tessera` run that must fail.
fn tessera_fails(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tessera")).args(args).output().expect("running tessera");
    assert!(!out.status.success(), "tessera {args:?} succeeded");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn bad_lm_arguments_are_clear_errors() {
    let err = tessera_fails(&["train", "lm", "--corpus", "/no/such/corpus.txt", "--epochs", "1"]);
    assert!(err.contains("/no/such/corpus.txt"), "{err}");
    let err = tessera_fails(&["train", "lm", "--tokenizer", "sentencepiece", "--epochs", "1"]);
    assert!(err.contains("unknown tokenizer `sentencepiece`"), "{err}");
    let err = tessera_fails(&["generate", "--checkpoint", "/no/such/run"]);
    assert!(err.contains("/no/such/run"), "{err}");
    let dir = fresh_dir("cli-lm-empty");
    let empty = dir.join("empty.txt");
    std::fs::write(&empty, "").unwrap();
    let err = tessera_fails(&["train", "lm", "--corpus", empty.to_str().unwrap(), "--epochs", "1"]);
    assert!(err.contains("a corpus of 0 lines is too short"), "an empty file has no line: {err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn gpt_run_learns_writes_its_folder_generates_and_names_bad_sizes() {
    let dir = fresh_dir("cli-gpt");
    let corpus = shipped_slice(&dir, 2000);
    let run = dir.join("run");
    let (corpus_arg, run_arg) = (corpus.to_str().unwrap(), run.to_str().unwrap());
    let small = ["--layers", "2", "--heads", "2", "--embed", "32", "--block-size", "32", "--batch-size", "8"];
    let schedule = ["--iters", "60", "--warmup", "10", "--eval-interval", "30", "--eval-iters", "4", "--lr", "0.003"];
    let mut args = vec!["train", "gpt", "--corpus", corpus_arg, "--out", run_arg];
    args.extend(small);
    args.extend(schedule);
    let printed = tessera(&args);
    assert!(printed.contains("2 evaluation intervals of 30"), "{printed}");
    let results = json(&run.join("results.json"));
    let vocab = results["vocab"].as_f64().unwrap();
    let val = results["val_loss"].as_f64().unwrap();
    // Well below a uniform guess over the characters.
    assert!(val < 0.8 * vocab.ln(), "validation loss {val} vs ln {vocab} = {}", vocab.ln());
    for file in
        ["config.json", "vocab.json", "metrics.jsonl", "checkpoints/best.safetensors", "checkpoints/last.safetensors"]
    {
        assert!(run.join(file).exists(), "the run folder lacks {file}");
    }
    let sample = |seed: &str| {
        tessera(&["generate", "--checkpoint", run_arg, "--prompt", "KING", "--tokens", "80", "--seed", seed])
    };
    let first = sample("3");
    assert!(first.starts_with("KING") && first.trim_end().len() > 60, "{first}");
    assert_eq!(first, sample("3"), "the same seed gave different text");
    let nucleus =
        tessera(&["generate", "--checkpoint", run_arg, "--prompt", "KING", "--tokens", "40", "--top-p", "0.9"]);
    assert!(nucleus.starts_with("KING"), "{nucleus}");
    // The text comes a line at a time as it is sampled, and a reader that stops reading stops
    // the sampling: a million tokens behind `| head -2` end at once with a closed pipe's status.
    let streaming = ["generate", "--checkpoint", run_arg, "--prompt", "KING", "--tokens", "1000000", "--seed", "3"];
    let (lines, code, after) = common::head(&dir, &streaming, 2);
    // The same tokens as the 80 sampled at once, as far as both go (`first` ends its last line).
    let n = lines.len().min(first.len() - 1);
    assert_eq!(lines.as_bytes()[..n], first.as_bytes()[..n], "streamed {lines:?}, sampled at once {first:?}");
    assert_eq!(code, Some(141), "a closed pipe ends generation");
    assert!(after.as_secs() < 60, "generation went on after its reader left");
    let err = tessera_fails(&["generate", "--checkpoint", run_arg, "--top-p", "1.5"]);
    assert!(err.contains("'1.5' for '--top-p <TOP_P>': must be above 0 and at most 1"), "{err}");
    let unknown = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["generate", "--checkpoint", run_arg, "--prompt", "KING \u{2603}", "--tokens", "5"])
        .output()
        .unwrap();
    let warning = String::from_utf8_lossy(&unknown.stderr);
    assert!(unknown.status.success(), "{warning}");
    assert!(warning.contains("1 of the prompt's 6 tokens are not in the run's vocabulary"), "{warning}");
    let text = dir.join("snowman.txt");
    std::fs::write(&text, "KING \u{2603}\n").unwrap();
    let scored = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(["perplexity", "--checkpoint", run_arg, text.to_str().unwrap()])
        .output()
        .unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&scored.stdout), String::from_utf8_lossy(&scored.stderr));
    assert!(scored.status.success() && stdout.contains("over 6 tokens"), "{stdout}{stderr}");
    assert!(stderr.contains("1 of the text's 7 tokens are not in the run's vocabulary"), "{stderr}");
    let resumed = tessera(&["train", "gpt", "--resume", run_arg]);
    assert!(resumed.contains("resumed after epoch 2") && resumed.contains("nothing to train"), "{resumed}");

    let err = tessera_fails(&["train", "gpt", "--corpus", corpus_arg, "--heads", "3", "--embed", "32"]);
    assert!(err.contains("3 heads") && err.contains("32"), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn gpt_run_with_the_built_in_gpt2_tokenizer_trains_and_generates() {
    let dir = fresh_dir("cli-gpt-gpt2");
    let corpus = shipped_slice(&dir, 300);
    let run = dir.join("run");
    let (corpus_arg, run_arg) = (corpus.to_str().unwrap(), run.to_str().unwrap());
    let small = ["--layers", "1", "--heads", "2", "--embed", "16", "--block-size", "16", "--batch-size", "4"];
    let schedule = ["--iters", "6", "--warmup", "2", "--eval-interval", "3", "--eval-iters", "2"];
    let mut args = vec!["train", "gpt", "--tokenizer", "gpt2", "--corpus", corpus_arg, "--out", run_arg];
    args.extend(small);
    args.extend(schedule);
    let printed = tessera(&args);
    assert!(printed.contains("gpt2 tokenizer, vocabulary 50257"), "{printed}");
    assert_eq!(json(&run.join("results.json"))["vocab"].as_f64(), Some(50257.0));
    assert!(!run.join("vocab.json").exists() && !run.join("tokenizer.json").exists(), "GPT-2's BPE is built in");
    let text = tessera(&["generate", "--checkpoint", run_arg, "--prompt", "KING HENRY", "--tokens", "5"]);
    assert!(text.starts_with("KING HENRY"), "{text}");
    std::fs::remove_dir_all(&dir).unwrap();
}
