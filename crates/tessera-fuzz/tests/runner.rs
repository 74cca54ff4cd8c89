//! The runner end to end, on the self-test target: a panic is caught in the worker, an abort, a
//! run out of memory and a run past the time limit end it, and each input is saved and reported.

use std::process::Command;

#[test]
fn the_runner_saves_panics_aborts_and_timeouts() {
    let dir = std::env::temp_dir().join(format!("tessera-fuzz-runner-test-{}", std::process::id()));
    // Each failure restarts the worker and a timeout costs a second of CPU: on a loaded machine
    // 8 seconds found only three of the four kinds, so the pass is long enough for a busy CI.
    let out = Command::new(env!("CARGO_BIN_EXE_tessera-fuzz"))
        .args(["--target", "selftest", "--seconds", "20", "--seed", "3", "--regressions"])
        .arg(&dir)
        .output()
        .expect("the runner starts");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    for report in [
        "FAILURE selftest: panic at",
        "self-test panic",
        "FAILURE selftest: abort",
        "memory allocation of 1099511627776 bytes failed",
        "FAILURE selftest: timeout",
    ] {
        assert!(stdout.contains(report), "no `{report}` in:\n{stdout}");
    }
    let saved: Vec<Vec<u8>> = std::fs::read_dir(dir.join("selftest"))
        .expect("failures saved")
        .map(|e| std::fs::read(e.expect("an entry").path()).expect("a file"))
        .collect();
    let first_trigger = |input: &Vec<u8>| (0xA1..=0xA4).find(|b| input.contains(b));
    for trigger in 0xA1..=0xA4 {
        assert!(saved.iter().any(|s| first_trigger(s) == Some(trigger)), "no input for 0x{trigger:X} saved");
    }
    std::fs::remove_dir_all(&dir).expect("cleaned up");
}
