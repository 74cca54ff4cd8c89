//! `tessera train mlp` end to end on the shipped MNIST sample: a run resumed with `--resume`
//! ends with the weights and optimizer state of an unbroken run (L1/L2 penalties included), and
//! records every epoch once (in mixed precision too, loss scale included); `eval` prints the
//! per-class table and draws the confusion matrix.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use tessera_nn::state_dict::read_safetensors;

fn tessera(args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_tessera")).args(args).output().expect("running tessera");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "tessera {args:?} failed:\n{stdout}\n{stderr}");
    stdout.into_owned()
}

/// An empty folder for one test, under the system's temporary directory.
fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tessera-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// The tensors of a run's last checkpoint, as f64 values by name.
fn last_checkpoint(run: &Path) -> Vec<(String, Vec<f64>)> {
    let (tensors, _) = read_safetensors(&run.join("checkpoints/last.safetensors")).unwrap();
    tensors.into_iter().map(|(n, t)| (n, t.to_vec_f64().unwrap())).collect()
}

#[test]
fn resumed_mlp_run_matches_an_unbroken_one() {
    let dir = fresh_dir("cli-mlp");
    let (unbroken, resumed) = (dir.join("unbroken"), dir.join("resumed"));
    // With penalties, which `--resume` must take from the run's config to match.
    let common = ["train", "mlp", "--batch-size", "64", "--seed", "3", "--l1", "1e-5", "--l2", "1e-4", "--out"];
    let printed = tessera(&[&common[..], &[unbroken.to_str().unwrap(), "--epochs", "2"]].concat());
    assert!(printed.contains("test accuracy"), "{printed}");
    tessera(&[&common[..], &[resumed.to_str().unwrap(), "--epochs", "1"]].concat());
    let printed = tessera(&["train", "mlp", "--resume", resumed.to_str().unwrap(), "--epochs", "2"]);
    assert!(printed.contains("resumed after epoch 1"), "{printed}");

    assert_eq!(last_checkpoint(&resumed), last_checkpoint(&unbroken), "resumed weights or optimizer state differ");
    let metrics = std::fs::read_to_string(resumed.join("metrics.jsonl")).unwrap();
    let epochs: Vec<u64> =
        metrics.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["epoch"].as_u64().unwrap()).collect();
    assert_eq!(epochs, [1, 2], "metrics after resuming: {metrics}");
    let results: Value = serde_json::from_str(&std::fs::read_to_string(resumed.join("results.json")).unwrap()).unwrap();
    assert_eq!(results["epochs"].as_u64(), Some(2));
    let config: Value = serde_json::from_str(&std::fs::read_to_string(resumed.join("config.json")).unwrap()).unwrap();
    assert_eq!((config["train"]["l1"].as_f64(), config["train"]["l2"].as_f64()), (Some(1e-5), Some(1e-4)));
    let penalties: Vec<f64> =
        metrics.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["penalty"].as_f64().unwrap()).collect();
    assert!(penalties.iter().all(|&p| p > 0.0), "the penalty is logged every epoch: {metrics}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn resumed_f16_run_matches_an_unbroken_one_and_keeps_its_loss_scale() {
    let dir = fresh_dir("cli-mlp-f16");
    let (unbroken, resumed) = (dir.join("unbroken"), dir.join("resumed"));
    let common = ["train", "mlp", "--batch-size", "64", "--seed", "5", "--precision", "f16", "--out"];
    let printed = tessera(&[&common[..], &[unbroken.to_str().unwrap(), "--epochs", "2"]].concat());
    let accuracy = number_after(&printed, "test accuracy");
    assert!(accuracy > 85.0, "{printed}");
    tessera(&[&common[..], &[resumed.to_str().unwrap(), "--epochs", "1"]].concat());
    tessera(&["train", "mlp", "--resume", resumed.to_str().unwrap(), "--epochs", "2"]);
    assert_eq!(last_checkpoint(&resumed), last_checkpoint(&unbroken), "resumed weights or optimizer state differ");
    let scale = |run: &Path| {
        let (_, meta) = read_safetensors(&run.join("checkpoints/last.safetensors")).unwrap();
        let get = |key: &str| meta.get(key).cloned().expect("an f16 run's checkpoint records its loss scale");
        (get("loss_scale"), get("loss_scale_clean_steps"))
    };
    assert_eq!(scale(&resumed), scale(&unbroken));
    assert_ne!(scale(&resumed).1, "0", "the clean steps since the scale last changed carry over");
    let config: Value = serde_json::from_str(&std::fs::read_to_string(resumed.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["train"]["precision"].as_str(), Some("f16"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The number after `label` in `text` (up to a space, `%`, `,` or `"`).
fn number_after(text: &str, label: &str) -> f64 {
    let rest = &text[text.find(label).unwrap_or_else(|| panic!("no '{label}' in {text}")) + label.len()..];
    rest.trim_start().split([' ', '%', ',', '"']).next().unwrap().parse().unwrap()
}

/// `(true, predicted, count)` of every cell of a confusion-matrix picture.
fn svg_cells(svg: &str) -> Vec<(u64, u64, u64)> {
    let attr = |s: &str, name: &str| number_after(s, &format!("{name}=\"")) as u64;
    svg.split("<rect class=\"cell\"")
        .skip(1)
        .map(|s| (attr(s, "data-true"), attr(s, "data-predicted"), attr(s, "data-count")))
        .collect()
}

#[test]
fn eval_prints_per_class_metrics_and_draws_the_confusion_matrix() {
    let dir = fresh_dir("cli-eval");
    let run = dir.join("run");
    tessera(&["train", "mlp", "--epochs", "1", "--seed", "1", "--out", run.to_str().unwrap()]);
    let printed = tessera(&["eval", "--checkpoint", run.to_str().unwrap()]);
    let accuracy = number_after(&printed, "accuracy") / 100.0;
    assert!(printed.contains("on 1000 images"), "the sample's test part: {printed}");
    for heading in ["precision    recall  f1-score   support", "macro avg", "weighted avg"] {
        assert!(printed.contains(heading), "no '{heading}' in {printed}");
    }
    let table: Vec<&str> = printed.lines().filter(|l| l.split_whitespace().count() == 5).collect();
    let classes: Vec<u64> = table.iter().filter_map(|l| l.split_whitespace().next()?.parse().ok()).collect();
    assert_eq!(classes, (0..10).collect::<Vec<u64>>(), "one row per digit: {printed}");
    let table_accuracy = number_after(&printed, "\n    accuracy");
    assert!((table_accuracy - accuracy).abs() <= 0.0051, "table {table_accuracy} vs line {accuracy}: {printed}");

    let svg_path = run.join("confusion_matrix.svg");
    assert!(printed.contains(&format!("wrote the confusion matrix to {}", svg_path.display())), "{printed}");
    let cells = svg_cells(&std::fs::read_to_string(&svg_path).unwrap());
    assert_eq!(cells.len(), 100);
    let total: u64 = cells.iter().map(|c| c.2).sum();
    let correct: u64 = cells.iter().filter(|c| c.0 == c.1).map(|c| c.2).sum();
    assert_eq!(total, 1000, "the sample's test part");
    assert!((correct as f64 / total as f64 - accuracy).abs() < 5e-5, "{correct}/{total} vs {accuracy}");

    // A checkpoint inside the run draws there too; `--confusion-matrix` chooses another place.
    let other = dir.join("cm.svg");
    let best = run.join("checkpoints/best.safetensors");
    let printed =
        tessera(&["eval", "--checkpoint", best.to_str().unwrap(), "--confusion-matrix", other.to_str().unwrap()]);
    assert!(printed.contains(&format!("wrote the confusion matrix to {}", other.display())), "{printed}");
    assert_eq!(svg_cells(&std::fs::read_to_string(&other).unwrap()).len(), 100);
    std::fs::remove_dir_all(&dir).unwrap();
}
