//! Penalties, parameter groups and state round-trips of the [`Optimizer`].

use super::*;
use tessera_autograd::Var;
use tessera_tensor::Device;

fn param(values: &[f32], dims: &[usize]) -> Var {
    Var::param(Tensor::from_vec(values.to_vec(), dims.to_vec(), &Device::Cpu).unwrap()).unwrap()
}

fn values(v: &Var) -> Vec<f32> {
    v.tensor().to_vec::<f32>().unwrap()
}

/// `Σ w + Σ b`: every gradient is 1.
fn backward_sum(w: &Var, b: &Var) {
    w.sum_all().unwrap().add(&b.sum_all().unwrap()).unwrap().backward().unwrap();
}

fn sgd(lr: f64) -> OptimizerKind {
    OptimizerKind::Sgd(Sgd { lr, ..Sgd::default() })
}

#[test]
fn penalty_update_is_the_hand_computed_one() {
    let (w, b) = (param(&[1.0, -2.0, 0.0, 0.5], &[2, 2]), param(&[3.0], &[1]));
    let params = vec![("w".to_string(), w.clone()), ("b".to_string(), b.clone())];
    let (l1, l2) = (0.01, 0.1);
    let mut opt =
        Optimizer::new(params, sgd(0.1)).unwrap().with_penalty(Penalty { l1, l2 }, matrices_and_embeddings).unwrap();
    assert!(opt.has_penalty());
    // l1 (1 + 2 + 0 + 0.5) + l2 (1 + 4 + 0 + 0.25); the bias is not penalised.
    assert!((opt.penalty_value().unwrap() - (l1 * 3.5 + l2 * 5.25)).abs() < 1e-6);
    backward_sum(&w, &b);
    opt.step().unwrap();
    // w -= lr (1 + l1 sign(w) + 2 l2 w)
    let expected: Vec<f32> = [1.0f64, -2.0, 0.0, 0.5]
        .iter()
        .map(|&x: &f64| (x - 0.1 * (1.0 + l1 * x.signum() * (x != 0.0) as u8 as f64 + 2.0 * l2 * x)) as f32)
        .collect();
    for (got, want) in values(&w).iter().zip(&expected) {
        assert!((got - want).abs() < 1e-6, "{:?} != {expected:?}", values(&w));
    }
    assert_eq!(values(&b), vec![3.0 - 0.1]);
}

#[test]
fn penalty_gradient_is_clipped_with_the_loss_gradient() {
    // The loss's gradient is 0; the penalty's, [4, -2], is clipped to [0.5, -0.5] (a penalty on
    // the loss), not added after clipping.
    let w = param(&[2.0, -1.0], &[1, 2]);
    let mut opt = Optimizer::new(vec![("w".into(), w.clone())], sgd(0.1))
        .unwrap()
        .with_penalty(Penalty { l1: 0.0, l2: 1.0 }, |_, _| true)
        .unwrap()
        .with_clip(Clip::Value(0.5))
        .unwrap();
    w.sum_all().unwrap().scale(0.0).unwrap().backward().unwrap();
    opt.step().unwrap();
    assert_eq!(values(&w), vec![2.0 - 0.05, -1.0 + 0.05]);
}

#[test]
fn a_group_with_rate_0_is_frozen_and_rates_follow_the_schedule() {
    let (w, b) = (param(&[1.0, 2.0], &[1, 2]), param(&[3.0], &[1]));
    let params = vec![("w".to_string(), w.clone()), ("b".to_string(), b.clone())];
    let kind = OptimizerKind::Sgd(Sgd { lr: 0.1, weight_decay: 0.5, ..Sgd::default() });
    let frozen = GroupOptions { lr_scale: Some(0.0), ..GroupOptions::default() };
    let mut opt = Optimizer::new(params, kind).unwrap().with_group(|n, _| n == "b", frozen).unwrap();
    backward_sum(&w, &b);
    opt.step().unwrap();
    assert_eq!(values(&b), vec![3.0]);
    // w -= 0.1 (1 + 0.5 w)
    assert_eq!(values(&w), vec![1.0 - 0.1 * 1.5, 2.0 - 0.1 * 2.0]);

    let (w, b) = (param(&[1.0, 2.0], &[1, 2]), param(&[3.0], &[1]));
    let params = vec![("w".to_string(), w.clone()), ("b".to_string(), b.clone())];
    let half = GroupOptions { lr_scale: Some(0.5), weight_decay: Some(0.0) };
    let mut opt = Optimizer::new(params, kind).unwrap().with_group(|n, _| n == "w", half).unwrap();
    assert_eq!(opt.param_settings("w"), Some((0.05, 0.0)));
    assert_eq!(opt.param_settings("b"), Some((0.1, 0.5)));
    assert_eq!(opt.param_settings("nothing"), None);
    opt.set_learning_rate(0.02);
    assert_eq!(opt.param_settings("w"), Some((0.01, 0.0)));
    backward_sum(&w, &b);
    opt.step().unwrap();
    assert_eq!(values(&w), vec![1.0 - 0.01, 2.0 - 0.01]);
    assert_eq!(values(&b), vec![3.0 - 0.02 * (1.0 + 0.5 * 3.0)]);
}

#[test]
fn groups_may_not_overlap_or_be_empty_and_bad_values_are_refused() {
    let params = || vec![("w".to_string(), param(&[1.0], &[1, 1])), ("b".to_string(), param(&[1.0], &[1]))];
    let g = GroupOptions::default();
    let e =
        Optimizer::new(params(), sgd(0.1)).unwrap().with_group(|_, _| true, g).unwrap().with_group(|n, _| n == "b", g);
    assert_eq!(
        e.err().unwrap().to_string(),
        "invalid configuration: parameter 'b' is in group 0 already, not also in 1"
    );
    let e = Optimizer::new(params(), sgd(0.1)).unwrap().with_group(|_, _| false, g);
    assert!(e.err().unwrap().to_string().contains("group 0 selects no parameter"));
    let bad = GroupOptions { weight_decay: Some(f64::INFINITY), ..g };
    assert!(Optimizer::new(params(), sgd(0.1)).unwrap().with_group(|_, _| true, bad).is_err());
    let e = Optimizer::new(params(), sgd(0.1)).unwrap().with_penalty(Penalty { l1: 0.0, l2: -0.1 }, |_, _| true);
    assert!(e.err().unwrap().to_string().contains("l2 penalty -0.1"));
}

#[test]
fn state_round_trips_with_groups_and_penalties() {
    let build = |w: &Var, b: &Var| {
        let params = vec![("w".to_string(), w.clone()), ("b".to_string(), b.clone())];
        let kind = OptimizerKind::Adam(Adam { lr: 0.05, weight_decay: 0.01, ..Adam::default() });
        Optimizer::new(params, kind)
            .unwrap()
            .with_penalty(Penalty { l1: 0.01, l2: 0.02 }, matrices_and_embeddings)
            .unwrap()
            .with_group(|n, _| n == "b", GroupOptions { lr_scale: Some(0.3), weight_decay: Some(0.0) })
            .unwrap()
    };
    let (w, b) = (param(&[1.0, -2.0, 0.5], &[1, 3]), param(&[0.25], &[1]));
    let mut a = build(&w, &b);
    for _ in 0..2 {
        a.zero_grad();
        backward_sum(&w, &b);
        a.step().unwrap();
    }
    let (state, steps) = a.state_dict();
    let (w2, b2) = (param(&values(&w), &[1, 3]), param(&values(&b), &[1]));
    let mut c = build(&w2, &b2);
    c.load_state_dict(&state, steps).unwrap();
    assert_eq!(c.steps(), 2);
    for (opt, (w, b)) in [(&mut a, (&w, &b)), (&mut c, (&w2, &b2))] {
        opt.zero_grad();
        backward_sum(w, b);
        opt.step().unwrap();
    }
    assert_eq!((values(&w), values(&b)), (values(&w2), values(&b2)));
    assert_ne!(values(&b), vec![0.25], "the group still moves");
}

#[test]
fn settings_pytorch_refuses_are_errors_naming_the_setting() {
    let build = |kind| Optimizer::new(vec![("w".to_string(), param(&[1.0], &[1]))], kind).err().map(|e| e.to_string());
    let adam = |a: Adam| OptimizerKind::Adam(a);
    let refused = [
        (sgd(-0.1), "SGD: learning rate -0.1 must be >= 0"),
        (sgd(f64::NAN), "SGD: learning rate NaN must be >= 0"),
        (OptimizerKind::Sgd(Sgd { momentum: -0.9, ..Sgd::default() }), "SGD: momentum -0.9 must be >= 0"),
        (
            OptimizerKind::Sgd(Sgd { nesterov: true, ..Sgd::default() }),
            "SGD: Nesterov momentum needs a momentum above 0 and no dampening (momentum 0, dampening 0)",
        ),
        (
            OptimizerKind::Sgd(Sgd { nesterov: true, momentum: 0.9, dampening: 0.1, ..Sgd::default() }),
            "SGD: Nesterov momentum needs a momentum above 0 and no dampening (momentum 0.9, dampening 0.1)",
        ),
        // A beta of 1 divides by zero in the bias correction: every parameter became NaN.
        (adam(Adam { betas: (1.0, 0.999), ..Adam::default() }), "Adam: beta1 1 must be in [0, 1)"),
        (adam(Adam { betas: (0.9, f64::NAN), ..Adam::adamw() }), "AdamW: beta2 NaN must be in [0, 1)"),
        (adam(Adam { eps: -1e-8, ..Adam::default() }), "Adam: eps -0.00000001 must be >= 0"),
        (adam(Adam { weight_decay: -0.01, ..Adam::adamw() }), "AdamW: weight decay -0.01 must be >= 0"),
        (OptimizerKind::RmsProp(RmsProp { alpha: -0.5, ..RmsProp::default() }), "RMSprop: alpha -0.5 must be >= 0"),
    ];
    for (kind, want) in refused {
        assert_eq!(build(kind), Some(format!("invalid configuration: {want}")));
    }
    let nesterov = OptimizerKind::Sgd(Sgd { nesterov: true, momentum: 0.9, ..Sgd::default() });
    for fine in [sgd(0.0), nesterov, adam(Adam { betas: (0.0, 0.0), eps: 0.0, ..Adam::default() })] {
        assert_eq!(build(fine), None);
    }
}

#[test]
fn clipping_bounds_below_zero_or_nan_are_errors() {
    let opt = || Optimizer::new(vec![("w".to_string(), param(&[1.0], &[1]))], sgd(0.1)).unwrap();
    // A negative norm bound turned every gradient around; NaN switched clipping off.
    let e = opt().with_clip(Clip::GlobalNorm(-1.0)).err().unwrap().to_string();
    assert_eq!(e, "invalid configuration: gradient clipping: global norm bound -1 must be >= 0");
    assert!(opt().with_clip(Clip::GlobalNorm(f64::NAN)).is_err());
    assert!(opt().with_clip(Clip::Value(-0.5)).err().unwrap().to_string().contains("value bound -0.5"));
    assert!(opt().with_clip(Clip::GlobalNorm(f64::INFINITY)).is_ok());
    assert!(opt().with_clip(Clip::Value(0.0)).is_ok());
}

/// f16 gradients whose squares (or their sum) pass f16's largest value, 65504, still have a
/// finite norm, as in f32.
#[test]
fn the_norm_of_f16_gradients_beyond_256_is_finite() {
    let g = Tensor::from_vec(vec![300f32, 400.0, 0.0], [3], &Device::Cpu).unwrap();
    for dtype in [DType::F32, DType::F16, DType::BF16] {
        let norm = global_norm(std::iter::once(&g.to_dtype(dtype).unwrap())).unwrap();
        assert!((norm - 500.0).abs() < 1.0, "{dtype}: norm {norm}");
    }
}
