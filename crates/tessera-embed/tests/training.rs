//! word2vec training outcomes on small corpora with a known structure, and its reproducibility.

use tessera_embed::eval::Searcher;
use tessera_embed::train::{self, Model};
use tessera_embed::{Corpus, CorpusBuilder, Embeddings, Lang, SharedUpdates, Word2VecConfig, MAX_SENTENCE_WORDS};

/// Two topics that never share a sentence, joined by common function words: a working trainer
/// puts each topic's words near each other and far from the other topic's.
fn topic_corpus() -> Corpus {
    let glue = ["the", "a", "and", "with", "of"];
    let mut b = CorpusBuilder::new(Lang::En);
    let mut state = 12345u64;
    let mut next = |n: usize| {
        state = state.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        ((state >> 33) % n as u64) as usize
    };
    for s in 0..1200 {
        let topic = if s % 2 == 0 { &ANIMALS } else { &TOOLS };
        let words: Vec<&str> =
            (0..10).map(|k| if k % 3 == 2 { glue[next(glue.len())] } else { topic[next(topic.len())] }).collect();
        b.add_line(&words.join(" "));
    }
    b.build(1).unwrap()
}

fn mean_cosine(s: &Searcher<'_>, a: &[&str], b: &[&str]) -> f64 {
    let mut sum = 0.0;
    let mut n = 0;
    for x in a {
        for y in b {
            if x != y {
                sum += s.similarity(x, y).unwrap() as f64;
                n += 1;
            }
        }
    }
    sum / n as f64
}

const ANIMALS: [&str; 6] = ["cat", "dog", "horse", "cow", "sheep", "goat"];
const TOOLS: [&str; 6] = ["hammer", "saw", "drill", "wrench", "chisel", "file"];

/// Mean cosine within the topics and across them, and whether every topic word's five nearest
/// neighbours are the other five words of its topic.
fn separation(v: &Embeddings) -> (f64, f64, bool) {
    let s = Searcher::new(v, None);
    let within = (mean_cosine(&s, &ANIMALS, &ANIMALS) + mean_cosine(&s, &TOOLS, &TOOLS)) / 2.0;
    let pure = [ANIMALS, TOOLS].iter().all(|topic| {
        topic.iter().all(|w| s.neighbours(w, 5).unwrap().iter().all(|n| topic.contains(&n.word.as_str())))
    });
    (within, mean_cosine(&s, &ANIMALS, &TOOLS), pure)
}

#[test]
fn both_models_learn_the_topics_on_one_and_two_threads() {
    let corpus = topic_corpus();
    for (model, threads, updates) in [
        (Model::SkipGram, 1, SharedUpdates::Plain),
        (Model::Cbow, 1, SharedUpdates::Plain),
        (Model::SkipGram, 2, SharedUpdates::Plain),
        (Model::SkipGram, 2, SharedUpdates::Atomic),
    ] {
        let cfg =
            Word2VecConfig { model, dim: 24, epochs: 3, threads, updates, seed: 3, sample: 0.0, ..Default::default() };
        let (v, report) = train::train(&corpus, &cfg, &mut |_| {}).unwrap();
        let (within, across, pure) = separation(&v);
        let what = format!("{model:?} x{threads} {updates:?}: within {within:.3}, across {across:.3}");
        eprintln!("{what}");
        assert!(pure && within > across + 0.15, "{what}, nearest neighbours all in the topic: {pure}");
        assert!(report.final_loss.is_finite() && report.final_loss < 0.69, "loss {}", report.final_loss);
        assert_eq!(report.words, 3 * 12_000);
    }
}

#[test]
fn one_thread_and_a_seed_reproduce_a_run_exactly() {
    let corpus = topic_corpus();
    let cfg = Word2VecConfig { dim: 8, epochs: 1, threads: 1, seed: 9, ..Default::default() };
    let run = |cfg: &Word2VecConfig| train::train(&corpus, cfg, &mut |_| {}).unwrap().0;
    let (a, b) = (run(&cfg), run(&cfg));
    assert_eq!(a.as_slice(), b.as_slice());
    let c = run(&Word2VecConfig { seed: 10, ..cfg.clone() });
    assert_ne!(a.as_slice(), c.as_slice());
}

#[test]
fn progress_reports_reach_the_total_with_a_falling_learning_rate() {
    let corpus = topic_corpus();
    let cfg = Word2VecConfig { dim: 8, epochs: 2, ..Default::default() };
    let mut seen = Vec::new();
    train::train(&corpus, &cfg, &mut |s| seen.push(*s)).unwrap();
    let last = seen.last().unwrap();
    assert_eq!((last.words_done, last.words_total), (24_000, 24_000));
    assert!((last.alpha - 0.025 * 1e-4).abs() < 1e-9, "alpha ends at alpha * 1e-4, got {}", last.alpha);
    assert!(seen.windows(2).all(|w| w[0].words_done <= w[1].words_done));
}

#[test]
fn corpus_keeps_frequent_words_orders_them_and_cuts_long_lines() {
    let mut b = CorpusBuilder::new(Lang::En);
    b.add_line("B a b, c");
    b.add_line("");
    b.add_line(&"x ".repeat(MAX_SENTENCE_WORDS + 5));
    let c = b.build(2).unwrap();
    let words: Vec<&str> = c.vocab.words().iter().collect();
    assert_eq!(words, ["x", "b"]);
    assert_eq!(c.vocab.counts(), [MAX_SENTENCE_WORDS as u64 + 5, 2]);
    let lens: Vec<usize> = c.sentences().map(<[u32]>::len).collect();
    assert_eq!(lens, [2, MAX_SENTENCE_WORDS, 5]);
    assert_eq!((c.words_read, c.lines), (MAX_SENTENCE_WORDS as u64 + 10, 3));
    assert!(CorpusBuilder::new(Lang::En).build(1).unwrap_err().to_string().contains("no word occurs at least 1 times"));
}

#[test]
fn chinese_lines_are_segmented_into_words() {
    let mut b = CorpusBuilder::new(Lang::Zh);
    b.add_line("我来到北京清华大学");
    b.add_line("我 来到 Beijing");
    let c = b.build(2).unwrap();
    let words: Vec<&str> = c.vocab.words().iter().collect();
    assert_eq!(words, ["我", "来到"]);
    let c = {
        let mut b = CorpusBuilder::new(Lang::Zh);
        b.add_line("我来到北京清华大学");
        b.build(1).unwrap()
    };
    let words: Vec<&str> = c.vocab.words().iter().collect();
    assert_eq!(words, ["我", "来到", "北京", "清华大学"]);
}

#[test]
fn bad_settings_are_refused() {
    let corpus = topic_corpus();
    for cfg in [
        Word2VecConfig { dim: 0, ..Default::default() },
        Word2VecConfig { negative: 0, ..Default::default() },
        Word2VecConfig { alpha: f64::NAN, ..Default::default() },
        Word2VecConfig { sample: -1.0, ..Default::default() },
        Word2VecConfig { threads: 0, ..Default::default() },
    ] {
        let err = train::train(&corpus, &cfg, &mut |_| {}).unwrap_err();
        assert!(err.to_string().starts_with("word2vec: "), "{err}");
    }
}
