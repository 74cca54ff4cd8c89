//! The gradcheck program's command line: devices, op selection and exit codes.

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
fn cuda_runs_where_there_is_a_gpu_and_otherwise_says_why() {
    let (code, out) = gradcheck(&["--device", "all", "--op", "exp", "--cases", "2"]);
    assert_eq!(code, Some(0), "{out}");
    let (code_cuda, out_cuda) = gradcheck(&["--device", "cuda", "--op", "exp", "--cases", "2"]);
    if out.contains("cuda: skipped") {
        assert!(out.contains("CUDA unavailable"), "{out}");
        assert_ne!(code_cuda, Some(0), "--device cuda without a GPU must fail: {out_cuda}");
    } else {
        assert!(out.contains("cuda:0"), "{out}");
        assert_eq!(code_cuda, Some(0), "{out_cuda}");
    }
}

#[test]
fn the_nn_rules_are_checked_too() {
    let (code, out) = gradcheck(&["--list"]);
    assert_eq!(code, Some(0));
    for op in ["lstm_sequence", "cross_entropy", "lstm_cell", "exp"] {
        assert!(out.lines().any(|l| l == op), "{op} missing from --list: {out}");
    }
    let (code, out) = gradcheck(&["--op", "lstm_sequence", "--cases", "8"]);
    assert_eq!(code, Some(0), "{out}");
}

#[test]
fn unknown_ops_and_flags_are_usage_errors() {
    assert_eq!(gradcheck(&["--op", "no_such_op"]).0, Some(2));
    assert_eq!(gradcheck(&["--frobnicate"]).0, Some(2));
}
