//! Pathological input of a megabyte or more is handled in time about linear in its size.
//!
//! Nothing here measures time: each input made an earlier, quadratic version of the code run for
//! minutes, so a regression shows as a test suite that hangs.

use serde_json::{json, Value};
use tessera_text::pretokenize::{gpt2_split, split_cjk, split_whitespace_punctuation};
use tessera_text::segment::MAX_WORD_CHARS;
use tessera_text::{BpeTrainer, ByteLevelBpe, CharTokenizer, Normalizer, SegmentMode, Segmenter, WordTokenizer};

/// `len` pseudo-random characters drawn from `alphabet` (xorshift, fixed seed).
fn random_text(len: usize, alphabet: &[char]) -> String {
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            alphabet[(x % alphabet.len() as u64) as usize]
        })
        .collect()
}

#[test]
fn a_dictionary_of_long_words_sharing_one_character_loads_in_linear_time() {
    // 4,000 words of 256 characters: a million trie nodes reached by the same character.
    let tail = "中".repeat(MAX_WORD_CHARS - 1);
    let dict: String = (0..4000u32).map(|i| format!("{}{tail} 1\n", char::from_u32(0x4E00 + i).unwrap())).collect();
    let seg = Segmenter::from_dict_str(&dict, "dict.txt").unwrap();
    assert!(seg.has_word(&format!("一{tail}")));
}

#[test]
fn segmenting_a_long_line_is_linear_with_a_word_of_the_maximum_length() {
    let mut seg = Segmenter::new();
    seg.add_word(&"中".repeat(MAX_WORD_CHARS), Some(1_000_000)).unwrap();
    let text = "中".repeat(100_000);
    let words = seg.cut(&text);
    assert_eq!(words.concat(), text);
    assert_eq!(words[0].chars().count(), MAX_WORD_CHARS);
}

#[test]
fn segmenting_a_long_line_is_linear_in_every_mode() {
    let seg = Segmenter::new();
    for text in ["中".repeat(100_000), "鿐".repeat(100_000), "a".repeat(300_000), "我来到北京清华大学".repeat(10_000)]
    {
        assert_eq!(seg.cut(&text).concat(), text);
        assert_eq!(seg.cut_with(&text, false).concat(), text);
        assert!(seg.cut_mode(&text, SegmentMode::Search, true).len() >= seg.cut(&text).len());
        assert!(!seg.cut_all(&text).is_empty());
    }
}

#[test]
fn full_mode_joins_a_long_run_of_letters_in_linear_time() {
    let mut seg = Segmenter::empty();
    seg.add_word("ab", Some(10)).unwrap();
    seg.add_word("abc", Some(10)).unwrap();
    // `x`, then the `d`s between the dictionary words, all join one Latin word.
    let text = format!("x{}", "abcd".repeat(750_000));
    let words = seg.cut_all(&text);
    assert_eq!(words.last().map(|w| w.len()), Some(750_001));
}

#[test]
fn special_tokens_in_a_long_text_are_found_in_linear_time() {
    let mut doc: Value = serde_json::from_str(&ByteLevelBpe::gpt2().to_tokenizer_json()).unwrap();
    let the = doc["model"]["vocab"]["Ġthe"].clone();
    doc["added_tokens"].as_array_mut().unwrap().push(json!({"id": the, "content": "Ġthe"}));
    let tokenizer = ByteLevelBpe::from_tokenizer_json_str(&doc.to_string(), "t.json").unwrap();
    // Every match of one special token used to search the rest of the text for the other.
    let text = "<|endoftext|>".repeat(100_000);
    assert_eq!(tokenizer.encode(&text), vec![50256; 100_000]);
}

#[test]
fn bpe_training_on_one_long_word_is_linear() {
    let word = random_text(300_000, &['a', 'b', 'c', 'd', 'e']);
    let bpe = BpeTrainer::new(2000).train([word.as_str()]).unwrap();
    assert_eq!(bpe.vocab_size(), 2000);
    assert_eq!(bpe.decode(&bpe.encode(&word)).unwrap(), word);
}

#[test]
fn tokenizers_and_splitters_are_linear_on_a_long_line_without_spaces() {
    let gpt2 = ByteLevelBpe::gpt2();
    for text in ["a".repeat(200_000), random_text(200_000, &['a', 'b', 'c', '1', '!', '中', 'é'])] {
        assert_eq!(gpt2.decode(&gpt2.encode(&text)).unwrap(), text);
        assert_eq!(gpt2.encode_with_offsets(&text).offsets.last().map(|o| o.1), Some(text.len()));
        assert_eq!(gpt2_split(&text).last().map(|s| s.1), Some(text.len()));
        assert!(!split_whitespace_punctuation(&text).is_empty() && !split_cjk(&text).is_empty());
        let chars = CharTokenizer::train([text.as_str()]);
        assert_eq!(chars.decode(&chars.encode(&text)).unwrap(), text);
        let words = WordTokenizer::train([text.as_str()], 1, None).with_normalizer(Normalizer::bert_uncased());
        assert_eq!(words.encode_with_offsets(&text).ids.len(), words.encode(&text).len());
    }
}
