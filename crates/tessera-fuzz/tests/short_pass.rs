//! The short fuzz pass of `cargo xtask test`: every target for a few seconds, from its seeds and
//! saved failures; a new failure is saved to `regressions/<target>/` (commit it with the fix)
//! and fails the test. As a test, the runner is the one `cargo test` has built already.

use std::process::Command;

/// Seconds per target: 13 targets, about 55 s in all.
const SECONDS_PER_TARGET: &str = "4";

#[test]
fn every_target_survives_a_short_pass() {
    let out = Command::new(env!("CARGO_BIN_EXE_tessera-fuzz"))
        .args(["--seconds", SECONDS_PER_TARGET])
        .output()
        .expect("the runner starts");
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    println!("{stdout}");
    assert!(out.status.success(), "the fuzz pass failed ({}):\n{stdout}\n{stderr}", out.status);
}
