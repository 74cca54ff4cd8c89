//! n-gram models on real text: Kneser-Ney must beat add-one on held-out sentences, and the
//! training pipeline (segment -> vocab -> batches) must fit together.

use tessera_text::{pad_batch, NgramModel, Segmenter, Smoothing, StreamBatches, WordTokenizer};

fn sentences(text: &str, seg: &Segmenter) -> Vec<Vec<String>> {
    text.split(['。', '，', '\n'])
        .filter(|s| !s.trim().is_empty())
        .map(|s| seg.cut(s).into_iter().filter(|w| !w.trim().is_empty()).map(str::to_string).collect())
        .collect()
}

#[test]
fn kneser_ney_beats_add_one_on_held_out_chinese() {
    let seg = Segmenter::new();
    let all = sentences(include_str!("../benches/data/zh_sample.txt"), &seg);
    let (train, test) = all.split_at(all.len() * 4 / 5);
    for order in [2, 3] {
        let kn = NgramModel::train(order, train, Smoothing::KneserNey { discount: 0.75 }).unwrap();
        let add1 = NgramModel::train(order, train, Smoothing::AddK(1.0)).unwrap();
        let (p_kn, p_add1) = (kn.perplexity(test), add1.perplexity(test));
        assert!(p_kn.is_finite() && p_kn < p_add1, "order {order}: KN {p_kn} vs add-1 {p_add1}");
        // On its own training data the trigram model is far more confident than on new text.
        assert!(kn.perplexity(train) < p_kn);
    }
}

#[test]
fn shakespeare_trigram_when_available() {
    let Ok(root) = std::env::var("TESSERA_DATA") else {
        eprintln!("skipping: set TESSERA_DATA=/path/to/shared/data to train on shakespeare.txt");
        return;
    };
    let text = tessera_text::io::read_text(std::path::Path::new(&root).join("text/shakespeare.txt")).unwrap();
    let lines: Vec<Vec<String>> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| WordTokenizer::words(&l.to_lowercase()).map(str::to_string).collect())
        .collect();
    let (train, test) = lines.split_at(lines.len() * 9 / 10);
    let kn = NgramModel::train(3, train, Smoothing::KneserNey { discount: 0.75 }).unwrap();
    let add1 = NgramModel::train(3, train, Smoothing::AddK(1.0)).unwrap();
    let (p_kn, p_add1) = (kn.perplexity(test), add1.perplexity(test));
    eprintln!("shakespeare trigram perplexity: KN {p_kn:.1}, add-1 {p_add1:.1}");
    assert!(p_kn < 400.0 && p_kn < p_add1 / 3.0);
}

#[test]
fn tokenize_pad_and_stream_pipeline() {
    let text = "to be or not to be\nthat is the question\n";
    let tok = WordTokenizer::train(text.lines(), 1, None);
    let seqs: Vec<Vec<u32>> = text.lines().map(|l| tok.encode(l)).collect();
    let batch = pad_batch(&seqs, tok.vocab().pad_id(), None);
    assert_eq!(batch.shape, [2, 6]);
    assert_eq!(batch.lengths, [6, 4]);
    let stream: Vec<u32> = seqs.concat();
    let windows: Vec<_> = StreamBatches::new(&stream, 2, 3).unwrap().collect();
    assert_eq!(windows.len(), 2);
    for w in &windows {
        assert_eq!(w.input.len(), w.shape[0] * w.shape[1]);
    }
    // Row 0 of consecutive windows continues the same stretch of text.
    assert_eq!(windows[0].target[2], windows[1].input[0]);
}
