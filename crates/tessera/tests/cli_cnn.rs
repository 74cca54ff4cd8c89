//! `tessera train cnn` end to end on a slice of the shipped MNIST sample: a resumed run equals an
//! unbroken one (dropout masks, augmentation and batch norm's running statistics included), the
//! convnet learns, and `eval`, `predict`, `explain`, `summary` and `tune` take its checkpoints.

use std::path::Path;
use tessera_nn::state_dict::read_safetensors;

mod common;
use common::{fresh_dir, number_after, ok, refused, write_slice};

fn model_tensors(run: &Path) -> Vec<(String, Vec<f64>)> {
    let (tensors, _) = read_safetensors(&run.join("checkpoints/last.safetensors")).unwrap();
    tensors.into_iter().filter(|(n, _)| n.starts_with("model.")).map(|(n, t)| (n, t.to_vec_f64().unwrap())).collect()
}

#[test]
fn a_resumed_convnet_run_with_batch_norm_and_augmentation_matches_an_unbroken_one() {
    let dir = fresh_dir("cnn-resume");
    write_slice(&dir, 10);
    let common =
        ["train", "cnn", "--data", "slice.csv", "--batch-norm", "--augment", "--batch-size", "50", "--seed", "4"];
    ok(&dir, &[&common[..], &["--epochs", "2", "--out", "unbroken"]].concat());
    ok(&dir, &[&common[..], &["--epochs", "1", "--out", "resumed"]].concat());
    ok(&dir, &["train", "cnn", "--resume", "resumed", "--epochs", "2"]);
    let (a, b) = (model_tensors(&dir.join("unbroken")), model_tensors(&dir.join("resumed")));
    let names: Vec<&str> = a.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"model.2.running_mean") && names.contains(&"model.2.num_batches_tracked"), "{names:?}");
    assert_eq!(a, b, "the resumed run's weights and running statistics");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn the_convnet_learns_and_every_command_takes_its_checkpoint() {
    let dir = fresh_dir("cnn-learns");
    write_slice(&dir, 5);
    let (printed, _) =
        ok(&dir, &["train", "cnn", "--data", "slice.csv", "--epochs", "3", "--seed", "1", "--out", "run"]);
    assert!(printed.contains("Conv2d(1 -> 32, 3x3)") && printed.contains("MaxPool2d(2x2)"), "{printed}");
    let accuracy = number_after(&printed, "test accuracy ");
    // 800 training images, 3 epochs: far above chance (10%), short of what full MNIST gives.
    assert!(accuracy > 75.0, "test accuracy {accuracy}%");

    let (evaluated, _) = ok(&dir, &["eval", "--checkpoint", "run"]);
    assert!((number_after(&evaluated, "accuracy ") - accuracy).abs() < 0.01, "{evaluated}");
    assert!(evaluated.contains("macro avg") && dir.join("run/confusion_matrix.svg").exists(), "{evaluated}");
    let (predicted, _) = ok(&dir, &["predict", "--checkpoint", "run", "--limit", "3"]);
    assert_eq!(predicted.lines().count(), 4, "{predicted}");

    let (explained, _) =
        ok(&dir, &["explain", "--checkpoint", "run", "--index", "0", "7", "--steps", "256", "--out", "maps"]);
    for i in [0, 7] {
        let svg = std::fs::read_to_string(dir.join(format!("maps/explain_{i}.svg"))).unwrap();
        assert!(svg.contains(&format!("test image {i}: predicted")) && svg.contains("overlay"), "{svg:.300}");
    }
    // Integrated gradients' completeness: the attributions sum to the logit's change.
    for line in explained.lines() {
        let apart = number_after(line, "(");
        assert!(apart < 1.0, "{line}");
    }
    for method in ["gradient", "smoothgrad"] {
        ok(&dir, &["explain", "--checkpoint", "run", "--method", method, "--out", method]);
        assert!(dir.join(format!("{method}/explain_0.svg")).exists());
    }
    let (summary, _) = ok(&dir, &["summary", "cnn"]);
    assert!(summary.contains("Linear(9216 -> 128)"), "{summary}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn tune_cnn_searches_and_retrains() {
    let dir = fresh_dir("cnn-tune");
    write_slice(&dir, 20);
    let args =
        ["tune", "cnn", "--data", "slice.csv", "--grid", "lr=1e-3", "--folds", "2", "--epochs", "1", "--out", "run"];
    let (printed, _) = ok(&dir, &args);
    assert!(printed.contains("lr=0.001") || printed.contains("lr=1e-3"), "{printed}");
    let (evaluated, _) = ok(&dir, &["eval", "--checkpoint", "run"]);
    assert!(evaluated.contains("accuracy"), "{evaluated}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn images_the_convnet_cannot_take_are_refused_before_any_work() {
    let dir = fresh_dir("cnn-refused");
    // 30 pixels per image: not a square (the loader refuses it); 25: a square too small for two
    // 3x3 convolutions and a pool.
    for (pixels, want) in [(30, "31 fields, not a label and the pixels of a square image"), (25, "at least 6x6")] {
        let rows: Vec<String> = (0..40).map(|i| format!("{},{}", i % 10, vec!["0"; pixels].join(","))).collect();
        std::fs::write(dir.join("small.csv"), rows.join("\n") + "\n").unwrap();
        let e = refused(&dir, &["train", "cnn", "--data", "small.csv", "--label-column", "first", "--out", "run"]);
        assert!(e.contains(want), "{pixels} pixels: {e}");
        assert!(!dir.join("run").exists(), "nothing written");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
