//! Every hand-written backward rule of the workspace is gradient-checked: each op recorded with
//! `Var::from_op("name", ..)` outside the autograd crate (whose own ops its registry covers) has
//! a check of that name.

use std::path::Path;
use tessera_autograd::gradcheck::registry;

/// The names of the ops recorded with `from_op("...")` in a source file.
fn recorded_ops(source: &str) -> Vec<String> {
    source
        .match_indices("from_op(\"")
        .map(|(i, m)| source[i + m.len()..].chars().take_while(|&c| c != '"').collect())
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_hand_written_rule_has_a_check() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crates");
    let mut files = Vec::new();
    for entry in std::fs::read_dir(&crates).unwrap() {
        let dir = entry.unwrap().path();
        if dir.file_name().is_some_and(|n| n != "tessera-autograd") && dir.join("src").exists() {
            rust_files(&dir.join("src"), &mut files);
        }
    }
    let mut checks: Vec<&str> = registry().iter().map(|c| c.name).collect();
    let nn = tessera_nn::gradcheck::checks();
    checks.extend(nn.iter().map(|c| c.name));
    let mut found = Vec::new();
    for file in files {
        for op in recorded_ops(&std::fs::read_to_string(&file).unwrap()) {
            assert!(checks.contains(&op.as_str()), "{}: the rule of `{op}` has no gradient check", file.display());
            found.push(op);
        }
    }
    for op in ["lstm_sequence", "gru_sequence", "cross_entropy"] {
        assert!(found.iter().any(|f| f == op), "{op} not among {found:?}");
    }
}

#[test]
fn the_scan_finds_recorded_ops() {
    let src = r#"Ok(Var::from_op("my_op", out, &[x], Some(rule)))"#;
    assert_eq!(recorded_ops(src), vec!["my_op".to_string()]);
}
