//! `tessera train mlp` end to end on the shipped MNIST sample: a run resumed with `--resume`
//! ends with the weights and optimizer state of an unbroken run, and records every epoch once.

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
    let common = ["train", "mlp", "--batch-size", "64", "--seed", "3", "--out"];
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
    std::fs::remove_dir_all(&dir).unwrap();
}
