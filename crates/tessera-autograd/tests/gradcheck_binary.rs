//! The gradcheck binary's command line: devices, op selection and exit codes.

use std::process::Command;

fn gradcheck(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_gradcheck")).args(args).output().expect("the binary runs");
    (out.status.code(), String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn runs_one_op_and_prints_the_table() {
    let (code, out) = gradcheck(&["--op", "matmul", "--cases", "5", "--seed", "3"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("max abs err") && out.contains("matmul") && out.contains("ok"), "{out}");
}

#[test]
fn cuda_is_skipped_for_all_and_fails_alone() {
    let (code, out) = gradcheck(&["--device", "all", "--op", "exp", "--cases", "2"]);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("no CUDA backend"), "{out}");
    let (code, _) = gradcheck(&["--device", "cuda", "--op", "exp", "--cases", "2"]);
    assert_ne!(code, Some(0));
}

#[test]
fn unknown_ops_and_flags_are_usage_errors() {
    assert_eq!(gradcheck(&["--op", "no_such_op"]).0, Some(2));
    assert_eq!(gradcheck(&["--frobnicate"]).0, Some(2));
}
