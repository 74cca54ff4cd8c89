//! `tessera tune mlp` end to end on a slice of the shipped MNIST sample: the ranked table, the
//! CSV and the picture, the retrained best model's checkpoint that `eval` reads, and the errors
//! of searches that cannot run.

use serde_json::Value;

mod common;
use common::{fresh_dir, ok, refused, write_slice};

#[test]
fn tune_mlp_ranks_writes_and_retrains_a_model_eval_reads() {
    let dir = fresh_dir("mlp");
    write_slice(&dir, 10);
    let args = [
        "tune",
        "mlp",
        "--data",
        "slice.csv",
        "--grid",
        "lr=1e-3,3e-3 batch_size=32",
        "--folds",
        "2",
        "--epochs",
        "1",
        "--random",
        "3",
        "--seed",
        "5",
        "--out",
        "run",
    ];
    let (stdout, stderr) = ok(&dir, &args);
    assert!(
        stderr.contains("3 random configurations were asked for but the grid holds 2: all of them are run"),
        "{stderr}"
    );
    assert!(stdout.contains("400 training and 100 test images"), "{stdout}");
    assert!(stdout.contains("configuration 2/2 (lr=0.003 batch_size=32), fold 2/2: val accuracy"), "{stdout}");
    assert!(stdout.contains("rank  lr") && stdout.contains("accuracy (mean ± std)"), "{stdout}");
    assert!(stdout.contains("best: lr=") && stdout.contains("test accuracy"), "{stdout}");

    let run = dir.join("run");
    let csv = std::fs::read_to_string(run.join("tune.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "rank,lr,batch_size,mean_accuracy,std_accuracy,mean_loss,fold1_accuracy,fold2_accuracy,fold1_loss,fold2_loss"
    );
    assert_eq!(lines.len(), 3, "{csv}");
    let means: Vec<f64> = lines[1..].iter().map(|l| l.split(',').nth(3).unwrap().parse().unwrap()).collect();
    assert!(means[0] >= means[1] && means[1] > 0.1, "ranked by mean: {csv}");
    assert!(lines[1].starts_with("1,") && lines[2].starts_with("2,"), "{csv}");
    let svg = std::fs::read_to_string(run.join("tune.svg")).unwrap();
    assert!(svg.starts_with("<svg") && svg.contains("(best)") && svg.matches("<rect").count() >= 4, "{svg}");

    let config: Value = serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).unwrap()).unwrap();
    assert_eq!(config["best"]["config"]["batch_size"], 32);
    assert_eq!(config["tune"]["folds"], 2);
    let results: Value = serde_json::from_str(&std::fs::read_to_string(run.join("results.json")).unwrap()).unwrap();
    let tuned = results["test_accuracy"].as_f64().unwrap();
    assert!(run.join("checkpoints/best.safetensors").is_file() && run.join("metrics.jsonl").is_file());

    // `eval` rebuilds the retrained model and its test split from the checkpoint alone.
    let (evaluated, _) = ok(&dir, &["eval", "--checkpoint", "run"]);
    assert!(evaluated.contains(&format!("accuracy {:.2}%", tuned * 100.0)), "{evaluated} vs {tuned}");
    assert!(evaluated.contains("on 100 images"), "{evaluated}");

    let e = refused(&dir, &args);
    assert!(e.contains("the folder is not empty") && e.contains("--overwrite"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn searches_that_cannot_run_are_refused_before_any_work() {
    let dir = fresh_dir("refused");
    let cases: [(&[&str], &str); 6] = [
        (&["--grid", "momentum=0.9"], "search space: unknown key `momentum`: the keys accepted are lr, batch_size"),
        (&["--grid", "lr=1e-3,1e-3"], "key `lr`: value `1e-3` is given twice"),
        (&["--grid", "dropout=0.5"], "unknown key `dropout`"),
        (&["--grid", "lr=1e-3", "--folds", "1"], "'--folds <K>': must be at least 2"),
        (&["--grid", "lr=1e-3", "--random", "0"], "'--random <N>': must be at least 1"),
        (&["--grid", "lr=1e-3", "--folds", "5000"], "5000 folds need at least 5000 examples; the data hold 4000"),
    ];
    for (extra, want) in cases {
        let args = [&["tune", "mlp", "--out", "run"][..], extra].concat();
        let e = refused(&dir, &args);
        assert!(e.contains(want), "{args:?}: {e}");
    }
    let e = refused(&dir, &["tune", "cnn", "--grid", "dropout=0.25,0.5", "--out", "run"]);
    assert!(e.contains("unknown key `dropout`"), "{e}");
    assert!(!dir.join("run").exists(), "nothing written");
    std::fs::remove_dir_all(&dir).unwrap();
}
