//! `tessera generate --attention-map`: a tiny GPT's self-attention drawn as one SVG panel per
//! layer and head over the last tokens of its context; an LSTM checkpoint is refused.

mod common;

use common::{fresh_dir, ok, refused};

/// A small corpus of short lines (enough for the train / validation splits of both models).
fn write_corpus(dir: &std::path::Path) -> String {
    let words = ["to be", "or not", "that is", "the question", "whether tis", "nobler in", "the mind"];
    let lines: Vec<String> = (0..60).map(|i| format!("{} {}", words[i % 7], words[(i * 3 + 1) % 7])).collect();
    let path = dir.join("corpus.txt");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    path.to_str().unwrap().to_string()
}

#[test]
fn gpt_attention_map_has_a_panel_per_layer_and_head_and_lstm_is_refused() {
    let dir = fresh_dir("attention-map");
    let corpus = write_corpus(&dir);
    let model = ["--layers", "2", "--heads", "2", "--embed", "16", "--block-size", "16", "--batch-size", "4"];
    let schedule = ["--iters", "4", "--warmup", "1", "--eval-interval", "2", "--eval-iters", "1"];
    let mut train = vec!["train", "gpt", "--corpus", &corpus, "--out", "gpt"];
    train.extend(model);
    train.extend(schedule);
    ok(&dir, &train);
    let generate = ["generate", "--checkpoint", "gpt", "--prompt", "to be", "--tokens", "20", "--attention-map"];
    let (text, said) = ok(&dir, &[&generate[..], &["map.svg"]].concat());
    assert!(text.starts_with("to be"), "{text}");
    assert!(said.contains("wrote the attention map (2 layers × 2 heads over 16 tokens) to map.svg"), "{said}");
    let svg = std::fs::read_to_string(dir.join("map.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.ends_with("</svg>\n"));
    assert_eq!(svg.matches(r#"<g class="panel""#).count(), 4);
    for title in ["layer 0 head 0", "layer 0 head 1", "layer 1 head 0", "layer 1 head 1"] {
        assert!(svg.contains(&format!(r#"data-title="{title}""#)), "no panel {title}");
    }
    // 1 + 5 prompt tokens and 20 sampled ones, of which the last 16 (the context) are drawn:
    // each labels a row of every panel.
    assert_eq!(svg.matches(r#"text-anchor="end">"#).count(), 4 * 16);
    assert!(svg.contains(">␣</text>"), "spaces are drawn visibly");

    let lstm = ["train", "lm", "--corpus", &corpus, "--out", "lstm", "--tokenizer", "char", "--epochs", "1"];
    let small = ["--embed", "8", "--hidden", "8", "--seq-len", "8", "--batch-size", "8"];
    ok(&dir, &[&lstm[..], &small[..]].concat());
    let err = refused(&dir, &["generate", "--checkpoint", "lstm", "--attention-map", "lstm.svg"]);
    assert!(err.contains("attention maps need a model with attention: `tessera train gpt`"), "{err}");
    assert!(!dir.join("lstm.svg").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
