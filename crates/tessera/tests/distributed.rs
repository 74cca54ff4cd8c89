//! `tessera train mlp|lm|gpt --distributed` under `mpirun -np 2` reproduces the one-process run
//! with the same global batch and seed: the same parameters (within 1e-5 of each tensor's
//! largest value) and the same printed metrics. Needs the `mpi` feature and `mpirun` (skips
//! without).
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
    assert_same_parameters_except(a, b, |_, _| false);
}

/// [`assert_same_parameters`], leaving out the values `skip` picks by tensor name and index.
fn assert_same_parameters_except(a: &Path, b: &Path, skip: impl Fn(&str, usize) -> bool) {
    let (ta, _) = read_safetensors(a).unwrap();
    let (tb, _) = read_safetensors(b).unwrap();
    let names = |t: &[(String, tessera_tensor::Tensor)]| t.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>();
    assert_eq!(names(&ta), names(&tb));
    for ((name, x), (_, y)) in ta.iter().zip(&tb) {
        if !name.starts_with("model.") {
            continue;
        }
        let keep = |v: Vec<f64>| v.into_iter().enumerate().filter(|(i, _)| !skip(name, *i)).map(|(_, v)| v);
        let (x, y): (Vec<f64>, Vec<f64>) =
            (keep(x.to_vec_f64().unwrap()).collect(), keep(y.to_vec_f64().unwrap()).collect());
        let scale = y.iter().fold(0f64, |m, v| m.max(v.abs())).max(1e-12);
        let diff = x.iter().zip(&y).fold(0f64, |m, (p, q)| m.max((p - q).abs()));
        assert!(diff <= 1e-5 * scale, "{name}: largest difference {diff:e} against largest value {scale:e}");
    }
}

/// A fresh folder for one test, or `None` (said) without `mpirun`.
fn test_dir(name: &str) -> Option<std::path::PathBuf> {
    if !mpirun_present() {
        eprintln!("skipped: no `mpirun` on the PATH (apt-get install openmpi-bin libopenmpi-dev)");
        return None;
    }
    let dir = std::env::temp_dir().join(format!("tessera-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Some(dir)
}

/// `tessera ARGS --out one` and `mpirun -np 2 tessera ARGS --distributed --out two` in `dir`.
fn one_and_two(dir: &Path, args: &[&str]) -> (Output, Output) {
    let one = Command::new(tessera()).args(args).args(["--out", "one"]).current_dir(dir).output().unwrap();
    assert!(one.status.success(), "{}", text(&one));
    (one, two_processes(dir, args, &["--out", "two"]))
}

/// `mpirun -np 2 tessera ARGS --distributed MORE` in `dir`, which must succeed.
fn two_processes(dir: &Path, args: &[&str], more: &[&str]) -> Output {
    let two = Command::new("mpirun")
        .args(["-np", "2", "--allow-run-as-root", "--oversubscribe", tessera()])
        .args(args)
        .arg("--distributed")
        .args(more)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(two.status.success(), "{}", text(&two));
    two
}

#[test]
fn two_processes_reproduce_one() {
    let Some(dir) = test_dir("distributed") else { return };
    let (one, two) = one_and_two(&dir, &["train", "mlp", "--epochs", "1", "--batch-size", "64", "--seed", "3"]);
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

/// A made-up text of 600 lines of 8 words from 40, deterministic.
fn corpus(dir: &Path) -> String {
    let mut x = 7u64;
    let lines: Vec<String> = (0..600)
        .map(|_| {
            let words: Vec<String> = (0..8)
                .map(|_| {
                    x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    format!("w{}", (x >> 59) + (x >> 61))
                })
                .collect();
            words.join(" ")
        })
        .collect();
    let path = dir.join("corpus.txt");
    std::fs::write(&path, lines.join("\n")).unwrap();
    path.to_str().unwrap().to_string()
}

/// The epoch summaries of a token-stream run (`epoch N/M: loss ...`) without their timings (from
/// `seconds` or `tokens_per_sec` on). Progress lines are left out: rank 0's show its own loss.
fn epoch_lines(o: &Output) -> Vec<String> {
    let all = text(o);
    let summaries = all.lines().filter(|l| l.split_whitespace().nth(1).is_some_and(|w| w.ends_with(':')));
    summaries
        .filter(|l| l.starts_with("epoch "))
        .map(|l| l.split(" seconds").next().unwrap_or(l).split(" tokens_per_sec").next().unwrap_or(l).to_string())
        .collect()
}

#[test]
fn two_processes_train_the_language_models_as_one() {
    let Some(dir) = test_dir("distributed-lm") else { return };
    let corpus = corpus(&dir);
    // Without dropout: each process draws the masks of its own rows, not the global batch's.
    let lm = ["train", "lm", "--corpus", &corpus, "--epochs", "1", "--batch-size", "4", "--embed", "16"];
    let (one, two) = one_and_two(&dir, &[&lm[..], &["--hidden", "32", "--dropout", "0", "--seed", "2"]].concat());
    let ckpt = |run: &str| dir.join(run).join("checkpoints").join("last.safetensors");
    assert_same_parameters(&ckpt("two"), &ckpt("one"));
    assert!(!epoch_lines(&one).is_empty(), "{}", text(&one));
    assert_eq!(epoch_lines(&two), epoch_lines(&one), "{}", text(&two));

    let gpt_dir = dir.join("gpt");
    std::fs::create_dir_all(&gpt_dir).unwrap();
    let gpt = ["train", "gpt", "--corpus", &corpus, "--tokenizer", "word", "--layers", "1", "--heads", "2"];
    let sizes = ["--embed", "16", "--block-size", "8", "--batch-size", "4", "--iters", "12", "--eval-interval", "6"];
    let args = [&gpt[..], &sizes, &["--eval-iters", "2", "--grad-accum", "2"]].concat();
    let (one, two) = one_and_two(&gpt_dir, &args);
    // 1 KiB buckets: some 20 all-reduces per step, launched from backward on the communication
    // thread as their gradients become final.
    let small = two_processes(&gpt_dir, &args, &["--bucket-mb", "0.001", "--overlap", "on", "--out", "small"]);
    let ckpt = |run: &str| gpt_dir.join(run).join("checkpoints").join("last.safetensors");
    assert_eq!(epoch_lines(&one).len(), 2, "{}", text(&one));
    for (run, out) in [("two", &two), ("small", &small)] {
        // The key projection's bias (the middle third of c_attn's) has a gradient of exactly 0
        // in exact arithmetic, so AdamW turns its rounding noise into full-size steps that
        // differ between runs; it changes no output.
        assert_same_parameters_except(&ckpt(run), &ckpt("one"), |name, i| {
            name.ends_with("c_attn.bias") && (16..32).contains(&i)
        });
        assert_eq!(epoch_lines(out), epoch_lines(&one), "{}", text(out));
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn two_processes_train_the_encoder_decoder_as_one() {
    let Some(dir) = test_dir("distributed-seq2seq") else { return };
    // Pairs of many lengths: the processes' rows keep the global batch's padding, and their
    // losses count different numbers of target tokens (the weights of the average).
    let model = ["--arch", "transformer", "--embed", "16", "--heads", "2", "--feedforward", "32", "--layers", "1"];
    let data = ["--dates-train", "300", "--dates-eval", "30", "--batch-size", "32", "--warmup", "1"];
    let rest = ["--epochs", "1", "--beam", "1", "--dropout", "0", "--scheduled-sampling", "0", "--seed", "4"];
    let (one, two) = one_and_two(&dir, &[&["train", "seq2seq"][..], &model, &data, &rest].concat());
    let ckpt = |run: &str| dir.join(run).join("checkpoints").join("last.safetensors");
    // The attention key projections' biases (the middle third of each `in_proj_bias`) have a
    // gradient of exactly 0 in exact arithmetic: Adam turns their rounding noise into steps.
    assert_same_parameters_except(&ckpt("two"), &ckpt("one"), |name, i| {
        name.ends_with("in_proj_bias") && (16..32).contains(&i)
    });
    assert_eq!(epoch_lines(&one).len(), 1, "{}", text(&one));
    assert_eq!(epoch_lines(&two), epoch_lines(&one), "{}", text(&two));

    // Both resumed for a second epoch: rank 0 reads the checkpoint, the other rank follows.
    let more = ["train", "seq2seq", "--epochs", "2"];
    let one = Command::new(tessera()).args(more).args(["--resume", "one"]).current_dir(&dir).output().unwrap();
    assert!(one.status.success(), "{}", text(&one));
    let two = two_processes(&dir, &more, &["--resume", "two"]);
    assert_same_parameters_except(&ckpt("two"), &ckpt("one"), |name, i| {
        name.ends_with("in_proj_bias") && (16..32).contains(&i)
    });
    assert_eq!(epoch_lines(&two), epoch_lines(&one), "{}", text(&two));
    let _ = std::fs::remove_dir_all(&dir);
}
