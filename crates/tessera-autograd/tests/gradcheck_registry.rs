//! The gradcheck registry: every op of the tensor API has a check (or is listed as needing none),
//! every check passes on a few cases, and a wrong rule is caught.

use std::collections::BTreeSet;
use tessera_autograd::gradcheck::{
    check_problem, registry, run_all, tape_strategy, Domain, Draw, Problem, NOT_CHECKED,
};
use tessera_autograd::Var;

/// The public op names declared in a source file of the tensor crate: `pub fn name(` and the
/// entries `name => Op, "doc";` of the `unary_methods!`-style macro invocations.
fn declared_ops(source: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut in_macro = false;
    for line in source.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("pub fn ") {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !name.is_empty() && rest[name.len()..].starts_with(['(', '<']) {
                names.push(name);
            }
        }
        let starts_invocation = ["unary_methods!", "binary_methods!", "compare_methods!"]
            .iter()
            .any(|m| line.starts_with(m) && line.ends_with('{'));
        if starts_invocation {
            in_macro = true;
        } else if in_macro && line == "}" {
            in_macro = false;
        } else if in_macro {
            if let Some((name, _)) = line.split_once("=>") {
                names.push(name.trim().to_string());
            }
        }
    }
    names
}

#[test]
fn every_tensor_op_has_a_gradcheck_entry() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tessera-tensor/src/tensor");
    let mut ops = BTreeSet::new();
    for entry in std::fs::read_dir(dir).expect("the tensor crate's sources") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            ops.extend(declared_ops(&std::fs::read_to_string(&path).unwrap()));
        }
    }
    assert!(ops.contains("add") && ops.contains("matmul") && ops.contains("gelu"), "the scan found {ops:?}");
    let checked: BTreeSet<&str> = registry().iter().map(|c| c.name).collect();
    let missing: Vec<&String> =
        ops.iter().filter(|op| !checked.contains(op.as_str()) && !NOT_CHECKED.contains(&op.as_str())).collect();
    assert!(
        missing.is_empty(),
        "tensor ops without a gradcheck entry (add one to gradcheck's registry, or to NOT_CHECKED \
         if the op is not differentiable): {missing:?}"
    );
}

#[test]
fn the_scan_sees_plain_methods_and_macro_entries() {
    let source = "impl Tensor {\n    pub fn fancy_new_op(&self, k: usize) -> Result<Tensor> {\n    }\n    \
                  pub(crate) fn hidden(&self) {}\n    unary_methods! {\n        erf => Erf, \"erf\";\n    }\n}\n";
    assert_eq!(declared_ops(source), vec!["fancy_new_op".to_string(), "erf".to_string()]);
}

#[test]
fn registry_names_are_unique() {
    let names: Vec<&str> = registry().iter().map(|c| c.name).collect();
    let unique: BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(names.len(), unique.len());
}

#[test]
fn every_check_passes_on_a_few_cases() {
    let reports = run_all(None, 64, 2024);
    let failures: Vec<String> =
        reports.iter().filter_map(|r| r.failure.as_ref().map(|f| format!("{}: {f}", r.op))).collect();
    assert!(failures.is_empty(), "{failures:#?}");
    assert!(reports.iter().all(|r| r.cases == 64));
}

#[test]
fn a_wrong_backward_rule_is_caught() {
    use proptest::strategy::{Strategy, ValueTree};
    use proptest::test_runner::TestRunner;
    let tape = tape_strategy().new_tree(&mut TestRunner::deterministic()).unwrap().current();
    let mut draw = Draw::new(&tape);
    let x = draw.input(&[3, 2], &Domain::POSITIVE);
    // exp with the gradient of the identity: plausible-looking, and wrong.
    let problem = Problem::new(vec![x], |v| {
        let rule: tessera_autograd::BackwardRule = Box::new(|c| Ok(vec![Some(c.grad.clone())]));
        Ok(Var::from_op("bad_exp", v[0].tensor().exp()?, &[&v[0]], Some(rule)))
    });
    let err = check_problem(&problem, &mut draw).unwrap_err();
    assert!(err.contains("analytic"), "{err}");
}
