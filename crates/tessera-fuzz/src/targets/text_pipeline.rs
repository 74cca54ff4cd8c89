//! The text preprocessing as a fuzz target: the input, read as text (lossily, as UTF-8), through
//! each normalizer, a byte-level BPE trained on it and GPT-2's, jieba segmentation, char and word
//! vocabularies trained on it and the stream batches of its ids, an n-gram model trained on its
//! lines, and BLEU and chrF between its lines. Beside panics, a broken promise is a failure: a
//! BPE, a segmentation or a char vocabulary that does not give the text back, BPE token spans
//! that do not tile the text, a single normalization step that changes its own output, word
//! offsets that do not slice the text, stream windows whose targets are not the next ids, n-gram
//! probabilities outside [0, 1] or adding up past 1 over distinct words, a score outside
//! [0, 100] (beyond rounding).

use crate::corpus::OUTCOME_PARTS;
use crate::exec::untimed;
use std::sync::OnceLock;
use tessera_text::{
    corpus_chrf, sentence_bleu, BpeTrainer, ByteLevelBpe, CharTokenizer, NgramModel, Normalizer, SegmentMode,
    Segmenter, Smoothing, StreamBatches, WordTokenizer,
};

/// The longest text used (BPE training and segmentation grow with it).
const MAX_TEXT: usize = 2048;

/// What `cell` holds, built by `build` and warmed up by `warm` (a first use that fills caches)
/// once per worker, outside the inputs' time limit.
fn shared<T>(cell: &'static OnceLock<T>, build: fn() -> T, warm: fn(&T)) -> &'static T {
    cell.get_or_init(|| {
        untimed(|| {
            let value = build();
            warm(&value);
            value
        })
    })
}

/// jieba's dictionary; its first cut freezes it into its read-optimised form.
fn segmenter() -> &'static Segmenter {
    static SEGMENTER: OnceLock<Segmenter> = OnceLock::new();
    shared(&SEGMENTER, Segmenter::new, |seg| drop(seg.cut(super::SAMPLE_TEXT)))
}

/// GPT-2's tokenizer.
fn gpt2() -> &'static ByteLevelBpe {
    static GPT2: OnceLock<ByteLevelBpe> = OnceLock::new();
    shared(&GPT2, ByteLevelBpe::gpt2, |bpe| drop(bpe.encode(super::SAMPLE_TEXT)))
}

pub(super) fn text_pipeline(data: &[u8]) -> String {
    let (first, rest) = data.split_first().map_or((0, data), |(b, r)| (*b as usize, r));
    let text = String::from_utf8_lossy(&rest[..rest.len().min(MAX_TEXT)]).into_owned();
    [normalize(&text), bpe(&text, first), segment(&text), vocab(&text, first), ngram(&text, first), scores(&text)]
        .join(OUTCOME_PARTS)
}

fn normalize(text: &str) -> String {
    type Step = fn(Normalizer) -> Normalizer;
    let steps: [(&str, Step); 7] = [
        ("nfc", Normalizer::nfc),
        ("nfkc", Normalizer::nfkc),
        ("nfd", Normalizer::nfd),
        ("lowercase", Normalizer::lowercase),
        ("fullwidth", Normalizer::fullwidth_to_halfwidth),
        ("strip_accents", Normalizer::strip_accents),
        ("remove_control", Normalizer::remove_control),
    ];
    for (name, step) in steps {
        let n = step(Normalizer::new());
        let once = n.normalize(text);
        assert_eq!(n.normalize(&once), once, "{name} is not idempotent on {text:?}");
    }
    let bert = Normalizer::bert_uncased().normalize(text);
    format!("normalize ok, {}", if bert.len() < text.len() { "shorter" } else { "not shorter" })
}

fn bpe(text: &str, first: usize) -> String {
    let vocab = 257 + first % 64;
    let bpe = match BpeTrainer::new(vocab).train([text]) {
        Ok(bpe) => bpe,
        Err(e) => return format!("bpe: {e}"),
    };
    for (name, bpe) in [("trained", &bpe), ("GPT-2", gpt2())] {
        for t in [text, super::SAMPLE_TEXT] {
            let ids = bpe.encode(t);
            assert_eq!(bpe.decode(&ids).ok().as_deref(), Some(t), "{name} BPE did not give {t:?} back");
            let enc = bpe.encode_with_offsets(t);
            assert_eq!(enc.ids, ids, "{name} encode_with_offsets gave other ids for {t:?}");
            let mut end = 0;
            for &(s, e) in &enc.offsets {
                assert!(s == end && s <= e && e <= t.len(), "{name} token span {s}..{e} after {end} in {t:?}");
                end = e;
            }
            assert_eq!(end, t.len(), "{name} token spans of {t:?} end at {end}");
        }
    }
    format!("bpe ok, {} tokens", if bpe.vocab_size() > 257 { "merged" } else { "no merged" })
}

fn segment(text: &str) -> String {
    let seg = segmenter();
    for hmm in [true, false] {
        assert_eq!(seg.cut_with(text, hmm).concat(), text, "cut (hmm {hmm}) did not give {text:?} back");
        for mode in [SegmentMode::Default, SegmentMode::Search] {
            for (word, start, end) in seg.tokenize(text, mode, hmm) {
                assert_eq!(text.get(start..end), Some(word), "{mode:?} token {word:?} at {start}..{end}");
            }
        }
    }
    "segment ok".into()
}

fn vocab(text: &str, first: usize) -> String {
    let chars = CharTokenizer::train([text]);
    let ids = chars.encode(text);
    assert_eq!(chars.decode(&ids).ok().as_deref(), Some(text), "chars did not give {text:?} back");
    let normalizer = match first % 4 {
        0 => Normalizer::new(),
        1 => Normalizer::bert_uncased(),
        2 => Normalizer::new().strip_accents().lowercase(),
        _ => Normalizer::new().nfkc().fullwidth_to_halfwidth(),
    };
    let words = WordTokenizer::train([text], 1, None).with_normalizer(normalizer);
    let enc = words.encode_with_offsets(text);
    assert_eq!(enc.ids, words.encode(text), "encode_with_offsets gave other ids for {text:?}");
    let mut last = 0;
    for &(start, end) in &enc.offsets {
        assert!(last <= start && text.get(start..end).is_some(), "word span {start}..{end} of {text:?}");
        last = start;
    }
    if first.is_multiple_of(4) {
        let decoded = words.decode(&enc.ids).expect("ids from encode");
        assert_eq!(words.encode(&decoded), enc.ids, "words of {text:?} changed through {decoded:?}");
    }
    let (batch, bptt) = (1 + first % 4, 1 + first % 5);
    let windows = match StreamBatches::new(&ids, batch, bptt) {
        Ok(w) => w,
        Err(e) => return format!("vocab ok; stream: {e}"),
    };
    let (row_len, mut pos) = (ids.len() / batch, 0);
    for w in windows {
        let len = w.shape[1];
        assert_eq!(w.shape[0], batch);
        for b in 0..batch {
            let row = &ids[b * row_len..][..row_len];
            assert_eq!(w.input[b * len..][..len], row[pos..pos + len], "window at {pos}, row {b}");
            assert_eq!(w.target[b * len..][..len], row[pos + 1..pos + 1 + len], "targets at {pos}, row {b}");
        }
        pos += len;
    }
    assert_eq!(pos, row_len - 1, "the windows of {batch} x {bptt} cover {pos} of {row_len} - 1 steps");
    "vocab ok; stream ok".into()
}

fn ngram(text: &str, first: usize) -> String {
    let sentences: Vec<Vec<&str>> = text.lines().map(|l| l.split_whitespace().collect()).collect();
    let smoothing =
        if first.is_multiple_of(2) { Smoothing::AddK(0.5) } else { Smoothing::KneserNey { discount: 0.75 } };
    let model = match NgramModel::train(2 + first % 2, &sentences, smoothing) {
        Ok(m) => m,
        Err(e) => return format!("ngram: {e}"),
    };
    let mut words: Vec<&str> = sentences.iter().flatten().copied().collect();
    words.sort_unstable();
    words.dedup();
    let contexts: Vec<&[&str]> = sentences.iter().take(3).map(|s| &s[..s.len().min(2)]).chain([&[][..]]).collect();
    for context in contexts {
        let mut total = 0.0;
        for w in &words {
            let p = model.prob(context, w);
            assert!((0.0..=1.0).contains(&p), "P({w:?} | {context:?}) = {p}");
            total += p;
        }
        assert!(total <= 1.0 + 1e-9, "P(. | {context:?}) adds up to {total} over {} distinct words", words.len());
    }
    let ppl = model.perplexity(&sentences);
    format!("ngram ok, perplexity {}", if ppl.is_finite() { "finite" } else { "not finite" })
}

fn scores(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let (hyp, refs) = match lines.split_first() {
        Some((h, r)) if !r.is_empty() => (*h, r),
        _ => (text, &[text][..]),
    };
    let bleu = sentence_bleu(hyp, refs).map(|s| s.score);
    let chrf = corpus_chrf(&[hyp], &refs[..1]).map(|s| s.score);
    for (name, score) in [("BLEU", &bleu), ("chrF", &chrf)] {
        if let Ok(s) = score {
            // exp(ln 100) is 100.00000000000004: identical sentences score that, as in sacrebleu.
            assert!((0.0..=100.0 + 1e-9).contains(s), "{name} {s} of {hyp:?} against {refs:?}");
        }
    }
    format!(
        "scores {}, {}",
        if bleu.is_ok() { "bleu ok" } else { "bleu refused" },
        if chrf.is_ok() { "chrf ok" } else { "chrf refused" }
    )
}
