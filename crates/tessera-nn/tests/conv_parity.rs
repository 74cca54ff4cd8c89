//! The functional 2-D convolutions against PyTorch: `conv2d` and `conv_transpose2d` outputs and
//! the gradients of every input for strides, padding, dilation, groups, unbatched inputs and an
//! output padding past the stride (`fixtures/make_conv_fixtures.py` made
//! `fixtures/conv.safetensors` with PyTorch, float64). Float64 must agree to 1e-9, float32 to
//! 1e-5 (relative to the values' scale), with and without autograd.

use tessera_autograd::Var;
use tessera_tensor::{Conv2dSpec, ConvTranspose2dSpec, DType, Tensor};

#[allow(dead_code)]
mod common;
use common::Fixtures;

/// One case's options from its `spec` tensor.
enum Spec {
    Conv(Conv2dSpec),
    Transpose(ConvTranspose2dSpec),
}

fn spec(f: &Fixtures, case: &str) -> Spec {
    let v: Vec<i64> = f.get(&format!("{case}.spec")).to_vec().unwrap();
    let u: Vec<usize> = v.iter().map(|&x| x as usize).collect();
    let (stride, padding, dilation, groups) = ([u[1], u[2]], [u[3], u[4]], [u[5], u[6]], u[7]);
    if v[0] == 0 {
        Spec::Conv(Conv2dSpec { stride, padding, dilation, groups })
    } else {
        Spec::Transpose(ConvTranspose2dSpec { stride, padding, output_padding: [u[8], u[9]], dilation, groups })
    }
}

fn run(spec: &Spec, v: &[Var]) -> Var {
    match spec {
        Spec::Conv(s) => v[0].conv2d(&v[1], v.get(2), s).unwrap(),
        Spec::Transpose(s) => v[0].conv_transpose2d(&v[1], v.get(2), s).unwrap(),
    }
}

fn run_tensor(spec: &Spec, v: &[Tensor]) -> Tensor {
    match spec {
        Spec::Conv(s) => v[0].conv2d(&v[1], v.get(2), s).unwrap(),
        Spec::Transpose(s) => v[0].conv_transpose2d(&v[1], v.get(2), s).unwrap(),
    }
}

/// `|got - want| <= tol · (1 + max |want|)` element by element.
fn near(case: &str, what: &str, got: &Tensor, want: &Tensor, tol: f64) {
    assert_eq!(got.dims(), want.dims(), "{case} {what}: shape");
    let (g, w) = (got.to_vec_f64().unwrap(), want.to_vec_f64().unwrap());
    let scale = 1.0 + w.iter().fold(0f64, |m, v| m.max(v.abs()));
    for (i, (a, b)) in g.iter().zip(&w).enumerate() {
        assert!((a - b).abs() <= tol * scale, "{case} {what}[{i}]: got {a}, PyTorch {b}");
    }
}

fn cases(f: &Fixtures) -> Vec<String> {
    let names: Vec<String> = f.0.keys().filter_map(|k| k.strip_suffix(".spec")).map(String::from).collect();
    assert!(names.len() >= 10, "{names:?}");
    names
}

fn inputs(f: &Fixtures, case: &str) -> Vec<Tensor> {
    (0..3).map(|k| format!("{case}.in.{k}")).take_while(|k| f.0.contains_key(k)).map(|k| f.get(&k)).collect()
}

#[test]
fn conv_f64_matches_pytorch_with_gradients() {
    let f = Fixtures::load("conv.safetensors");
    for case in cases(&f) {
        let spec = spec(&f, &case);
        let ts = inputs(&f, &case);
        let vars: Vec<Var> = ts.iter().map(|t| Var::param(t.clone()).unwrap()).collect();
        let y = run(&spec, &vars);
        f.check(&case, &y, &[], &vars);
        near(&case, "tensor output", &run_tensor(&spec, &ts), &f.get(&format!("{case}.out")), 1e-12);
    }
}

#[test]
fn conv_f32_matches_pytorch_to_1e5() {
    let f = Fixtures::load("conv.safetensors");
    for case in cases(&f) {
        let spec = spec(&f, &case);
        let ts: Vec<Tensor> = inputs(&f, &case).iter().map(|t| t.to_dtype(DType::F32).unwrap()).collect();
        let vars: Vec<Var> = ts.iter().map(|t| Var::param(t.clone()).unwrap()).collect();
        let y = run(&spec, &vars);
        near(&case, "output", y.tensor(), &f.get(&format!("{case}.out")), 1e-5);
        let w = f.get(&format!("{case}.w")).to_dtype(DType::F32).unwrap();
        y.mul(&Var::constant(w)).unwrap().sum_all().unwrap().backward().unwrap();
        for (k, v) in vars.iter().enumerate() {
            near(&case, &format!("grad {k}"), &v.grad().unwrap(), &f.get(&format!("{case}.grad.in.{k}")), 1e-5);
        }
    }
}
