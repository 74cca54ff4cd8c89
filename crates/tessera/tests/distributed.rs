//! `tessera train mlp --distributed` under `mpirun -np 2` reproduces the one-process run with
//! the same global batch and seed: the same parameters (within 1e-5 of each tensor's largest
//! value) and the same printed metrics. Needs the `mpi` feature and `mpirun` (skips without).
#![cfg(feature = "mpi")]

use std::path::Path;
use std::process::{Command, Output};
use tessera_nn::state_dict::read_safetensors;

fn tessera() -> &'static str {
    env!("CARGO_BIN_EXE_tessera")
}

fn mpirun_present() -> bool {
    Command::new("mpirun").arg("--version").output().is_ok_and(|o| o.status.success())
}

fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// The lines a run prints that must agree: each epoch's logs without its seconds, and the test
/// metrics without the training time.
fn printed_metrics(o: &Output) -> Vec<String> {
    let all = text(o);
    let mut lines: Vec<String> = all
        .lines()
        .filter(|l| l.starts_with("epoch ") && l.contains(": loss"))
        .map(|l| l.split("  seconds").next().unwrap_or(l).to_string())
        .collect();
    lines.extend(all.lines().filter_map(|l| l.split_once("; test loss").map(|(_, m)| m.to_string())));
    lines
}

fn assert_same_parameters(a: &Path, b: &Path) {
    let (ta, _) = read_safetensors(a).unwrap();
    let (tb, _) = read_safetensors(b).unwrap();
    let names = |t: &[(String, tessera_tensor::Tensor)]| t.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&ta), names(&tb));
    for ((name, x), (_, y)) in ta.iter().zip(&tb) {
        if !name.starts_with("model.") {
            continue;
        }
        let (x, y) = (x.to_vec_f64().unwrap(), y.to_vec_f64().unwrap());
        let scale = y.iter().fold(0f64, |m, v| m.max(v.abs())).max(1e-12);
        let diff = x.iter().zip(&y).fold(0f64, |m, (p, q)| m.max((p - q).abs()));
        assert!(diff <= 1e-5 * scale, "{name}: largest difference {diff:e} against largest value {scale:e}");
    }
}

#[test]
fn two_processes_reproduce_one() {
    if !mpirun_present() {
        eprintln!("skipped: no `mpirun` on the PATH (apt-get install openmpi-bin libopenmpi-dev)");
        return;
    }
    let dir = std::env::temp_dir().join(format!("tessera-distributed-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let args = ["train", "mlp", "--epochs", "1", "--batch-size", "64", "--seed", "3"];
    let one = Command::new(tessera()).args(args).args(["--out", "one"]).current_dir(&dir).output().unwrap();
    assert!(one.status.success(), "{}", text(&one));
    let two = Command::new("mpirun")
        .args(["-np", "2", "--allow-run-as-root", "--oversubscribe", tessera()])
        .args(args)
        .args(["--distributed", "--out", "two"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(two.status.success(), "{}", text(&two));
    let metrics = printed_metrics(&one);
    assert_eq!(metrics.len(), 2, "{}", text(&one));
    assert_eq!(printed_metrics(&two), metrics, "{}", text(&two));
    // Only rank 0 printed the summary.
    assert_eq!(text(&two).matches("total: 109,386 parameters").count(), 1, "{}", text(&two));
    let ckpt = |run: &str| dir.join(run).join("checkpoints").join("last.safetensors");
    assert_same_parameters(&ckpt("two"), &ckpt("one"));

    // A batch size the world does not divide is refused before anything is written.
    let odd = Command::new("mpirun")
        .args(["-np", "2", "--allow-run-as-root", "--oversubscribe", tessera()])
        .args(["train", "mlp", "--epochs", "1", "--batch-size", "33", "--distributed", "--out", "odd"])
        .current_dir(&dir)
        .output()
        .unwrap();
    assert!(!odd.status.success());
    assert!(text(&odd).contains("--batch-size 33 is not divisible by the 2 processes"), "{}", text(&odd));
    assert!(!dir.join("odd").exists());
    let _ = std::fs::remove_dir_all(&dir);
}
