//! Bad input gives clear errors that name the file and the fault, never a panic.

use std::path::PathBuf;

use tessera_text::{io, ByteLevelBpe, Error, Segmenter, Vocab, WordTokenizer};

fn temp_file(name: &str, contents: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tessera-text-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

#[test]
fn invalid_utf8_names_file_and_offset() {
    let path = temp_file("bad.txt", b"hello \xff world");
    let err = io::read_text(&path).unwrap_err();
    assert!(matches!(err, Error::InvalidUtf8 { offset: 6, .. }), "{err:?}");
    assert!(err.to_string().contains("bad.txt"));
}

#[test]
fn malformed_tokenizer_files_are_errors_naming_the_file() {
    let cases: [(&str, &str, &str); 5] = [
        ("notjson.json", "{not json", "invalid JSON"),
        ("nomodel.json", "{}", "no `model`"),
        ("wordpiece.json", r#"{"model": {"type": "WordPiece", "vocab": {}}}"#, "WordPiece"),
        ("gap.json", r#"{"model": {"type": "BPE", "vocab": {"a": 0, "b": 2}, "merges": []}}"#, "id"),
        ("nobytes.json", r#"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": []}}"#, "byte"),
    ];
    for (name, body, needle) in cases {
        let path = temp_file(name, body.as_bytes());
        let err = ByteLevelBpe::from_tokenizer_json(&path).unwrap_err().to_string();
        assert!(err.contains(name) && err.contains(needle), "{name}: {err}");
    }
    let missing = ByteLevelBpe::from_tokenizer_json("/nonexistent/tokenizer.json").unwrap_err();
    assert!(missing.to_string().contains("/nonexistent/tokenizer.json"));
}

#[test]
fn bad_merges_line_names_the_line() {
    let enc = temp_file("encoder.json", br#"{"a": 0}"#);
    let merges = temp_file("vocab.bpe", b"#version: 0.2\na b c\n");
    let err = ByteLevelBpe::from_gpt2_files(&enc, &merges).unwrap_err().to_string();
    assert!(err.contains("vocab.bpe") && err.contains("line 2"), "{err}");
}

#[test]
fn empty_and_unknown_input() {
    let gpt2 = ByteLevelBpe::gpt2();
    assert!(gpt2.encode("").is_empty());
    assert_eq!(gpt2.decode(&[]).unwrap(), "");
    let err = gpt2.decode(&[60_000]).unwrap_err();
    assert!(err.to_string().contains("60000"));
    assert!(Segmenter::new().cut("").is_empty());
    let word = WordTokenizer::train(["a b"], 1, None);
    assert_eq!(word.encode("zzz"), [word.vocab().unk_id()]);
    assert!(word.decode(&[999]).is_err());
    let err = Vocab::load("/nonexistent/vocab.json").unwrap_err();
    assert!(err.to_string().contains("/nonexistent/vocab.json"));
}

#[test]
fn malformed_dictionary_line_is_reported() {
    let path = temp_file("dict.txt", "好 3 a\n坏 x n\n".as_bytes());
    let err = Segmenter::from_dict_file(&path).unwrap_err().to_string();
    assert!(err.contains("dict.txt") && err.contains("line 2"), "{err}");
}

#[test]
fn vocab_kinds_are_checked_on_load() {
    use tessera_text::CharTokenizer;
    let dir = std::env::temp_dir().join(format!("tessera-text-kinds-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("chars.json");
    let chars = CharTokenizer::train(["héllo"]);
    chars.save(&path).unwrap();
    assert_eq!(CharTokenizer::load(&path).unwrap().encode("hé"), chars.encode("hé"));
    let err = WordTokenizer::load(&path).unwrap_err().to_string();
    assert!(err.contains("chars.json") && err.contains("`char`"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn every_tokenizer_gives_offsets_through_the_trait() {
    use tessera_text::{CharTokenizer, Tokenizer};
    let text = "héllo wörld";
    let tokenizers: Vec<Box<dyn Tokenizer>> = vec![
        Box::new(ByteLevelBpe::gpt2()),
        Box::new(CharTokenizer::train([text])),
        Box::new(WordTokenizer::train([text], 1, None)),
    ];
    for t in tokenizers {
        let enc = t.encode_with_offsets(text);
        assert_eq!(enc.ids, t.encode(text));
        assert_eq!(enc.ids.len(), enc.offsets.len());
        assert_eq!(t.decode(&enc.ids).unwrap().replace(' ', ""), text.replace(' ', ""));
        assert!(enc.offsets.iter().all(|(s, e)| s < e && *e <= text.len()));
    }
}
