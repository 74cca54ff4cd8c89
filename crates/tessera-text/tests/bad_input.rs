//! Bad input gives clear errors that name the file and the fault, never a panic.

use std::path::PathBuf;
use std::sync::OnceLock;

use serde_json::{json, Map, Value};
use tessera_text::segment::MAX_WORD_CHARS;
use tessera_text::{io, ByteLevelBpe, CharTokenizer, Error, Segmenter, Vocab, WordTokenizer};

fn temp_file(name: &str, contents: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tessera-text-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

#[test]
fn invalid_utf8_names_file_line_and_offset() {
    let path = temp_file("bad.txt", b"hello\nbad \xff world");
    let err = io::read_text(&path).unwrap_err();
    assert!(matches!(err, Error::InvalidUtf8 { line: 2, offset: 10, .. }), "{err:?}");
    assert!(err.to_string().contains("bad.txt"));
    let dict = temp_file("utf8_dict.txt", b"\xe5\xa5\xbd 3\n\xe5\xa5 3\n");
    let err = Segmenter::from_dict_file(&dict).unwrap_err().to_string();
    assert!(err.contains("utf8_dict.txt") && err.contains("line 2, byte offset 6"), "{err}");
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

/// A `{"token": id}` vocabulary: GPT-2's 256 byte-level tokens (ids 0..256), then `extra`.
fn byte_vocab(extra: &[&str]) -> Map<String, Value> {
    static BYTE_TOKENS: OnceLock<Vec<String>> = OnceLock::new();
    let bytes = BYTE_TOKENS.get_or_init(|| ByteLevelBpe::gpt2().model().tokens()[..256].to_vec());
    bytes
        .iter()
        .map(String::as_str)
        .chain(extra.iter().copied())
        .enumerate()
        .map(|(id, t)| (t.to_string(), json!(id)))
        .collect()
}

fn tokenizer_json(vocab: Map<String, Value>, merges: Value) -> String {
    json!({"model": {"type": "BPE", "vocab": vocab, "merges": merges}}).to_string()
}

#[test]
fn bad_merges_in_tokenizer_json_name_the_merge() {
    let with_ab = || byte_vocab(&["ab"]);
    let cases = [
        (byte_vocab(&[]), json!([["a", "b"]]), "merge 0: merge `a b` makes `ab`, which is not in the vocabulary"),
        (with_ab(), json!([["a", "zz"]]), "merge 0: merge token `zz` is not in the vocabulary"),
        (with_ab(), json!(["a b", "a b"]), "merge 1: merge `a b` repeats merge 0"),
        (with_ab(), json!([["a", "b"], ["a", "b"]]), "merge 1: merge `a b` repeats merge 0"),
        (with_ab(), json!(["a b c"]), "merge 0: expected two tokens separated by one space, found `a b c`"),
        (with_ab(), json!(["ab"]), "merge 0: expected two tokens separated by one space, found `ab`"),
        (with_ab(), json!([["a"]]), "merge 0: not a pair of strings"),
        (with_ab(), json!([["a", "b", "c"]]), "merge 0: not a pair of strings"),
        (with_ab(), json!(["a b", ["a", "b"]]), "merge 1: merges mix the string and pair forms"),
        (with_ab(), json!([7]), "merge 0: neither a string nor a pair"),
    ];
    for (vocab, merges, message) in cases {
        let text = tokenizer_json(vocab, merges.clone());
        let err = ByteLevelBpe::from_tokenizer_json_str(&text, "t.json").unwrap_err().to_string();
        assert_eq!(err, format!("malformed file `t.json`: {message}"), "merges {merges}");
    }
}

#[test]
fn bad_vocabulary_ids_are_errors_not_allocations() {
    let mut cases = Vec::new();
    for (id, message) in [
        (json!(1u64 << 40), "token `xyz` has id 1099511627776, but the vocabulary has 257 entries"),
        (json!(u64::MAX), "token `xyz` has id 18446744073709551615, but the vocabulary has 257 entries"),
        (json!(-1), "the id of token `xyz` is not a non-negative integer"),
        (json!(2.5), "the id of token `xyz` is not a non-negative integer"),
        (json!("7"), "the id of token `xyz` is not a non-negative integer"),
        (json!(3), "id 3 is given to two tokens"),
    ] {
        let mut vocab = byte_vocab(&[]);
        vocab.insert("xyz".to_string(), id);
        cases.push((vocab, message));
    }
    let mut gap = byte_vocab(&[]);
    gap.insert("xyz".to_string(), json!(257));
    cases.push((gap, "token `xyz` has id 257, but the vocabulary has 257 entries"));
    for (vocab, message) in cases {
        let text = tokenizer_json(vocab.clone(), json!([]));
        let err = ByteLevelBpe::from_tokenizer_json_str(&text, "t.json").unwrap_err().to_string();
        assert_eq!(err, format!("malformed file `t.json`: {message}"));
        let err = ByteLevelBpe::from_gpt2_strs(&Value::Object(vocab).to_string(), "", "encoder.json", "vocab.bpe")
            .unwrap_err()
            .to_string();
        assert_eq!(err, format!("malformed file `encoder.json`: {message}"));
    }
}

#[test]
fn added_token_ids_are_compared_in_full() {
    let vocab = byte_vocab(&[]);
    let a = vocab["a"].as_u64().unwrap();
    let id = (1u64 << 32) + a;
    let doc = json!({"added_tokens": [{"id": id, "content": "a"}], "model": {"vocab": vocab, "merges": []}});
    let err = ByteLevelBpe::from_tokenizer_json_str(&doc.to_string(), "t.json").unwrap_err().to_string();
    assert!(err.contains(&format!("added token `a` (id {id}) is not in the vocabulary under that id")), "{err}");
}

#[test]
fn bad_merges_in_gpt2_files_name_the_line() {
    let encoder = Value::Object(byte_vocab(&["ab"])).to_string();
    let cases = [
        ("#version: 0.2\na b\n\na b\n", "line 4: merge `a b` repeats line 2"),
        ("a b\nb a\n", "line 2: merge `b a` makes `ba`, which is not in the vocabulary"),
        ("a b\nb\n", "line 2: expected two tokens separated by one space, found `b`"),
        ("a b\na\tb\n", "line 2: expected two tokens separated by one space, found `a\tb`"),
        ("a b \n", "line 1: expected two tokens separated by one space, found `a b `"),
    ];
    for (merges, message) in cases {
        let err = ByteLevelBpe::from_gpt2_strs(&encoder, merges, "encoder.json", "vocab.bpe").unwrap_err();
        assert_eq!(err.to_string(), format!("`vocab.bpe` {message}"), "{merges:?}");
    }
}

#[test]
fn deeply_nested_json_is_an_error_for_every_reader() {
    let depth = 100_000;
    let arrays = format!("{}{}", "[".repeat(depth), "]".repeat(depth));
    let objects = format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth));
    for deep in [&arrays, &objects] {
        let errors = [
            ByteLevelBpe::from_tokenizer_json_str(deep, "t.json").unwrap_err(),
            ByteLevelBpe::from_gpt2_strs(deep, "", "encoder.json", "vocab.bpe").unwrap_err(),
            Vocab::from_json(deep, "v.json").unwrap_err(),
            CharTokenizer::from_json(deep, "v.json").unwrap_err(),
            WordTokenizer::from_json(deep, "v.json").unwrap_err(),
        ];
        for err in errors {
            assert!(matches!(err, Error::Malformed { .. }), "{err:?}");
        }
    }
    // Nesting inside a field the reader skips is walked without recursion.
    let inside = format!(r#"{{"kind": "word", "tokens": ["<pad>", "<unk>", "<bos>", "<eos>"], "x": {arrays}}}"#);
    assert!(WordTokenizer::from_json(&inside, "v.json").is_ok());
    let inside =
        format!(r#"{{"model": {{"vocab": {}, "merges": [], "x": {arrays}}}}}"#, Value::Object(byte_vocab(&[])));
    assert!(ByteLevelBpe::from_tokenizer_json_str(&inside, "t.json").unwrap_err().to_string().contains("recursion"));
}

#[test]
fn vocabulary_files_reject_repeated_and_empty_tokens() {
    let doc = |tokens: &[&str]| {
        let all: Vec<&str> = ["<pad>", "<unk>", "<bos>", "<eos>"].iter().chain(tokens).copied().collect();
        json!({"kind": "word", "tokens": all}).to_string()
    };
    let cases = [
        (doc(&["a", "b", "a"]), "token 6 (`a`) repeats token 4"),
        (doc(&["a", "<unk>"]), "token 5 (`<unk>`) repeats token 1"),
        (doc(&["a", ""]), "token 5 is empty"),
        (
            json!({"kind": "word", "tokens": ["<pad>"]}).to_string(),
            "the first four tokens must be <pad> <unk> <bos> <eos>",
        ),
        (json!({"kind": "word", "tokens": 3}).to_string(), "not a vocabulary file: invalid type"),
    ];
    for (text, message) in cases {
        let err = Vocab::from_json(&text, "v.json").unwrap_err().to_string();
        assert!(err.starts_with(&format!("malformed file `v.json`: {message}")), "{err}");
    }
    let err = CharTokenizer::from_json(&doc(&["a"]), "v.json").unwrap_err().to_string();
    assert_eq!(err, "malformed file `v.json`: a `word` vocabulary, not a `char` one");
    assert_eq!(Vocab::from_tokens(["a".into(), "".into(), "a".into(), "b".into()]).tokens()[4..], ["a", "b"]);
}

#[test]
fn bad_dictionary_lines_are_reported_with_their_line() {
    let long_word = "中".repeat(2_000_000);
    let cases = [
        ("好 3\n坏 -5\n".to_string(), "line 2: frequency `-5` of word `坏` is not a non-negative integer"),
        ("坏 NaN".to_string(), "line 1: frequency `NaN` of word `坏` is not a non-negative integer"),
        ("坏 1e3".to_string(), "line 1: frequency `1e3` of word `坏` is not a non-negative integer"),
        ("\n\n坏 2.5 n".to_string(), "line 3: frequency `2.5` of word `坏` is not a non-negative integer"),
        (
            "坏 18446744073709551616".to_string(),
            "line 1: frequency `18446744073709551616` of word `坏` is larger than 18446744073709551615",
        ),
        (
            "甲 18446744073709551615\n乙 1\n".to_string(),
            "line 2: frequency 1 takes the dictionary's total past 18446744073709551615",
        ),
        (
            format!("好 3\n{long_word} 3\n"),
            "line 2: word `中中中中中中中中中中中中中中中中...` has 2000000 characters, more than the limit of 256",
        ),
    ];
    for (text, message) in &cases {
        let err = Segmenter::from_dict_str(text, "dict.txt").unwrap_err().to_string();
        assert_eq!(err, format!("`dict.txt` {message}"));
        let err = Segmenter::empty().load_user_dict_str(text, "user.txt").unwrap_err().to_string();
        assert_eq!(err, format!("`user.txt` {message}"));
    }
    let long = temp_file("long_word.txt", long_word.as_bytes());
    let err = Segmenter::empty().load_user_dict(&long).unwrap_err().to_string();
    assert!(err.contains("long_word.txt` line 1: word `中") && err.contains("2000000 characters"), "{err}");
    let mut seg = Segmenter::empty();
    let err = seg.add_word(&"a".repeat(MAX_WORD_CHARS + 1), None).unwrap_err().to_string();
    assert!(
        err.starts_with("invalid argument `word`: word `aaaa")
            && err.ends_with("257 characters, more than the limit of 256")
    );
    assert!(seg.add_word(&"a".repeat(MAX_WORD_CHARS), None).is_ok());
}

#[test]
fn dictionaries_tolerate_tabs_blank_lines_tags_and_a_byte_order_mark() {
    let seg = Segmenter::from_dict_str("\u{feff}北京\t10\tns\n\n  大学 5 n extra\r\n", "dict.txt").unwrap();
    assert!(seg.has_word("北京") && seg.has_word("大学"));
    assert_eq!(seg.cut_with("北京大学", false), ["北京", "大学"]);
}
