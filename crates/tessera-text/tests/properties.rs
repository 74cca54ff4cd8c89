//! Property tests: lossless round trips and segmentation that covers its input exactly.

use std::sync::OnceLock;

use proptest::prelude::*;
use tessera_text::{ByteLevelBpe, CharTokenizer, SegmentMode, Segmenter};

fn gpt2() -> &'static ByteLevelBpe {
    static T: OnceLock<ByteLevelBpe> = OnceLock::new();
    T.get_or_init(ByteLevelBpe::gpt2)
}

fn segmenter() -> &'static Segmenter {
    static S: OnceLock<Segmenter> = OnceLock::new();
    S.get_or_init(Segmenter::new)
}

/// Strings mixing ASCII, CJK, emoji, combining marks, whitespace and control characters.
fn mixed_text() -> impl Strategy<Value = String> {
    let pieces = prop_oneof![
        "[a-zA-Z0-9 ,.'!?]{0,8}",
        "[\u{4e00}-\u{9fa5}]{0,6}",
        "[\u{1F300}-\u{1F64F}\u{200d}\u{fe0f}]{0,4}",
        "[\u{0}-\u{1f}\u{7f}\u{300}-\u{36f}\u{3000}\u{a0}]{0,4}",
        any::<String>(),
    ];
    prop::collection::vec(pieces, 0..6).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn gpt2_decode_inverts_encode(text in mixed_text()) {
        let ids = gpt2().encode(&text);
        prop_assert_eq!(gpt2().decode(&ids).unwrap(), text);
    }

    #[test]
    fn gpt2_offsets_tile_the_input(text in mixed_text()) {
        let enc = gpt2().encode_with_offsets(&text);
        let mut at = 0;
        for (s, e) in enc.offsets {
            prop_assert_eq!(s, at);
            at = e;
        }
        prop_assert_eq!(at, text.len());
    }

    #[test]
    fn segmentation_concatenates_to_the_input(text in mixed_text()) {
        let seg = segmenter();
        prop_assert_eq!(seg.cut(&text).concat(), text.clone());
        prop_assert_eq!(seg.cut_with(&text, false).concat(), text.clone());
        prop_assert!(seg.cut_mode(&text, SegmentMode::Search, true).iter().all(|w| !w.is_empty()));
    }

    #[test]
    fn char_tokenizer_round_trips_on_its_corpus(text in mixed_text()) {
        let tok = CharTokenizer::train([text.as_str()]);
        prop_assert_eq!(tok.decode(&tok.encode(&text)).unwrap(), text);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn segment_offsets_point_at_the_words(text in mixed_text()) {
        for mode in [SegmentMode::Default, SegmentMode::Search] {
            for (word, start, end) in segmenter().tokenize(&text, mode, true) {
                prop_assert_eq!(&text[start..end], word);
            }
        }
    }

    #[test]
    fn normalisation_steps_are_idempotent(text in mixed_text()) {
        use tessera_text::Normalizer;
        for n in [Normalizer::new().nfc(), Normalizer::new().nfkc(), Normalizer::bert_uncased(),
                  Normalizer::new().fullwidth_to_halfwidth()] {
            let once = n.normalize(&text);
            prop_assert_eq!(n.normalize(&once), once);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn aligned_normalisation_equals_plain_and_spans_stay_in_the_input(text in mixed_text()) {
        use tessera_text::{Normalizer, WordTokenizer};
        let n = Normalizer::new().nfkc().fullwidth_to_halfwidth().lowercase().strip_accents().remove_control();
        let aligned = n.normalize_aligned(&text);
        prop_assert_eq!(aligned.text(), n.normalize(&text));
        let tok = WordTokenizer::train([text.as_str()], 1, None).with_normalizer(n);
        let enc = tok.encode_with_offsets(&text);
        prop_assert_eq!(&enc.ids, &tok.encode(&text));
        let mut last_start = 0;
        for (s, e) in enc.offsets {
            prop_assert!(s <= e && e <= text.len() && text.is_char_boundary(s) && text.is_char_boundary(e));
            prop_assert!(s >= last_start);
            last_start = s;
        }
    }
}
