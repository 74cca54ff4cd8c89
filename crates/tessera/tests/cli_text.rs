//! The text subcommands of the `tessera` program, run as a user would.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn tessera(args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("tessera starts");
    child.stdin.take().expect("stdin").write_all(stdin).expect("write stdin");
    child.wait_with_output().expect("tessera runs")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn tokenize_gpt2_ids_and_tokens() {
    let o = tessera(&["tokenize"], b"Hello world\nHi");
    assert!(o.status.success());
    assert_eq!(stdout(&o), "15496 995\n17250\n");
    let o = tessera(&["tokenize", "--tokens"], b"Hello world");
    assert_eq!(stdout(&o), "Hello \u{120}world\n");
}

#[test]
fn segment_default_and_search() {
    let o = tessera(&["segment"], "我来到北京清华大学".as_bytes());
    assert_eq!(stdout(&o), "我 来到 北京 清华大学\n");
    let o = tessera(&["segment", "--mode", "search"], "中国科学院".as_bytes());
    assert_eq!(stdout(&o), "中国 科学 学院 科学院 中国科学院\n");
    let o = tessera(&["segment", "--mode", "all"], "我来到北京清华大学".as_bytes());
    assert_eq!(stdout(&o), "我 来到 北京 清华 清华大学 华大 大学\n");
}

#[test]
fn bpe_train_then_tokenize_with_it() {
    let dir = std::env::temp_dir().join(format!("tessera-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let corpus = dir.join("corpus.txt");
    std::fs::write(&corpus, "the cat sat on the mat\n".repeat(50)).unwrap();
    let out = dir.join("tokenizer.json");
    let o = tessera(
        &["bpe", "train", "--vocab-size", "280", "--out", out.to_str().unwrap(), corpus.to_str().unwrap()],
        b"",
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let spec = format!("bpe:{}", out.display());
    let o = tessera(&["tokenize", "--tokenizer", &spec, "--tokens"], b"the cat");
    assert_eq!(stdout(&o), "the \u{120}cat\n");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn bad_input_exits_nonzero_with_a_message() {
    let o = tessera(&["tokenize"], b"ok \xff bad");
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("<stdin>") && err.contains("byte offset 3"), "{err}");
    assert!(!err.contains("panicked"));
    let o = tessera(&["tokenize", "--tokenizer", "bpe:/nonexistent.json"], b"x");
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("/nonexistent.json"));
    let o = tessera(&["tokenize", "--tokenizer", "nope"], b"x");
    assert!(String::from_utf8_lossy(&o.stderr).contains("unknown tokenizer `nope`"));
}

#[test]
fn word_vocab_saved_and_reused() {
    let dir = std::env::temp_dir().join(format!("tessera-cli-vocab-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let vocab = dir.join("vocab.json");
    let o = tessera(&["tokenize", "--tokenizer", "word", "--save-vocab", vocab.to_str().unwrap()], b"a b a");
    assert_eq!(stdout(&o), "4 5 4\n");
    let o = tessera(&["tokenize", "--tokenizer", "word", "--vocab", vocab.to_str().unwrap()], b"b c");
    assert_eq!(stdout(&o), "5 1\n");
    std::fs::remove_dir_all(&dir).ok();
}
