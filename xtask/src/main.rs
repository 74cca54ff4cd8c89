//! `cargo xtask`: the single entry point for building, checking and testing Tessera.
//!
//! ```text
//! cargo xtask test              formatting, clippy (warnings denied), every test, gradcheck
//! cargo xtask gradcheck [ARGS]  property-based gradient checks (see --help of the binary)
//! cargo xtask bench [ARGS]      criterion benchmarks of the CPU kernels
//! cargo xtask kernels [ARCH..]  compile every CUDA kernel with NVRTC (default sm_80 sm_90),
//!                               report registers, shared memory and spills; fail on errors/spills
//! ```

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};
use std::time::Instant;

/// Gradcheck cases per op in `cargo xtask test`: keeps the step within a few minutes on 2 cores.
const TEST_GRADCHECK_CASES: &str = "2000";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (task, rest) = match args.split_first() {
        Some((t, r)) => (t.as_str(), r),
        None => ("help", &[][..]),
    };
    let result = match task {
        "test" | "ci" => test(),
        "gradcheck" => gradcheck(rest),
        "kernels" => kernels(rest),
        "bench" => run("benchmarks", cargo(&["bench", "-p", "tessera-benches"]).args(rest)),
        "help" | "--help" | "-h" => {
            println!("usage: cargo xtask <test|gradcheck|bench|kernels> [ARGS]");
            Ok(())
        }
        other => Err(format!("unknown task '{other}': expected test, gradcheck, bench or kernels")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: {e}");
            ExitCode::FAILURE
        }
    }
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask lives in the workspace root").to_path_buf()
}

fn cargo(args: &[&str]) -> Command {
    let mut c = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    c.args(args).current_dir(root());
    c
}

fn run(step: &str, cmd: &mut Command) -> Result<(), String> {
    println!("==> {step}");
    let start = Instant::now();
    let status = cmd.status().map_err(|e| format!("{step}: could not start: {e}"))?;
    println!(
        "<== {step}: {} in {:.1} s",
        if status.success() { "ok" } else { "FAILED" },
        start.elapsed().as_secs_f64()
    );
    if status.success() {
        Ok(())
    } else {
        Err(format!("{step} failed ({status})"))
    }
}

fn test() -> Result<(), String> {
    run("format check", &mut cargo(&["fmt", "--all", "--", "--check"]))?;
    run("clippy", &mut cargo(&["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"]))?;
    run("tests", &mut cargo(&["test", "--workspace"]))?;
    run("examples (a few batches each)", &mut cargo(&["test", "-p", "tessera", "--examples"]))?;
    gradcheck(&["--cases".into(), TEST_GRADCHECK_CASES.into(), "--device".into(), "all".into()])?;
    kernels(&[])
}

/// Compiles every CUDA kernel module with NVRTC through the runtime's own compile path (the
/// `compile-kernels` binary of tessera-kernels). That binary says plainly when it skips because
/// NVRTC cannot be loaded (`.ci/run` installs it from PyPI).
fn kernels(archs: &[String]) -> Result<(), String> {
    run(
        "CUDA kernel compile check (NVRTC)",
        cargo(&["run", "-q", "-p", "tessera-kernels", "--bin", "compile-kernels", "--"]).args(archs),
    )
}

fn gradcheck(args: &[String]) -> Result<(), String> {
    if !root().join("crates/tessera-autograd/src/bin/gradcheck.rs").exists() {
        println!("==> gradcheck: skipped (the autograd crate is not in this build)");
        return Ok(());
    }
    run(
        "gradcheck",
        cargo(&["run", "--release", "-q", "-p", "tessera-autograd", "--bin", "gradcheck", "--"]).args(args),
    )
}
