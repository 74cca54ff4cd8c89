//! Evaluation on hand-made embeddings whose answers are known.

use tessera_embed::eval::{self, ranks, spearman, Searcher};
use tessera_embed::Embeddings;

/// Unit vectors at the given angles (degrees) in the plane.
fn at_angles(words: &[&str], degrees: &[f64]) -> Embeddings {
    let data = degrees.iter().flat_map(|d| [d.to_radians().cos() as f32, d.to_radians().sin() as f32]).collect();
    Embeddings::from_parts(words, 2, data).unwrap()
}

#[test]
fn spearman_with_ties_matches_the_hand_computed_value() {
    // Ranks x: 1, 2.5, 2.5, 4, 5; ranks y: 2, 1, 3.5, 3.5, 5; both means 3;
    // Σ dx dy = 7.25, Σ dx² = Σ dy² = 9.5, so rho = 7.25 / 9.5 = 29 / 38.
    let (x, y) = ([1.0, 2.0, 2.0, 3.0, 4.0], [2.0, 1.0, 3.0, 3.0, 5.0]);
    assert_eq!(ranks(&x), [1.0, 2.5, 2.5, 4.0, 5.0]);
    assert_eq!(ranks(&y), [2.0, 1.0, 3.5, 3.5, 5.0]);
    assert!((spearman(&x, &y) - 29.0 / 38.0).abs() < 1e-12);
    assert!(spearman(&[1.0], &[2.0]).is_nan());
}

#[test]
fn neighbours_come_in_cosine_order_without_the_word_itself() {
    let e = at_angles(&["a", "b", "c", "d", "e"], &[0.0, 10.0, 30.0, 90.0, 180.0]);
    let s = Searcher::new(&e, None);
    let n = s.neighbours("a", 3).unwrap();
    let words: Vec<&str> = n.iter().map(|n| n.word.as_str()).collect();
    assert_eq!(words, ["b", "c", "d"]);
    assert!((n[0].similarity - 10f32.to_radians().cos()).abs() < 1e-6);
    assert!((n[2].similarity).abs() < 1e-6);
    // Restricted to the first three words, "d" and "e" are out of reach.
    let top3 = Searcher::new(&e, Some(3));
    assert_eq!(top3.neighbours("a", 5).unwrap().len(), 2);
    let err = top3.neighbours("e", 1).unwrap_err();
    assert_eq!(err.to_string(), "`e` is not in the vocabulary (its 3 most frequent words)");
    // Case is ignored when the exact word is absent.
    assert_eq!(s.neighbours("A", 1).unwrap()[0].word, "b");
}

#[test]
fn analogy_leaves_out_its_three_words() {
    // king - man + woman points almost exactly at woman: she would win if she were allowed.
    let words = ["man", "woman", "king", "queen", "prince"];
    let data = vec![1.0, 0.0, 0.0, 1.0, 1.0, 0.2, 0.3, 1.0, 1.0, 0.5];
    let e = Embeddings::from_parts(words, 2, data).unwrap();
    let s = Searcher::new(&e, None);
    let best = s.analogy("man", "king", "woman", 2).unwrap();
    assert!(best.iter().all(|n| !["man", "king", "woman"].contains(&n.word.as_str())));
    assert_eq!(best[0].word, "queen");
    let query = s.analogy_query(0, 2, 1);
    assert_eq!(s.nearest(&query, 1, &[])[0].0, 1, "without the exclusion the answer is `woman`");
    assert!(s.analogy("man", "king", "nobody", 1).is_err());
}

#[test]
fn analogy_accuracy_per_section_counts_oov_and_respects_top_n() {
    let words = ["man", "woman", "king", "queen", "boy", "girl", "rare"];
    // Axes: (person, female, royal); "boy"/"girl" are the young, anti-royal side.
    let data = vec![
        1.0, 0.0, 0.0, //
        1.0, 1.0, 0.0, //
        1.0, 0.0, 1.0, //
        1.0, 1.0, 1.0, //
        1.0, 0.0, -1.0, //
        1.0, 1.0, -1.0, //
        -1.0, -1.0, 0.0,
    ];
    let e = Embeddings::from_parts(words, 3, data).unwrap();
    let text = ": family\nMan Woman King Queen\nman woman boy girl\nman woman king rare\n: gram-test\nman woman unknown queen\n";
    let sections = eval::parse_analogies(text, "q.txt").unwrap();
    let all = eval::evaluate_analogies(&Searcher::new(&e, None), &sections, 2);
    assert_eq!(all.sections[0].name, "family");
    assert_eq!((all.sections[0].correct, all.sections[0].asked, all.sections[0].oov), (2, 3, 0));
    assert_eq!((all.sections[1].asked, all.sections[1].oov), (0, 1));
    assert_eq!((all.total.correct, all.total.asked, all.total.oov), (2, 3, 1));
    assert_eq!((all.semantic.asked, all.syntactic.oov), (3, 1));
    // With the top 6 words only, the question ending in "rare" is out of vocabulary.
    let top = eval::evaluate_analogies(&Searcher::new(&e, Some(6)), &sections, 1);
    assert_eq!((top.sections[0].correct, top.sections[0].asked, top.sections[0].oov), (2, 2, 1));
}

#[test]
fn similarity_scores_pairs_in_vocabulary_and_counts_the_rest() {
    let e = at_angles(&["a", "b", "c", "d"], &[0.0, 20.0, 60.0, 120.0]);
    let pairs = eval::parse_word_pairs("a\tb\t9\na\tc\t5\na\td\t1\nb\tzz\t3\n", "p.tsv").unwrap();
    let score = eval::evaluate_similarity(&Searcher::new(&e, None), &pairs);
    assert_eq!((score.pairs, score.oov), (3, 1));
    assert!((score.spearman - 1.0).abs() < 1e-12, "cosines fall as the scores do");
    assert_eq!(score.oov_examples, [("b".to_string(), "zz".to_string())]);
}

fn shared_data() -> Option<std::path::PathBuf> {
    let root = match std::env::var("TESSERA_DATA") {
        Ok(d) => std::path::PathBuf::from(d),
        Err(_) => std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"),
    };
    root.join("eval").is_dir().then_some(root)
}

#[test]
fn the_standard_benchmark_files_parse_when_available() {
    let Some(root) = shared_data() else {
        eprintln!("skipping: ../shared/data/eval is absent (set TESSERA_DATA=/path/to/shared/data)");
        return;
    };
    let pairs = eval::read_word_pairs(&root.join("eval/wordsim353.tsv")).unwrap();
    assert_eq!(pairs.len(), 353);
    let sections = eval::read_analogies(&root.join("eval/questions-words.txt")).unwrap();
    assert_eq!(sections.len(), 14);
    assert_eq!(sections.iter().map(|s| s.questions.len()).sum::<usize>(), 19_544);
    assert_eq!(sections.iter().filter(|s| s.name.starts_with("gram")).count(), 9);
}
