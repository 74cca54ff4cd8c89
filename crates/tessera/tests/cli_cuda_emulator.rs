//! The training commands with `--device cuda` on the CUDA host emulator
//! (`TESSERA_CUDA_EMULATOR=1`, see `tessera_kernels::cuda::emulator`): the CUDA backend's code,
//! kernels included, end to end on a machine without a GPU, against the same run on the CPU.
//! These are issue 15's training checks (the device's accuracy within 1 point of the CPU's, bf16
//! and f16 within 1 point of f32), on the emulator.

mod common;

use common::{fresh_dir, number_after};
use std::io::Write;
use std::path::Path;
use std::process::Command;

/// `tessera train ARGS --device DEVICE --out dir/NAME` (the emulator on for `cuda`): its output.
fn train(dir: &Path, name: &str, device: &str, args: &[&str]) -> String {
    let out = dir.join(name);
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_tessera"));
    cmd.current_dir(dir).arg("train").args(args).args(["--device", device, "--out"]).arg(&out);
    if device == "cuda" {
        cmd.env("TESSERA_CUDA_EMULATOR", "1");
    }
    let o = cmd.output().expect("running tessera");
    let (stdout, stderr) = (String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    assert!(o.status.success(), "tessera train {args:?} on {device} failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains(&format!("on {}", if device == "cuda" { "cuda:0" } else { "cpu" })), "{stdout}");
    stdout.into_owned()
}

/// Whether a host C++ compiler is installed (the emulator builds the kernels with it).
fn host_compiler() -> bool {
    ["g++", "c++"].iter().any(|cxx| Command::new(cxx).arg("--version").output().is_ok_and(|o| o.status.success()))
}

#[test]
fn train_mlp_on_the_emulated_gpu_matches_the_cpu_in_every_precision() {
    if !host_compiler() {
        let _ = writeln!(std::io::stderr(), "skipped: no host C++ compiler (g++ or c++) for the CUDA emulator");
        return;
    }
    let dir = fresh_dir("cuda-emulator-mlp");
    let mlp = ["mlp", "--epochs", "1", "--seed", "1"];
    let accuracy = |out: &str| number_after(out, "test accuracy ");
    let loss = |out: &str| number_after(out, "test loss ");
    let cpu = train(&dir, "cpu", "cpu", &mlp);
    let gpu = train(&dir, "gpu", "cuda", &mlp);
    // The same products and updates in another order: the same model to a few digits.
    assert!((accuracy(&gpu) - accuracy(&cpu)).abs() <= 0.5, "cpu:\n{cpu}\nemulated gpu:\n{gpu}");
    assert!((loss(&gpu) - loss(&cpu)).abs() <= 1e-3 * loss(&cpu), "cpu:\n{cpu}\nemulated gpu:\n{gpu}");
    for precision in ["bf16", "f16"] {
        let args = [&mlp[..], &["--precision", precision]].concat();
        let half = train(&dir, precision, "cuda", &args);
        assert!((accuracy(&half) - accuracy(&gpu)).abs() <= 1.0, "{precision}:\n{half}\nf32:\n{gpu}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}
