//! Bad input, as a hostile but realistic user gives it: every case ends in a clear error (or a
//! quiet stop for a closed pipe), never a panic, an abort, a silent wrong result or a lost run.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use tessera_nn::Module;
use tessera_tensor::{Device, Tensor};
use tessera_train::checkpoint::{self, CheckpointInfo};
use tessera_train::models::mlp_classifier;

fn tessera_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tessera")).current_dir(dir).args(args).output().expect("running tessera")
}

/// Runs a command that must fail: its standard error, after checking that it is a clear error
/// (status 1, one `error:` line, no panic).
fn refused(dir: &Path, args: &[&str]) -> String {
    let out = tessera_in(dir, args);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "tessera {args:?} succeeded:\n{}", String::from_utf8_lossy(&out.stdout));
    assert!(matches!(out.status.code(), Some(1 | 2)), "tessera {args:?}: status {:?}\n{stderr}", out.status);
    assert!(!stderr.contains("panicked"), "tessera {args:?} panicked:\n{stderr}");
    stderr
}

fn fresh_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tessera-hardening-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn options_out_of_range_are_refused_before_any_work() {
    let dir = fresh_dir("ranges");
    let cases: [(&[&str], &str); 12] = [
        (&["train", "mlp", "--epochs", "0"], "'--epochs <EPOCHS>': must be at least 1"),
        (&["train", "lm", "--clip", "nan"], "'--clip <CLIP>': must be a finite number, not NaN"),
        (&["train", "lm", "--clip", "0"], "'--clip <CLIP>': must be above 0"),
        (&["train", "lm", "--clip=-1"], "'--clip <CLIP>': must be above 0"),
        (&["train", "lm", "--vocab-size", "0"], "'--vocab-size <VOCAB_SIZE>': must be at least 1"),
        (&["train", "lm", "--dropout", "1"], "must be at least 0 and below 1"),
        (&["train", "gpt", "--lr", "inf"], "must be a finite number, not inf"),
        (&["train", "mlp", "--val-split", "1.5"], "must be at least 0 and below 1"),
        (&["generate", "--checkpoint", "x", "--top-p", "0"], "must be above 0 and at most 1"),
        (&["train", "gpt", "--distributed", "--bucket-mb", "0"], "'--bucket-mb <MB>': must be above 0"),
        // Every beam is a row of the decoder's batch: 10^8 of them aborted on allocation after training.
        (&["train", "seq2seq", "--beam", "100000000"], "'--beam <BEAM>': must be at most 1000"),
        (&["translate", "--checkpoint", "x", "--beam", "1001"], "'--beam <BEAM>': must be at most 1000"),
    ];
    for (args, message) in cases {
        let stderr = refused(&dir, args);
        assert!(stderr.contains(message), "tessera {args:?}:\n{stderr}");
    }
    let stderr = refused(&dir, &["train", "lm", "--vocab-size", "3", "--epochs", "1"]);
    assert!(stderr.contains("--vocab-size 3 leaves no room for words"), "{stderr}");
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "a refused run wrote files");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn models_too_large_for_memory_are_refused_naming_their_sizes() {
    let dir = fresh_dir("memory");
    for (args, size) in [
        (&["train", "lm", "--hidden", "100000"][..], "hidden 100000"),
        (&["train", "lm", "--embed", "1000000000"], "embedding 1000000000"),
        (&["train", "lm", "--layers", "1000000"], "1000000 layers"),
        (&["train", "gpt", "--embed", "1000000", "--heads", "1"], "width 1000000"),
        (&["train", "gpt", "--grad-accum", "1000000000"], "1000000000 micro-batches"),
    ] {
        let stderr = refused(&dir, args);
        assert!(stderr.contains(size) && stderr.contains("of memory is available"), "tessera {args:?}:\n{stderr}");
    }
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 0, "a refused run wrote files");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn run_folders_are_never_mixed_or_destroyed() {
    let dir = fresh_dir("folders");
    for out in ["/", "~"] {
        let home = dir.to_str().unwrap();
        let target = if out == "~" { home } else { out };
        let o = Command::new(env!("CARGO_BIN_EXE_tessera"))
            .env("HOME", home)
            .args(["train", "mlp", "--epochs", "1", "--out", target])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert!(stderr.contains("never written into the root or home folder"), "--out {target}:\n{stderr}");
    }
    let mine = dir.join("mine");
    std::fs::create_dir_all(&mine).unwrap();
    std::fs::write(mine.join("config.json"), "my own").unwrap();
    let stderr = refused(&dir, &["train", "mlp", "--epochs", "1", "--out", "mine"]);
    assert!(stderr.contains("mine: the folder is not empty (config.json)"), "{stderr}");
    assert_eq!(std::fs::read_to_string(mine.join("config.json")).unwrap(), "my own");
    let stderr = refused(&dir, &["train", "lm", "--resume", "mine"]);
    assert!(stderr.contains("config.json: not JSON") || stderr.contains("expected value"), "{stderr}");

    // A folder locked by a running process (this test) is refused at once, naming it.
    let locked = dir.join("locked");
    std::fs::create_dir_all(&locked).unwrap();
    std::fs::write(locked.join("run.lock"), format!("{}\n", std::process::id())).unwrap();
    let stderr = refused(&dir, &["train", "mlp", "--epochs", "1", "--out", "locked"]);
    assert!(stderr.contains(&format!("in use by a running run (process {},", std::process::id())), "{stderr}");

    // A finished run: another kind cannot resume it, a second run cannot reuse its folder, and
    // resuming it trains nothing and leaves its results alone.
    let run = ["train", "mlp", "--epochs", "1", "--batch-size", "256", "--out", "run"];
    assert!(tessera_in(&dir, &run).status.success());
    let results = std::fs::read_to_string(dir.join("run/results.json")).unwrap();
    assert!(refused(&dir, &run).contains("the folder is not empty"));
    assert!(refused(&dir, &["train", "lm", "--resume", "run"]).contains("a `mlp` run, not a `lstm-lm` run"));
    let o = tessera_in(&dir, &["train", "mlp", "--resume", "run"]);
    assert!(o.status.success());
    assert!(String::from_utf8_lossy(&o.stdout).contains("nothing to train in run after epoch 1"));
    assert_eq!(std::fs::read_to_string(dir.join("run/results.json")).unwrap(), results);
    assert!(!dir.join("run/run.lock").exists(), "the lock outlived its run");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn output_that_cannot_be_written_ends_quietly_or_clearly() {
    let dir = fresh_dir("output");
    let full = std::fs::File::create("/dev/full");
    if let Ok(full) = full {
        let o = Command::new(env!("CARGO_BIN_EXE_tessera")).args(["summary", "mlp"]).stdout(full).output().unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains("error: writing to standard output: No space left on device"), "{stderr}");
    }
    // `| head -1`: the reader goes away after one line; training still completes its run folder.
    let mut child = Command::new(env!("CARGO_BIN_EXE_tessera"))
        .current_dir(&dir)
        .args(["train", "mlp", "--epochs", "1", "--batch-size", "256", "--out", "piped"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    assert!(first.starts_with("data: "), "{first}");
    // The terminal going away (a hang-up) does not end the run either.
    let hangup = Command::new("kill").args(["-HUP", &child.id().to_string()]).status();
    assert!(hangup.is_ok_and(|s| s.success()), "kill -HUP");
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(141), "a closed pipe ends with 128 + SIGPIPE");
    assert!(dir.join("piped/results.json").exists() && dir.join("piped/checkpoints/best.safetensors").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Saves an MNIST classifier checkpoint whose config says `config`, with its first weight
/// replaced by `first_weight` when given.
fn save_mlp_checkpoint(path: &Path, config: &str, first_weight: Option<f32>) {
    let model = mlp_classifier(0, 784, 10, &Device::Cpu).unwrap();
    if let Some(v) = first_weight {
        let (_, p) = &model.parameters()[0];
        let dims = p.shape().dims().to_vec();
        let n = p.shape().elem_count();
        p.tensor().assign_(&Tensor::from_vec(vec![v; n], dims, &Device::Cpu).unwrap()).unwrap();
    }
    let info = CheckpointInfo { model: "mlp".into(), epoch: 1, config: config.into() };
    checkpoint::save(path, &model, None, &info).unwrap();
}

#[test]
fn checkpoints_with_claims_their_weights_do_not_back_are_refused() {
    let dir = fresh_dir("checkpoints");
    let file = dir.join("c.safetensors");
    for (inputs, classes) in [("1000000000000", "10"), ("784", "1000000000000"), ("784", "11")] {
        let config = format!(r#"{{"model":"mlp","inputs":{inputs},"classes":{classes},"seed":0,"data":null}}"#);
        save_mlp_checkpoint(&file, &config, None);
        for cmd in ["eval", "predict"] {
            let stderr = refused(&dir, &[cmd, "--checkpoint", "c.safetensors"]);
            assert!(stderr.contains("the config does not belong to these weights"), "{cmd} {inputs}:\n{stderr}");
        }
    }
    let config = r#"{"model":"mlp","inputs":784,"classes":10,"seed":0,"data":null}"#;
    save_mlp_checkpoint(&file, config, Some(f32::NAN));
    let stderr = refused(&dir, &["eval", "--checkpoint", "c.safetensors"]);
    assert!(stderr.contains("holds 100352 NaN or infinite values"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn a_kaggle_csv_is_read_with_its_label_first() {
    let dir = fresh_dir("kaggle");
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tessera-train/data/mnist_5k.csv.gz");
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(std::fs::File::open(sample).unwrap()), &mut text)
        .unwrap();
    let header: Vec<String> = (0..784).map(|i| format!("pixel{i}")).collect();
    let mut kaggle = format!("label,{}\n", header.join(","));
    // Every fifth image: the sample is ordered by class.
    for line in text.lines().step_by(5) {
        let (pixels, label) = line.rsplit_once(',').unwrap();
        kaggle.push_str(&format!("{label},{pixels}\n"));
    }
    std::fs::write(dir.join("train.csv"), kaggle).unwrap();
    let o = tessera_in(&dir, &["train", "mlp", "--data", "train.csv", "--epochs", "2", "--out", "run"]);
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&o.stderr));
    let results: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("run/results.json")).unwrap()).unwrap();
    let accuracy = results["test_accuracy"].as_f64().unwrap();
    assert!(accuracy > 0.7 && accuracy < 1.0, "test accuracy {accuracy} with the label read first");
    let stderr = refused(&dir, &["eval", "--checkpoint", "run", "--label-column", "last"]);
    assert!(stderr.contains("the label column was given as the last"), "{stderr}");
    std::fs::remove_dir_all(&dir).unwrap();
}
