//! Mixed precision: inside an autocast scope the products (matmul, convolution, attention) compute
//! in bf16 or f16 and hand back f32, their gradients reach f32 parameters, and everything else
//! (and every op outside a scope, or on f64 operands) is untouched.

use tessera_autograd::{autocast, Precision, Var};
use tessera_tensor::{bf16, f16, AttentionSpec, Conv2dSpec, DType, Device, Generator, Tensor};

fn randn(dims: &[usize], seed: u64) -> Tensor {
    Tensor::randn(&mut Generator::new(seed), dims.to_vec(), DType::F32, &Device::Cpu).unwrap()
}

fn values(t: &Tensor) -> Vec<f32> {
    t.to_vec::<f32>().unwrap()
}

/// Whether every value is exactly one of `low`'s: the result was rounded there.
fn representable(v: &[f32], low: Precision) -> bool {
    let round = |x: f32| match low {
        Precision::Bf16 => bf16::from_f32(x).to_f32(),
        Precision::F16 => f16::from_f32(x).to_f32(),
        Precision::F32 => x,
    };
    v.iter().all(|&x| round(x) == x)
}

/// The largest difference relative to the largest magnitude of `want`.
fn relative_error(got: &[f32], want: &[f32]) -> f32 {
    let scale = want.iter().fold(0f32, |m, x| m.max(x.abs())).max(1e-30);
    got.iter().zip(want).fold(0f32, |m, (g, w)| m.max((g - w).abs())) / scale
}

/// `f` on fresh parameters made from `inputs`, in `precision`: the output and every input's
/// gradient of `sum(output · weights)`.
fn run(precision: Precision, inputs: &[Tensor], f: &dyn Fn(&[Var]) -> Var) -> (Tensor, Vec<Tensor>) {
    let vars: Vec<Var> = inputs.iter().map(|t| Var::param(t.clone()).unwrap()).collect();
    let y = autocast(precision, || f(&vars));
    let weights = Var::constant(randn(y.dims(), 99));
    y.mul(&weights).unwrap().sum_all().unwrap().backward().unwrap();
    (y.tensor().clone(), vars.iter().map(|v| v.grad().unwrap()).collect())
}

/// Checks that `f` in bf16 and f16 gives f32 outputs and gradients rounded to the low dtype and
/// within its precision of the f32 ones.
fn check_mixed(inputs: &[Tensor], f: &dyn Fn(&[Var]) -> Var, what: &str) {
    let (want, want_grads) = run(Precision::F32, inputs, f);
    for (low, tolerance) in [(Precision::Bf16, 2e-2), (Precision::F16, 2e-3)] {
        let (got, grads) = run(low, inputs, f);
        assert_eq!(got.dtype(), DType::F32, "{what} {low}");
        assert!(representable(&values(&got), low), "{what} {low}: the output was not computed in {low}");
        let err = relative_error(&values(&got), &values(&want));
        assert!(err < tolerance && err > 0.0, "{what} {low}: output error {err}");
        for (i, (g, w)) in grads.iter().zip(&want_grads).enumerate() {
            assert_eq!(g.dtype(), DType::F32, "{what} {low}: gradient {i}");
            let err = relative_error(&values(g), &values(w));
            assert!(err < tolerance, "{what} {low}: gradient {i} error {err}");
        }
    }
}

#[test]
fn matmul_and_its_gradients_compute_in_the_low_precision() {
    let (a, b) = (randn(&[5, 12], 1), randn(&[12, 7], 2));
    check_mixed(&[a.clone(), b.clone()], &|v| v[0].matmul(&v[1]).unwrap(), "matmul");
    // The weight's gradient is a product too: rounded to bf16 before it became f32.
    let (_, grads) = run(Precision::Bf16, &[a, b], &|v| v[0].matmul(&v[1]).unwrap());
    assert!(representable(&values(&grads[1]), Precision::Bf16));
    let bias = randn(&[7], 3);
    let inputs = [randn(&[2, 3, 12], 4), randn(&[7, 12], 5), bias];
    check_mixed(&inputs, &|v| v[0].matmul_bias(&v[1].t().unwrap(), &v[2]).unwrap(), "matmul_bias");
}

#[test]
fn convolution_and_attention_compute_in_the_low_precision() {
    let spec = Conv2dSpec { padding: [1, 1], ..Conv2dSpec::default() };
    let inputs = [randn(&[2, 3, 6, 6], 6), randn(&[4, 3, 3, 3], 7), randn(&[4], 8)];
    check_mixed(&inputs, &|v| v[0].conv2d(&v[1], Some(&v[2]), &spec).unwrap(), "conv2d");
    let spec = AttentionSpec { causal: true, ..AttentionSpec::default() };
    let qkv = [randn(&[2, 2, 5, 8], 9), randn(&[2, 2, 5, 8], 10), randn(&[2, 2, 5, 8], 11)];
    check_mixed(&qkv, &|v| Var::attention(&v[0], &v[1], &v[2], None, &spec).unwrap(), "attention");
}

#[test]
fn other_ops_and_other_dtypes_are_untouched() {
    let x = randn(&[4, 4], 12);
    // Elementwise ops and reductions stay f32, bit for bit.
    let f = |v: &[Var]| v[0].tanh().unwrap().softmax(-1).unwrap();
    let (plain, plain_grads) = run(Precision::F32, std::slice::from_ref(&x), &f);
    let (mixed, mixed_grads) = run(Precision::Bf16, std::slice::from_ref(&x), &f);
    assert_eq!(values(&plain), values(&mixed));
    assert_eq!(values(&plain_grads[0]), values(&mixed_grads[0]));
    // f64 operands multiply in f64 inside a scope.
    let a = Var::constant(x.to_dtype(DType::F64).unwrap());
    let y = autocast(Precision::F16, || a.matmul(&a).unwrap());
    assert_eq!(y.dtype(), DType::F64);
    assert_eq!(y.tensor().to_vec_f64().unwrap(), a.tensor().matmul(a.tensor()).unwrap().to_vec_f64().unwrap());
}

#[test]
fn f16_products_overflow_where_f32_ones_do_not() {
    // 300 · 300 = 90,000 > 65,504, f16's largest value: the product is infinite, as a loss scaled
    // too far makes a gradient in f16 training; the loss scaler exists to catch exactly this.
    let a = Var::constant(Tensor::full(300.0, [1, 1], DType::F32, &Device::Cpu).unwrap());
    let y = autocast(Precision::F16, || a.matmul(&a).unwrap());
    assert_eq!(values(y.tensor()), [f32::INFINITY]);
    let y = autocast(Precision::Bf16, || a.matmul(&a).unwrap());
    assert_eq!(values(y.tensor()), [90_112.0]); // bf16 keeps f32's range, not its precision
}
