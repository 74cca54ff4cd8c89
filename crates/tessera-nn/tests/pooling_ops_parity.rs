//! The pooling and batch-norm ops against PyTorch's functional API (`fixtures/
//! make_pooling_fixtures.py` made `fixtures/pooling_ops.safetensors`, float64): outputs, max
//! pooling's indices, input and parameter gradients, batch norm's saved statistics and the
//! unbiased variance it returns for running estimates.

use tessera_autograd::Var;
use tessera_tensor::{AvgPool2dSpec, MaxPool2dSpec, Tensor};

#[allow(dead_code)]
mod common;
use common::{close, Fixtures};

fn fixtures() -> Fixtures {
    Fixtures::load("pooling_ops.safetensors")
}

/// Runs `op` on the case's input, checks its output and the input's gradient of `sum(out * w)`.
fn check(f: &Fixtures, case: &str, op: impl Fn(&Var) -> Var) {
    let x = f.input(case, 0);
    let y = op(&x);
    f.check(case, &y, &[], &[x]);
}

#[test]
fn max_pool2d_matches_pytorch() {
    let f = fixtures();
    let cases = [
        ("max_basic", MaxPool2dSpec::new([2, 2])),
        ("max_pad_stride", MaxPool2dSpec::new([3, 3]).stride([2, 2]).padding([1, 1])),
        (
            "max_dilated_ceil",
            MaxPool2dSpec::new([3, 2]).stride([2, 1]).padding([1, 1]).dilation([2, 3]).ceil_mode(true),
        ),
        ("max_unbatched", MaxPool2dSpec::new([3, 3]).stride([2, 2]).ceil_mode(true)),
    ];
    for (case, spec) in cases {
        let (_, idx) = f.get(&format!("{case}.in.0")).max_pool2d(&spec).unwrap();
        assert_eq!(idx.to_vec::<i64>().unwrap(), f.get(&format!("{case}.indices")).to_vec::<i64>().unwrap(), "{case}");
        check(&f, case, |x| x.max_pool2d(&spec).unwrap());
    }
}

#[test]
fn avg_pool2d_matches_pytorch() {
    let f = fixtures();
    let k3 = AvgPool2dSpec::new([3, 3]).stride([2, 2]).padding([1, 1]).ceil_mode(true);
    let cases = [
        ("avg_basic", AvgPool2dSpec::new([2, 2])),
        ("avg_pad_ceil", k3),
        ("avg_pad_uncounted", k3.count_include_pad(false)),
        ("avg_divisor", AvgPool2dSpec::new([3, 2]).stride([2, 1]).padding([1, 1]).divisor_override(Some(5))),
    ];
    for (case, spec) in cases {
        check(&f, case, |x| x.avg_pool2d(&spec).unwrap());
    }
}

#[test]
fn adaptive_avg_pool2d_matches_pytorch() {
    let f = fixtures();
    for (case, size) in [("adaptive_3x4", [3, 4]), ("adaptive_up", [7, 3]), ("adaptive_unbatched", [4, 5])] {
        check(&f, case, |x| x.adaptive_avg_pool2d(size).unwrap());
    }
}

#[test]
fn batch_norm_matches_pytorch() {
    let f = fixtures();
    for (case, training, affine) in [
        ("bn_train_4d", true, true),
        ("bn_train_2d", true, false),
        ("bn_eval_3d", false, true),
        ("bn_eval_4d_plain", false, false),
    ] {
        let x = f.input(case, 0);
        let params: Vec<(String, Var)> = if affine {
            ["weight", "bias"]
                .iter()
                .map(|n| (n.to_string(), Var::param(f.get(&format!("{case}.param.{n}"))).unwrap()))
                .collect()
        } else {
            vec![]
        };
        let (w, b) = (params.first().map(|p| &p.1), params.get(1).map(|p| &p.1));
        let running: Option<(Tensor, Tensor)> =
            (!training).then(|| (f.get(&format!("{case}.running_mean")), f.get(&format!("{case}.running_var"))));
        let (y, stats) = x.batch_norm(w, b, running.as_ref().map(|(m, v)| (m, v)), training, 1e-5).unwrap();
        if training {
            let stats = stats.expect("training returns the batch statistics");
            close(case, "mean", &stats.mean, &f.get(&format!("{case}.save_mean")));
            close(case, "unbiased var", &stats.var, &f.get(&format!("{case}.unbiased_var")));
            let (_, saved) =
                x.tensor().batch_norm(w.map(|w| w.tensor()), b.map(|b| b.tensor()), None, true, 1e-5).unwrap();
            close(
                case,
                "saved invstd",
                &saved.narrow(0, 1, 1).unwrap().squeeze(0).unwrap(),
                &f.get(&format!("{case}.save_invstd")),
            );
        } else {
            assert!(stats.is_none(), "{case}: eval mode returns no statistics");
        }
        f.check(case, &y, &params, &[x]);
    }
}
