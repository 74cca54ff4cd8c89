//! Fixtures made by PyTorch (the scripts in `fixtures/`) and the comparison the parity tests share.

use std::collections::BTreeMap;
use std::path::Path;
use tessera_autograd::Var;
use tessera_nn::state_dict::read_safetensors;
use tessera_nn::Module;
use tessera_tensor::Tensor;

/// The tensors of one fixture file, by name.
pub struct Fixtures(pub BTreeMap<String, Tensor>);

impl Fixtures {
    /// Reads `tests/fixtures/<file>`.
    pub fn load(file: &str) -> Fixtures {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(file);
        Fixtures(read_safetensors(&path).expect("fixture file").0.into_iter().collect())
    }

    pub fn get(&self, key: &str) -> Tensor {
        self.0.get(key).unwrap_or_else(|| panic!("fixture {key} missing")).clone()
    }

    pub fn input(&self, case: &str, k: usize) -> Var {
        let t = self.get(&format!("{case}.in.{k}"));
        if t.dtype().is_float() && self.0.contains_key(&format!("{case}.grad.in.{k}")) {
            Var::param(t).unwrap()
        } else {
            Var::constant(t)
        }
    }

    /// Copies the case's parameters into `module`, checking that the names are PyTorch's.
    pub fn load_params(&self, case: &str, module: &dyn Module) {
        let prefix = format!("{case}.param.");
        let expected: Vec<&str> = self.0.keys().filter_map(|k| k.strip_prefix(&prefix)).collect();
        let mut ours: Vec<String> = module.parameters().into_iter().map(|(n, _)| n).collect();
        ours.sort();
        assert_eq!(ours, expected, "{case}: parameter names");
        for (n, p) in module.parameters() {
            p.tensor().assign_(&self.get(&format!("{prefix}{n}"))).unwrap();
        }
    }

    /// Checks the output, then backpropagates `sum(out * w)` and checks every gradient.
    pub fn check(&self, case: &str, out: &Var, params: &[(String, Var)], inputs: &[Var]) {
        close(case, "output", out.tensor(), &self.get(&format!("{case}.out")));
        let w = Var::constant(self.get(&format!("{case}.w")));
        out.mul(&w).unwrap().sum_all().unwrap().backward().unwrap();
        for (n, p) in params {
            close(case, n, &p.grad().expect("param grad"), &self.get(&format!("{case}.grad.param.{n}")));
        }
        for (k, x) in inputs.iter().enumerate() {
            if x.requires_grad() {
                close(
                    case,
                    &format!("input {k}"),
                    &x.grad().expect("input grad"),
                    &self.get(&format!("{case}.grad.in.{k}")),
                );
            }
        }
    }
}

/// Equal within 1e-9, relative and absolute (the fixtures are float64).
pub fn close(case: &str, what: &str, got: &Tensor, want: &Tensor) {
    assert_eq!(got.dims(), want.dims(), "{case} {what}: shape");
    let (g, w) = (got.to_vec_f64().unwrap(), want.to_vec_f64().unwrap());
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        assert!((a - b).abs() <= 1e-9 + 1e-9 * b.abs(), "{case} {what}[{i}]: got {a}, PyTorch {b}");
    }
}
