//! `cargo xtask fuzz`: builds the `tessera-fuzz` runner and runs it (see
//! `crates/tessera-fuzz`). The runner is built with the test profile: measured, a release build
//! took about 3 minutes more on 2 cores and ran no faster (the readers spend their time in
//! allocation and file I/O, not in optimised loops). `cargo xtask test`'s short pass is a test
//! of the runner crate (`tests/short_pass.rs`), so it runs the binary `cargo test` built: a
//! separate `cargo build` resolves features without the dev-dependencies' and rebuilt rayon,
//! gemm and every Tessera crate below the readers (84 s on a clean 2-core machine).

use super::{cargo, run};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Instant;

/// Builds the runner and returns the path of its executable.
fn build_runner() -> Result<PathBuf, String> {
    println!("==> build tessera-fuzz (test profile, workspace features)");
    let start = Instant::now();
    let output = cargo(&[
        "build",
        "--workspace",
        "--profile",
        "test",
        "--bin",
        "tessera-fuzz",
        "--message-format",
        "json-render-diagnostics",
    ])
    .stderr(Stdio::inherit())
    .output()
    .map_err(|e| format!("build tessera-fuzz: could not start cargo: {e}"))?;
    if !output.status.success() {
        return Err(format!("build tessera-fuzz failed ({})", output.status));
    }
    println!("<== build tessera-fuzz: ok in {:.1} s", start.elapsed().as_secs_f64());
    // The artifact message of the binary: `..."executable":"/path/to/tessera-fuzz",...`.
    let stdout = String::from_utf8_lossy(&output.stdout);
    stdout
        .lines()
        .filter(|l| l.contains("\"reason\":\"compiler-artifact\""))
        .find_map(|l| l.split("\"executable\":\"").nth(1)?.split('"').next().map(PathBuf::from))
        .ok_or_else(|| "build tessera-fuzz: cargo named no executable".to_string())
}

/// `cargo xtask fuzz [--minutes N | --seconds N] [--target NAME] [--seed N] ...`: the arguments
/// go to the runner (default: one minute per target, every target).
pub fn fuzz(args: &[String]) -> Result<(), String> {
    let exe = build_runner()?;
    let mut runner = Command::new(exe);
    if !args.iter().any(|a| a == "--minutes" || a == "--seconds") {
        runner.args(["--minutes", "1"]);
    }
    run("fuzz", runner.args(args))
}
