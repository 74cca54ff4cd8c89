//! BLEU and chrF against sacreBLEU (fixtures from `fixtures/make_metric_fixtures.py`), and the
//! exact-match metrics and error cases.

use serde::Deserialize;
use tessera_text::metrics::{
    corpus_bleu, corpus_chrf, exact_match, sentence_bleu, sentence_chrf, token_accuracy, tokenize_13a, Bleu, BleuScore,
    BleuSmoothing, BleuTokenize, Chrf,
};
use tessera_text::Error;

/// Two decimals, as sacreBLEU prints scores.
const TOLERANCE: f64 = 0.005;

#[derive(Deserialize)]
struct Fixtures {
    sacrebleu_version: String,
    tokenize_13a: Vec<TokenizerCase>,
    corpus: Vec<CorpusCase>,
    sentence: Vec<SentenceCase>,
}

#[derive(Deserialize)]
struct TokenizerCase {
    input: String,
    output: String,
}

#[derive(Deserialize)]
struct Options {
    lowercase: bool,
    tokenize: String,
    smooth_method: String,
    smooth_value: Option<f64>,
    effective_order: bool,
    max_ngram_order: usize,
}

#[derive(Deserialize)]
struct BleuExpected {
    score: f64,
    precisions: Vec<f64>,
    bp: f64,
    sys_len: usize,
    ref_len: usize,
    counts: Vec<usize>,
    totals: Vec<usize>,
    formatted: String,
}

#[derive(Deserialize)]
struct CorpusCase {
    name: String,
    hypotheses: Vec<String>,
    references: Vec<Vec<String>>,
    options: Options,
    bleu: BleuExpected,
    chrf: f64,
    chrf_pp: f64,
    chrf_eps: f64,
}

#[derive(Deserialize)]
struct SentenceCase {
    hypothesis: String,
    references: Vec<String>,
    bleu: BleuExpected,
    chrf: f64,
}

fn fixtures() -> Fixtures {
    serde_json::from_str(include_str!("fixtures/sacrebleu_cases.json")).unwrap()
}

fn bleu_settings(o: &Options) -> Bleu {
    let smooth = match (o.smooth_method.as_str(), o.smooth_value) {
        ("exp", _) => BleuSmoothing::Exp,
        ("none", _) => BleuSmoothing::None,
        ("floor", v) => BleuSmoothing::Floor(v.unwrap_or(0.1)),
        ("add-k", v) => BleuSmoothing::AddK(v.unwrap_or(1.0)),
        (other, _) => panic!("unknown smoothing {other}"),
    };
    let tokenize = match o.tokenize.as_str() {
        "13a" => BleuTokenize::Mteval13a,
        "none" => BleuTokenize::None,
        other => panic!("unknown tokenizer {other}"),
    };
    Bleu {
        lowercase: o.lowercase,
        tokenize,
        smooth,
        max_ngram_order: o.max_ngram_order,
        effective_order: o.effective_order,
    }
}

/// Compares a BLEU score with sacreBLEU's, returning the largest score/precision difference.
fn check_bleu(what: &str, got: &BleuScore, want: &BleuExpected, compare_counts: bool) -> f64 {
    let mut worst = (got.score - want.score).abs();
    assert!(worst < TOLERANCE, "{what}: BLEU {} != sacreBLEU {}", got.score, want.score);
    assert!((got.brevity_penalty - want.bp).abs() < 1e-9, "{what}: BP {} != {}", got.brevity_penalty, want.bp);
    assert_eq!((got.sys_len, got.ref_len), (want.sys_len, want.ref_len), "{what}: lengths");
    assert_eq!(got.precisions.len(), want.precisions.len(), "{what}: orders");
    for (g, w) in got.precisions.iter().zip(&want.precisions) {
        assert!((g - w).abs() < TOLERANCE, "{what}: precisions {:?} != {:?}", got.precisions, want.precisions);
        worst = worst.max((g - w).abs());
    }
    if compare_counts {
        assert_eq!(got.counts, want.counts, "{what}: counts");
        assert_eq!(got.totals, want.totals, "{what}: totals");
    }
    assert_eq!(got.to_string(), want.formatted, "{what}: formatted");
    worst
}

fn check_close(what: &str, got: f64, want: f64) -> f64 {
    assert!((got - want).abs() < TOLERANCE, "{what}: {got} != sacreBLEU {want}");
    (got - want).abs()
}

#[test]
fn fixtures_are_large_enough() {
    let f = fixtures();
    assert!(f.sacrebleu_version.starts_with("2."), "made with sacreBLEU {}", f.sacrebleu_version);
    assert!(f.corpus.len() >= 25);
    assert!(!f.sentence.is_empty() && !f.tokenize_13a.is_empty());
}

#[test]
fn tokenizer_13a_matches_sacrebleu() {
    for case in fixtures().tokenize_13a {
        // The fixture applied sacreBLEU's `rstrip` first, as BLEU does.
        let input = case.input.trim_end_matches(|c: char| c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c));
        assert_eq!(tokenize_13a(input), case.output, "input {:?}", case.input);
    }
}

#[test]
fn corpus_bleu_matches_sacrebleu() {
    let mut worst: f64 = 0.0;
    for case in fixtures().corpus {
        let bleu = bleu_settings(&case.options);
        let got = bleu.corpus_score(&case.hypotheses, &case.references).unwrap();
        // sacreBLEU adds k to the counts it reports under add-k smoothing; ours are the raw counts.
        let raw_counts = !matches!(bleu.smooth, BleuSmoothing::AddK(_));
        worst = worst.max(check_bleu(&case.name, &got, &case.bleu, raw_counts));
    }
    eprintln!("corpus BLEU: max |ours - sacreBLEU| = {worst:e}");
}

#[test]
fn corpus_bleu_convenience_uses_sacrebleu_defaults() {
    for case in fixtures().corpus {
        let default_options = !case.options.lowercase
            && case.options.tokenize == "13a"
            && case.options.smooth_method == "exp"
            && !case.options.effective_order
            && case.options.max_ngram_order == 4;
        if default_options && case.references.len() == 1 {
            let got = corpus_bleu(&case.hypotheses, &case.references[0]).unwrap();
            check_bleu(&case.name, &got, &case.bleu, true);
        }
    }
}

#[test]
fn chrf_matches_sacrebleu() {
    let mut worst: f64 = 0.0;
    for case in fixtures().corpus {
        let lowercase = case.options.lowercase;
        let chrf = Chrf { lowercase, ..Chrf::default() };
        let chrf_pp = Chrf { lowercase, ..Chrf::plus_plus() };
        let chrf_eps = Chrf { lowercase, eps_smoothing: true, ..Chrf::default() };
        let (hyps, refs) = (&case.hypotheses, &case.references);
        let name = &case.name;
        worst =
            worst.max(check_close(&format!("{name} chrF"), chrf.corpus_score(hyps, refs).unwrap().score, case.chrf));
        let pp = chrf_pp.corpus_score(hyps, refs).unwrap().score;
        worst = worst.max(check_close(&format!("{name} chrF++"), pp, case.chrf_pp));
        let eps = chrf_eps.corpus_score(hyps, refs).unwrap().score;
        worst = worst.max(check_close(&format!("{name} chrF eps"), eps, case.chrf_eps));
        if !lowercase && refs.len() == 1 {
            check_close(&format!("{name} corpus_chrf"), corpus_chrf(hyps, &refs[0]).unwrap().score, case.chrf);
        }
    }
    eprintln!("chrF: max |ours - sacreBLEU| = {worst:e}");
}

#[test]
fn sentence_scores_match_sacrebleu() {
    for case in fixtures().sentence {
        let what = format!("sentence {:?}", case.hypothesis);
        let got = sentence_bleu(&case.hypothesis, &case.references).unwrap();
        check_bleu(&what, &got, &case.bleu, true);
        check_close(&what, sentence_chrf(&case.hypothesis, &case.references).unwrap().score, case.chrf);
    }
}

#[test]
fn mismatched_counts_name_both() {
    let err = corpus_bleu(&["a", "b", "c"], &["a", "b"]).unwrap_err();
    let message = err.to_string();
    assert!(matches!(err, Error::InvalidArgument { .. }));
    assert!(message.contains('3') && message.contains('2'), "{message}");

    let streams = [vec!["a", "b"], vec!["a"]];
    let err = Bleu::default().corpus_score(&["a", "b"], &streams).unwrap_err();
    assert!(err.to_string().contains("2 hypotheses") && err.to_string().contains("has 1"), "{err}");
    assert!(matches!(corpus_chrf(&["a"], &["a", "b"]), Err(Error::InvalidArgument { .. })));
    assert!(matches!(exact_match(&["a"], &["a", "b"]), Err(Error::InvalidArgument { .. })));
    assert!(matches!(token_accuracy(&[vec![1]], &[vec![1], vec![2]]), Err(Error::InvalidArgument { .. })));
}

#[test]
fn empty_corpus_is_an_error() {
    let none: [&str; 0] = [];
    assert!(matches!(corpus_bleu(&none, &none), Err(Error::EmptyInput(_))));
    assert!(matches!(corpus_chrf(&none, &none), Err(Error::EmptyInput(_))));
    assert!(matches!(exact_match(&none, &none), Err(Error::EmptyInput(_))));
    let no_streams: [[&str; 1]; 0] = [];
    assert!(matches!(Bleu::default().corpus_score(&["a"], &no_streams), Err(Error::EmptyInput(_))));
    assert!(matches!(Chrf::default().corpus_score(&["a"], &no_streams), Err(Error::EmptyInput(_))));
    assert!(matches!(sentence_bleu("a", &none), Err(Error::EmptyInput(_))));
    assert!(matches!(sentence_chrf("a", &none), Err(Error::EmptyInput(_))));
    let no_ids: [Vec<u32>; 0] = [];
    assert!(matches!(token_accuracy(&no_ids, &no_ids), Err(Error::EmptyInput(_))));
    assert!(matches!(token_accuracy(&[vec![1]], &[Vec::new()]), Err(Error::EmptyInput(_))));
}

#[test]
fn exact_match_compares_whole_strings() {
    assert_eq!(exact_match(&["a", "b"], &["a", "b"]).unwrap(), 1.0);
    assert_eq!(exact_match(&["a ", "B", ""], &["a", "b", ""]).unwrap(), 1.0 / 3.0);
    assert_eq!(exact_match(&["é"], &["e\u{301}"]).unwrap(), 0.0);
    assert_eq!(exact_match(&[String::from("x")], &["x"]).unwrap(), 1.0);
}

#[test]
fn token_accuracy_counts_reference_positions() {
    // Shorter hypothesis: the missing positions are wrong.
    assert_eq!(token_accuracy(&[vec![1, 2]], &[vec![1, 2, 3, 4]]).unwrap(), 0.5);
    // Longer hypothesis: extra tokens are ignored.
    assert_eq!(token_accuracy(&[vec![1, 2, 3, 4]], &[vec![1, 2]]).unwrap(), 1.0);
    // Position-wise: a shift makes everything after it wrong.
    assert_eq!(token_accuracy(&[vec![0, 1, 2]], &[vec![1, 2, 3]]).unwrap(), 0.0);
    // Pooled over the corpus, not averaged per sentence.
    let hyp: [&[u32]; 2] = [&[5], &[1, 2, 3]];
    let reference: [&[u32]; 2] = [&[6], &[1, 2, 3]];
    assert_eq!(token_accuracy(&hyp, &reference).unwrap(), 0.75);
    assert_eq!(token_accuracy(&[Vec::new()], &[vec![u32::MAX]]).unwrap(), 0.0);
}

#[test]
fn odd_inputs_do_not_panic() {
    let lines = [
        "",
        " ",
        "\n\n",
        "-\n",
        "&amp;&amp;&lt;",
        "<skipped><skipped>",
        "中文，标点。",
        "🙂🙂🙂",
        "e\u{301}\u{301}",
        "\u{0}\u{1c}\u{7f}",
        "İSTANBUL ΣΑΣ",
        "1,2.3-4-5..,,",
    ];
    let long = "word ".repeat(10_000);
    let mut hyps: Vec<String> = lines.iter().map(|s| s.to_string()).collect();
    hyps.push(long.clone());
    let mut refs: Vec<String> = lines.iter().rev().map(|s| s.to_string()).collect();
    refs.push(long);
    for lowercase in [false, true] {
        for smooth in [BleuSmoothing::Exp, BleuSmoothing::None, BleuSmoothing::Floor(0.0), BleuSmoothing::AddK(0.0)] {
            let bleu = Bleu { lowercase, smooth, ..Bleu::default() };
            let score = bleu.corpus_score(&hyps, &[&refs]).unwrap();
            assert!(score.score.is_finite() && (0.0..=100.0).contains(&score.score), "{score}");
        }
        for chrf in [Chrf { lowercase, ..Chrf::default() }, Chrf { lowercase, whitespace: true, ..Chrf::plus_plus() }] {
            let score = chrf.corpus_score(&hyps, &[&refs]).unwrap();
            assert!(score.score.is_finite() && (0.0..=100.0).contains(&score.score));
        }
    }
    for line in lines {
        let score = sentence_bleu(line, &[line]).unwrap();
        assert!(score.score.is_finite());
        assert!(sentence_chrf(line, &[line, ""]).unwrap().score.is_finite());
    }
}
