//! GPT-2 ids against fixtures made with Hugging Face `tokenizers` and `tiktoken`
//! (see `fixtures/make_fixtures.py`), plus tokenizer.json round trips.

use tessera_text::{BpeTrainer, ByteLevelBpe};

#[derive(serde::Deserialize)]
struct Case {
    text: String,
    ids: Vec<u32>,
}

fn cases() -> Vec<Case> {
    serde_json::from_str(include_str!("fixtures/gpt2_ids.json")).expect("fixture parses")
}

#[test]
fn gpt2_ids_match_reference_tokenizers() {
    let gpt2 = ByteLevelBpe::gpt2();
    assert_eq!(gpt2.vocab_size(), 50257);
    for case in cases() {
        assert_eq!(gpt2.encode(&case.text), case.ids, "text {:?}", case.text);
        assert_eq!(gpt2.decode(&case.ids).unwrap(), case.text);
    }
}

#[test]
fn offsets_cover_the_text_in_order() {
    let gpt2 = ByteLevelBpe::gpt2();
    for case in cases() {
        let enc = gpt2.encode_with_offsets(&case.text);
        assert_eq!(enc.ids, case.ids);
        let mut at = 0;
        for (s, e) in &enc.offsets {
            assert_eq!(*s, at, "text {:?}", case.text);
            assert!(e > s);
            at = *e;
        }
        assert_eq!(at, case.text.len());
    }
    let text = "Hello wonderful world";
    let enc = gpt2.encode_with_offsets(text);
    let pieces: Vec<&str> = enc.offsets.iter().map(|(s, e)| &text[*s..*e]).collect();
    assert_eq!(pieces, ["Hello", " wonderful", " world"]);
}

#[test]
fn tokenizer_json_round_trip_keeps_ids() {
    let gpt2 = ByteLevelBpe::gpt2();
    let json = gpt2.to_tokenizer_json();
    let back = ByteLevelBpe::from_tokenizer_json_str(&json, "gpt2.json").unwrap();
    for case in cases().into_iter().filter(|c| !c.text.contains("<|endoftext|>")) {
        assert_eq!(back.encode(&case.text), case.ids);
    }
    // A loaded tokenizer.json recognises its added tokens in the text.
    assert_eq!(back.encode("a<|endoftext|>b"), [64, 50256, 65]);
}

#[test]
fn trained_tokenizer_saves_and_loads() {
    let text = "the quick brown fox jumps over the lazy dog\n".repeat(30);
    let bpe = BpeTrainer::new(300).train([text.as_str()]).unwrap();
    let dir = std::env::temp_dir().join(format!("tessera-text-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("tokenizer.json");
    bpe.save_tokenizer_json(&path).unwrap();
    let loaded = ByteLevelBpe::from_tokenizer_json(&path).unwrap();
    assert_eq!(loaded.encode(&text), bpe.encode(&text));
    assert_eq!(loaded.decode(&loaded.encode(&text)).unwrap(), text);
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn gpt2_on_full_shakespeare_when_available() {
    let Ok(root) = std::env::var("TESSERA_DATA") else {
        eprintln!("skipping: set TESSERA_DATA=/path/to/shared/data to run on shakespeare.txt");
        return;
    };
    let path = std::path::Path::new(&root).join("text/shakespeare.txt");
    let text = tessera_text::io::read_text(&path).unwrap();
    let gpt2 = ByteLevelBpe::gpt2();
    let ids = gpt2.encode(&text);
    assert_eq!(gpt2.decode(&ids).unwrap(), text);
}

#[test]
fn loads_a_tokenizer_json_written_by_hugging_face() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let tok = ByteLevelBpe::from_tokenizer_json(dir.join("hf_small_tokenizer.json")).unwrap();
    let cases: Vec<Case> = serde_json::from_str(include_str!("fixtures/hf_small_ids.json")).unwrap();
    for case in cases {
        assert_eq!(tok.encode(&case.text), case.ids, "text {:?}", case.text);
        assert_eq!(tok.decode(&case.ids).unwrap(), case.text);
    }
}

#[test]
fn add_prefix_space_and_added_tokens_like_hugging_face() {
    let mut doc: serde_json::Value = serde_json::from_str(&ByteLevelBpe::gpt2().to_tokenizer_json()).unwrap();
    doc["pre_tokenizer"]["add_prefix_space"] = serde_json::Value::Bool(true);
    let tok = ByteLevelBpe::from_tokenizer_json_str(&doc.to_string(), "prefixed.json").unwrap();
    let cases: Vec<Case> = serde_json::from_str(include_str!("fixtures/gpt2_prefix_space_ids.json")).unwrap();
    for case in cases {
        assert_eq!(tok.encode(&case.text), case.ids, "text {:?}", case.text);
    }
}
