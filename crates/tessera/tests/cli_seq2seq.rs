//! `tessera train seq2seq` and `tessera translate`: bad lines of a TSV are reported by number
//! (or refused with --strict), the test set is decoded by beam search and scored, a run
//! resumes, and translate writes one line per input line and draws attention maps.

mod common;

use common::{fresh_dir, head, ok, refused};
use std::path::Path;
use tessera_nn::state_dict::{read_safetensors, to_safetensors, write_atomic};

/// `n` pairs of a word over `abcde` and its reversal, from a fixed generator.
fn reversal_pairs(n: usize, seed: u64) -> Vec<String> {
    let mut state = seed;
    let mut next = |m: u64| {
        state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        (state >> 33) % m
    };
    (0..n)
        .map(|_| {
            let word: String = (0..2 + next(4)).map(|_| (b'a' + next(5) as u8) as char).collect();
            format!("{word}\t{}", word.chars().rev().collect::<String>())
        })
        .collect()
}

fn write(dir: &Path, name: &str, lines: &[String]) {
    std::fs::write(dir.join(name), lines.join("\n") + "\n").unwrap();
}

const SMALL_LSTM: [&str; 12] =
    ["--embed", "16", "--hidden", "32", "--layers", "1", "--batch-size", "16", "--warmup", "1", "--lr", "0.01"];

#[test]
fn lstm_run_reports_bad_lines_scores_the_test_set_and_translates() {
    let dir = fresh_dir("seq2seq-lstm");
    let mut train = reversal_pairs(200, 1);
    train.insert(10, "no tab here".into());
    train.insert(20, "abc\t".into());
    train.insert(30, "abcdeabcde\tedcbaedcba".into());
    write(&dir, "train.tsv", &train);
    let mut test = reversal_pairs(20, 2);
    test.push("abz\tzba".into());
    write(&dir, "test.tsv", &test);
    let data = ["--pairs", "train.tsv", "--test", "test.tsv", "--max-source-len", "8", "--max-target-len", "8"];
    let rest = ["--epochs", "2", "--scheduled-sampling", "0.3", "--attention", "additive", "--out", "run"];
    let args = [&["train", "seq2seq"][..], &data, &SMALL_LSTM, &rest].concat();
    let (out, err) = ok(&dir, &args);
    assert!(err.contains("without a tab (line 11)"), "{err}");
    assert!(err.contains("empty target (line 21)"), "{err}");
    assert!(err.contains("over 8 tokens (line 31)"), "{err}");
    assert!(err.contains("test.tsv: 20 pairs; 1 line skipped") && err.contains("(line 21)"), "{err}");
    assert!(out.contains("test (20 pairs, beam 4): exact match"), "{out}");
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("run/results.json")).unwrap()).unwrap();
    for key in ["test_exact_match", "test_bleu", "test_chrf", "val_exact_match"] {
        assert!(results[key].is_number(), "{key} in {results}");
    }
    let metrics = std::fs::read_to_string(dir.join("run/metrics.jsonl")).unwrap();
    assert!(metrics.contains("val_bleu") && metrics.contains("val_exact_match"), "{metrics}");

    std::fs::write(dir.join("in.txt"), "abc\n\ndeab\nabz\n").unwrap();
    let translate = ["translate", "--checkpoint", "run", "in.txt", "--beam", "3", "--attention-map", "map.svg"];
    let (out, err) = ok(&dir, &[&translate[..], &["--map-line", "3"]].concat());
    assert_eq!(out.lines().count(), 4, "{out}");
    assert_eq!(out.lines().nth(1), Some(""), "an empty line translates to an empty line: {out}");
    assert!(err.contains("line 4: 'z'"), "{err}");
    let svg = std::fs::read_to_string(dir.join("map.svg")).unwrap();
    assert_eq!(svg.matches(r#"<g class="panel""#).count(), 1);
    assert!(svg.contains(r#"data-title="additive attention""#), "{svg}");

    // Translations are printed batch by batch, and a reader that leaves stops the decoding: the
    // 300,000 lines would take minutes.
    write(&dir, "many.txt", &vec!["abcde".to_string(); 300_000]);
    let (first, code, after) = head(&dir, &["translate", "--checkpoint", "run", "many.txt", "--batch-size", "1"], 1);
    assert!(first.ends_with('\n'), "the first translation arrives whole: {first:?}");
    assert_eq!(code, Some(141), "a closed pipe ends the decoding");
    assert!(after.as_secs() < 60, "decoding went on after its reader left");

    let strict = [&args[..args.len() - 2], &["--out", "strict", "--strict"]].concat();
    let err = refused(&dir, &strict);
    assert!(err.contains("train.tsv") && err.contains("strict"), "{err}");
}

#[test]
fn transformer_on_the_dates_task_resumes_and_draws_every_head() {
    let dir = fresh_dir("seq2seq-transformer");
    let model = ["--arch", "transformer", "--embed", "16", "--heads", "2", "--feedforward", "32", "--layers", "2"];
    let data = ["--dates-train", "300", "--dates-eval", "30", "--batch-size", "32", "--warmup", "1"];
    let rest = ["--epochs", "1", "--beam", "1", "--shared-vocab", "--tie-embeddings", "--out", "run"];
    let args = [&["train", "seq2seq"][..], &model, &data, &rest].concat();
    let (out, _) = ok(&dir, &args);
    assert!(out.contains("the dates task (generated, seed 0): 300 / 30 / 30 pairs"), "{out}");
    // One vocabulary for both sides: the target side knows the source's letters too.
    let vocab = |side: &str| std::fs::read_to_string(dir.join(format!("run/{side}_tokenizer/vocab.json"))).unwrap();
    assert_eq!(vocab("source"), vocab("target"));
    let (out, err) = ok(&dir, &["train", "seq2seq", "--resume", "run", "--epochs", "2"]);
    assert!(out.contains("resumed after epoch 1"), "{out}");
    assert!(format!("{out}{err}").contains("epoch 2/2"), "{out}{err}");
    std::fs::write(dir.join("in.txt"), "March 3, 1999\n一九九九年三月三日\n").unwrap();
    let (out, _) = ok(&dir, &["translate", "--checkpoint", "run", "in.txt", "--attention-map", "map.svg"]);
    assert_eq!(out.lines().count(), 2, "{out}");
    let svg = std::fs::read_to_string(dir.join("map.svg")).unwrap();
    assert_eq!(svg.matches(r#"<g class="panel""#).count(), 4);
    assert!(svg.contains(r#"data-title="layer 1 head 1""#));
    let err =
        refused(&dir, &["translate", "--checkpoint", "run", "in.txt", "--attention-map", "m.svg", "--map-line", "9"]);
    assert!(err.contains("--map-line 9: the input has 2 lines"), "{err}");

    // A config that claims a wider model than its weights is refused before it sizes anything.
    let best = dir.join("run/checkpoints/best.safetensors");
    let (tensors, mut meta) = read_safetensors(&best).unwrap();
    let mut config: serde_json::Value = serde_json::from_str(&meta["config"]).unwrap();
    config["model"]["d_model"] = 1_000_000.into();
    meta.insert("config".into(), config.to_string());
    let wide = dir.join("run/checkpoints/wide.safetensors");
    write_atomic(&wide, &to_safetensors(&tensors, &meta).unwrap()).unwrap();
    let err = refused(&dir, &["translate", "--checkpoint", "run/checkpoints/wide.safetensors", "in.txt"]);
    assert!(err.contains("the config does not belong to these weights"), "{err}");
}

#[test]
fn a_model_too_large_for_the_memory_is_refused_before_the_run_starts() {
    let dir = fresh_dir("seq2seq-too-large");
    for (arch, size) in [("lstm-attention", ["--hidden", "400000"]), ("transformer", ["--layers", "100000"])] {
        let args = ["train", "seq2seq", "--arch", arch, "--dates-train", "50", "--dates-eval", "10", "--out", "big"];
        let err = refused(&dir, &[&args[..], &size].concat());
        assert!(err.contains("needs about") && err.contains("of memory is available"), "{arch}: {err}");
        assert!(err.contains(&size[1].to_string()), "{arch}: the error names the size: {err}");
        assert!(!dir.join("big").exists(), "{arch}: nothing is written");
    }
}
