//! `cargo xtask gpu`: the whole GPU check in one command, on a machine with Rust and a GPU.
//!
//! It runs `benches/gpu/prepare.sh` (release builds of the CUDA test executables, gradcheck,
//! gpu-bench and the `tessera` program into `target-gpu/bin`) and then `benches/gpu/run.sh`
//! (the CUDA tests, gradcheck on the device, training on the CPU and the device compared, the
//! benchmarks beside PyTorch; `report.md` and `report.json` in the output folder). A GPU machine
//! without Rust runs the two halves apart: `prepare.sh` where Rust is, `run.sh` there with
//! `target-gpu/bin` carried over.

use super::{root, run};
use std::path::PathBuf;
use std::process::Command;

const USAGE: &str = "usage: cargo xtask gpu [--out DIR] [--dry-run]
  --out DIR   where the logs, run folders and report.md/report.json go (default target-gpu/results)
  --dry-run   the training runs and the step benchmarks with the CPU standing in for the device
              (no CUDA tests): checks the script and the report on a machine without a GPU";

/// Prepares the binaries and runs the GPU check.
pub fn gpu(args: &[String]) -> Result<(), String> {
    let (mut out, mut dry_run) = (root().join("target-gpu/results"), false);
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--out" => out = PathBuf::from(it.next().ok_or_else(|| format!("--out needs a folder\n{USAGE}"))?),
            "--dry-run" => dry_run = true,
            "--help" | "-h" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown argument '{other}'\n{USAGE}")),
        }
    }
    run("prepare the GPU binaries", Command::new("bash").arg(root().join("benches/gpu/prepare.sh")))?;
    let mut check = Command::new("bash");
    check.arg(root().join("benches/gpu/run.sh")).env("OUT", &out);
    if dry_run {
        check.env("ONLY", "train bench").env("TESSERA_GPU_DEVICE", "cpu");
    }
    run("GPU check", &mut check)
}
