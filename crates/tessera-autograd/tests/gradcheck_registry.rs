//! The gradcheck registry: every op of the tensor API has a check (or is listed as needing none),
//! every check passes on a few cases, and a wrong rule is caught.

use std::collections::BTreeSet;
use tessera_autograd::gradcheck::{
    check_problem, registry, run_all, tape_strategy, Domain, Draw, Problem, NOT_CHECKED,
};
use tessera_autograd::Var;
use tessera_tensor::{ops, BinaryOp, CmpOp, Device, ReduceOp, UnaryOp};

/// The public op names declared in a source file of the tensor crate: `pub fn name(` (the
/// table-generated methods come from the op tables instead).
fn declared_ops(source: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in source.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("pub fn ") {
            let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
            if !name.is_empty() && rest[name.len()..].starts_with(['(', '<']) {
                names.push(name);
            }
        }
    }
    names
}

/// Every op of the tensor API: the hand-written methods, the rows of the op tables, and every op
/// of the kernel registry.
fn tensor_ops() -> BTreeSet<String> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../tessera-tensor/src/tensor");
    let mut ops = BTreeSet::new();
    for entry in std::fs::read_dir(dir).expect("the tensor crate's sources") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "rs") {
            ops.extend(declared_ops(&std::fs::read_to_string(&path).unwrap()));
        }
    }
    ops.extend(UnaryOp::NAMES.iter().map(|n| n.to_string()));
    ops.extend(BinaryOp::ALL.iter().map(|o| o.name().to_string()));
    ops.extend(ReduceOp::ALL.iter().map(|o| o.name().to_string()));
    ops.extend(ops::registry::registry().iter().map(|o| o.name.to_string()));
    ops
}

#[test]
fn every_tensor_op_has_a_gradcheck_entry() {
    let ops = tensor_ops();
    assert!(ops.contains("add") && ops.contains("matmul") && ops.contains("gelu"), "the scan found {ops:?}");
    let checked: BTreeSet<&str> = registry().iter().map(|c| c.name).collect();
    let exempt: BTreeSet<&str> = NOT_CHECKED.iter().map(|(name, _)| *name).collect();
    // Comparisons give u8 masks: the whole table is constant under autograd.
    let comparisons: BTreeSet<&str> = CmpOp::ALL.iter().map(|o| o.name()).collect();
    let missing: Vec<&String> = ops
        .iter()
        .filter(|op| ![&checked, &exempt, &comparisons].iter().any(|set| set.contains(op.as_str())))
        .collect();
    assert!(
        missing.is_empty(),
        "tensor ops without a gradcheck entry (add one to gradcheck's registry, or to NOT_CHECKED \
         with the reason if the op is not differentiable): {missing:?}"
    );
    for (name, reason) in NOT_CHECKED {
        assert!(ops.contains(*name), "NOT_CHECKED names {name}, which is no tensor op");
        assert!(!checked.contains(name), "{name} has a check and is in NOT_CHECKED ({reason})");
        assert!(reason.len() > 10, "{name}: say why in NOT_CHECKED");
    }
}

#[test]
fn the_scan_sees_plain_methods() {
    let source = "impl Tensor {\n    pub fn fancy_new_op(&self, k: usize) -> Result<Tensor> {\n    }\n    \
                  pub(crate) fn hidden(&self) {}\n}\n";
    assert_eq!(declared_ops(source), vec!["fancy_new_op".to_string()]);
}

#[test]
fn registry_names_are_unique() {
    let names: Vec<&str> = registry().iter().map(|c| c.name).collect();
    let unique: BTreeSet<&str> = names.iter().copied().collect();
    assert_eq!(names.len(), unique.len());
}

#[test]
fn every_check_passes_on_a_few_cases() {
    let reports = run_all(&registry(), None, 64, 2024, Device::Cpu);
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
