//! Each optimizer's updates against PyTorch's on fixed inputs (fixtures/optim.safetensors, made
//! by fixtures/make_optim_fixtures.py).

use std::collections::BTreeMap;
use std::path::Path;
use tessera_autograd::Var;
use tessera_nn::state_dict::read_safetensors;
use tessera_tensor::Tensor;
use tessera_train::optim::*;

fn fixtures() -> BTreeMap<String, Tensor> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/optim.safetensors");
    read_safetensors(&p).unwrap().0.into_iter().collect()
}

fn check(name: &str, kind: OptimizerKind, clip: Option<Clip>) {
    let f = fixtures();
    let p = Var::param(f["init"].copy().unwrap()).unwrap();
    let mut opt = Optimizer::new(vec![("p".into(), p.clone())], kind).unwrap();
    if let Some(c) = clip {
        opt = opt.with_clip(c).unwrap();
    }
    for k in 0..3 {
        opt.zero_grad();
        // d/dp sum(p * g) = g: the fixture's gradient.
        p.mul(&Var::constant(f[&format!("grad.{k}")].clone())).unwrap().sum_all().unwrap().backward().unwrap();
        opt.step().unwrap();
        let (got, want) =
            (p.tensor().to_vec::<f64>().unwrap(), f[&format!("{name}.after.{k}")].to_vec::<f64>().unwrap());
        for (a, b) in got.iter().zip(&want) {
            assert!((a - b).abs() < 1e-12, "{name} step {}: got {a}, PyTorch {b}", k + 1);
        }
    }
}

#[test]
fn sgd_variants_match_pytorch() {
    check("sgd", OptimizerKind::Sgd(Sgd { lr: 0.1, ..Sgd::default() }), None);
    let momentum = Sgd { lr: 0.1, momentum: 0.9, dampening: 0.1, weight_decay: 0.01, ..Sgd::default() };
    check("sgd_momentum", OptimizerKind::Sgd(momentum), None);
    check("sgd_nesterov", OptimizerKind::Sgd(Sgd { lr: 0.1, momentum: 0.9, nesterov: true, ..Sgd::default() }), None);
    check("sgd_clip_value", OptimizerKind::Sgd(Sgd { lr: 0.1, ..Sgd::default() }), Some(Clip::Value(0.1)));
}

#[test]
fn adam_and_adamw_match_pytorch() {
    check("adam", OptimizerKind::Adam(Adam { lr: 0.01, ..Adam::default() }), None);
    check("adam_l2", OptimizerKind::Adam(Adam { lr: 0.01, weight_decay: 0.1, ..Adam::default() }), None);
    check("adamw", OptimizerKind::Adam(Adam { lr: 0.01, weight_decay: 0.1, ..Adam::adamw() }), None);
    check("adam_clip_norm", OptimizerKind::Adam(Adam { lr: 0.01, ..Adam::default() }), Some(Clip::GlobalNorm(0.5)));
}

#[test]
fn rmsprop_matches_pytorch() {
    check("rmsprop", OptimizerKind::RmsProp(RmsProp { lr: 0.01, ..RmsProp::default() }), None);
    let m = RmsProp { lr: 0.01, momentum: 0.9, weight_decay: 0.01, ..RmsProp::default() };
    check("rmsprop_momentum", OptimizerKind::RmsProp(m), None);
}

#[test]
fn state_round_trips_through_state_dict() {
    let f = fixtures();
    let make = || Var::param(f["init"].copy().unwrap()).unwrap();
    let (a, b) = (make(), make());
    let kind = OptimizerKind::Adam(Adam::default());
    let mut oa = Optimizer::new(vec![("p".into(), a.clone())], kind).unwrap();
    a.mul(&Var::constant(f["grad.0"].clone())).unwrap().sum_all().unwrap().backward().unwrap();
    oa.step().unwrap();
    let mut ob = Optimizer::new(vec![("p".into(), b.clone())], kind).unwrap();
    let (state, steps) = oa.state_dict();
    ob.load_state_dict(&state, steps).unwrap();
    assert_eq!(ob.steps(), 1);
    assert_eq!(ob.state_dict().0[0].1.to_vec::<f64>().unwrap(), state[0].1.to_vec::<f64>().unwrap());
    assert!(ob.load_state_dict(&state[..1], 1).is_err());
}

#[test]
fn weight_decay_applies_only_to_the_selected_parameters() {
    // With a zero gradient, AdamW's step is the decoupled shrink alone: p · (1 - lr · wd).
    let cpu = tessera_tensor::Device::Cpu;
    let w = Var::param(Tensor::from_vec(vec![1.0f64, -2.0, 3.0, 4.0], [2, 2], &cpu).unwrap()).unwrap();
    let b = Var::param(Tensor::from_vec(vec![1.0f64, 2.0], [2], &cpu).unwrap()).unwrap();
    let kind = OptimizerKind::Adam(Adam { lr: 0.1, weight_decay: 0.5, ..Adam::adamw() });
    let mut opt = Optimizer::new(vec![("w".into(), w.clone()), ("b".into(), b.clone())], kind)
        .unwrap()
        .with_decay_only(matrices_and_embeddings);
    w.add(&b).unwrap().scale(0.0).unwrap().sum_all().unwrap().backward().unwrap();
    opt.step().unwrap();
    let shrunk = w.tensor().to_vec::<f64>().unwrap();
    assert!(shrunk.iter().zip([0.95, -1.9, 2.85, 3.8]).all(|(a, b)| (a - b).abs() < 1e-12), "{shrunk:?}");
    assert_eq!(b.tensor().to_vec::<f64>().unwrap(), [1.0, 2.0]);
}
