//! Mixed-precision training: dynamic loss scaling divides out exactly, skips a step whose
//! gradients overflowed and backs off, survives a checkpoint; the MLP trained with bf16 or f16
//! products on the shipped MNIST sample reaches the held-out accuracy of its f32 run.

use tessera_autograd::Var;
use tessera_nn::{loss, Module};
use tessera_tensor::{DType, Device, Tensor};
use tessera_train::data::mnist_sample;
use tessera_train::models::mlp_classifier;
use tessera_train::optim::{matrices_and_embeddings, Adam, Clip, LossScaling, Optimizer, OptimizerKind, Penalty};
use tessera_train::{checkpoint, FitConfig, LossFn, Precision, Trainer};

fn param(values: &[f32], dims: &[usize]) -> Var {
    Var::param(Tensor::from_vec(values.to_vec(), dims.to_vec(), &Device::Cpu).unwrap()).unwrap()
}

fn values(v: &Var) -> Vec<f32> {
    v.tensor().to_vec::<f32>().unwrap()
}

/// Adam with clipping by global norm and an L2 penalty on the matrix: every path of a step.
fn optimizer(params: &[(&str, &Var)]) -> Optimizer {
    let params = params.iter().map(|(n, p)| (n.to_string(), (*p).clone())).collect();
    Optimizer::new(params, OptimizerKind::Adam(Adam { lr: 0.1, ..Adam::default() }))
        .unwrap()
        .with_clip(Clip::GlobalNorm(0.5))
        .unwrap()
        .with_penalty(Penalty { l1: 0.0, l2: 0.01 }, matrices_and_embeddings)
        .unwrap()
}

/// `sum(tanh(x @ w + b)²)` for a fixed `x`.
fn loss_of(w: &Var, b: &Var) -> Var {
    let x = Var::constant(Tensor::from_vec(vec![0.5f32, -1.0, 2.0, 0.25, 1.5, -0.75], [3, 2], &Device::Cpu).unwrap());
    x.matmul_bias(w, b).unwrap().tanh().unwrap().square().unwrap().sum_all().unwrap()
}

#[test]
fn a_power_of_two_loss_scale_changes_no_bit_of_the_steps() {
    let run = |scaling: Option<LossScaling>| {
        let (w, b) = (param(&[0.3, -0.2, 0.1, 0.4, -0.5, 0.6], &[2, 3]), param(&[0.1, 0.0, -0.1], &[3]));
        let mut opt = optimizer(&[("w", &w), ("b", &b)]);
        opt.set_loss_scaling(scaling).unwrap();
        for _ in 0..3 {
            opt.zero_grad();
            loss_of(&w, &b).scale(opt.loss_scale()).unwrap().backward().unwrap();
            opt.step().unwrap();
        }
        (values(&w), values(&b), opt.steps())
    };
    let scaled = run(Some(LossScaling { init_scale: 1024.0, ..LossScaling::default() }));
    assert_eq!(scaled, run(None));
    assert_eq!(scaled.2, 3);
}

#[test]
fn an_overflowing_step_is_skipped_and_the_scale_backs_off() {
    let (w, b) = (param(&[0.3, -0.2, 0.1, 0.4, -0.5, 0.6], &[2, 3]), param(&[0.1, 0.0, -0.1], &[3]));
    let mut opt = optimizer(&[("w", &w), ("b", &b)])
        .with_loss_scaling(LossScaling { init_scale: 256.0, growth_interval: 2, ..LossScaling::default() })
        .unwrap();
    let before = (values(&w), values(&b));
    // An infinite gradient in the bias only: the whole step is skipped.
    let inf = Var::constant(Tensor::full(f64::INFINITY, [3], DType::F32, &Device::Cpu).unwrap());
    loss_of(&w, &b).add(&b.mul(&inf).unwrap().sum_all().unwrap()).unwrap().backward().unwrap();
    opt.step().unwrap();
    assert_eq!((values(&w), values(&b)), before, "a skipped step changed a parameter");
    assert_eq!(opt.steps(), 0);
    assert!(opt.state_dict().0.iter().all(|(_, t)| t.to_vec_f64().unwrap().iter().all(|&v| v == 0.0)));
    let scaler = *opt.loss_scaler().unwrap();
    assert_eq!((scaler.scale(), scaler.skipped_steps()), (128.0, 1));
    // Two clean steps grow it back.
    for _ in 0..2 {
        opt.zero_grad();
        loss_of(&w, &b).scale(opt.loss_scale()).unwrap().backward().unwrap();
        opt.step().unwrap();
    }
    assert_eq!((opt.loss_scale(), opt.steps()), (256.0, 2));
    assert_ne!(values(&w), before.0);
}

fn sparse_cce() -> LossFn {
    Box::new(loss::sparse_categorical_crossentropy)
}

/// The held-out accuracy of the MLP trained two epochs in `precision` (with `scaling`, when
/// given), and its trainer's loss scaler state at the end (scale, steps skipped).
fn train_mlp(precision: Precision, scaling: Option<LossScaling>) -> (f64, Option<(f64, u64)>) {
    let (train, test) = mnist_sample().unwrap().split(0.2, 42).unwrap();
    let model = mlp_classifier(0, 784, 10, &Device::Cpu).unwrap();
    let mut opt = Optimizer::new(model.parameters(), OptimizerKind::Adam(Adam::default())).unwrap();
    opt.set_loss_scaling(scaling).unwrap();
    let mut trainer = Trainer::new(&model, opt, sparse_cce()).precision(precision);
    let cfg = FitConfig { epochs: 2, batch_size: 32, seed: 7, progress: false, ..FitConfig::default() };
    let history = trainer.fit(&train, &cfg).unwrap();
    assert!(history.epochs.iter().all(|e| e.get("loss").unwrap().is_finite()));
    let accuracy = trainer.evaluate(&test, 256, None).unwrap().accuracy.unwrap();
    let scaler = trainer.optimizer().loss_scaler().map(|s| (s.scale(), s.skipped_steps()));
    (accuracy, scaler)
}

#[test]
fn mixed_precision_mlp_reaches_the_f32_accuracy() {
    let (f32_accuracy, none) = train_mlp(Precision::F32, None);
    assert!(none.is_none() && f32_accuracy > 0.88, "f32: {f32_accuracy}");
    let (bf16_accuracy, none) = train_mlp(Precision::Bf16, None);
    assert!(none.is_none(), "bf16 needs no loss scaling");
    assert!((bf16_accuracy - f32_accuracy).abs() <= 0.015, "bf16 {bf16_accuracy} vs f32 {f32_accuracy}");
    // f16 starting from a scale far too large: the gradients overflow f16 at first, those
    // steps are skipped while the scale halves, and training goes on from a usable scale.
    let start = 2f64.powi(40);
    let (f16_accuracy, scaler) =
        train_mlp(Precision::F16, Some(LossScaling { init_scale: start, ..LossScaling::default() }));
    let (scale, skipped) = scaler.unwrap();
    assert!(skipped >= 10 && scale <= start / 1024.0, "scale {scale} after {skipped} skipped steps");
    assert!((f16_accuracy - f32_accuracy).abs() <= 0.015, "f16 {f16_accuracy} vs f32 {f32_accuracy}");
    // Trained in f16 without saying how: the trainer turns on the default scaling.
    let model = mlp_classifier(0, 784, 10, &Device::Cpu).unwrap();
    let opt = Optimizer::new(model.parameters(), OptimizerKind::Adam(Adam::default())).unwrap();
    let trainer = Trainer::new(&model, opt, sparse_cce()).precision(Precision::F16);
    assert_eq!(trainer.optimizer().loss_scale(), LossScaling::default().init_scale);
}

#[test]
fn the_loss_scale_survives_a_checkpoint() {
    let dir = std::env::temp_dir().join(format!("tessera-mixed-precision-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("scaled.safetensors");
    let model = mlp_classifier(0, 8, 2, &Device::Cpu).unwrap();
    let scaled = |m: &dyn Module| {
        Optimizer::new(m.parameters(), OptimizerKind::Adam(Adam::default()))
            .unwrap()
            .with_loss_scaling(LossScaling::default())
            .unwrap()
    };
    let mut opt = scaled(&model);
    opt.loss_scaler_mut().unwrap().restore(512.0, 17).unwrap();
    let info = checkpoint::CheckpointInfo { model: "mlp".into(), epoch: 1, config: "{}".into() };
    checkpoint::save(&path, &model, Some(&opt), &info).unwrap();
    let mut loaded = scaled(&model);
    checkpoint::load(&path, "mlp", &model, Some(&mut loaded)).unwrap();
    let s = loaded.loss_scaler().unwrap();
    assert_eq!((s.scale(), s.clean_steps()), (512.0, 17));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn half_parameters_are_updated_through_an_f32_master_copy() {
    let sgd = || OptimizerKind::Sgd(tessera_train::optim::Sgd { lr: 1e-3, momentum: 0.9, ..Default::default() });
    let train = |dtype: DType| {
        let w = Var::param(Tensor::full(1.0, [3], dtype, &Device::Cpu).unwrap()).unwrap();
        let mut opt = Optimizer::new(vec![("w".into(), w.clone())], sgd()).unwrap();
        for _ in 0..10 {
            opt.zero_grad();
            w.sum_all().unwrap().backward().unwrap(); // a gradient of exactly 1
            opt.step().unwrap();
        }
        let (state, _) = opt.state_dict();
        (w.tensor().clone(), state)
    };
    let (reference, _) = train(DType::F32);
    let want = reference.to_vec::<f32>().unwrap();
    assert!((want[0] - 0.95862).abs() < 1e-5, "{want:?}"); // 1 - 0.001 · Σₖ (1 - 0.9ᵏ) / 0.1
    for dtype in [DType::BF16, DType::F16] {
        let (w, state) = train(dtype);
        assert_eq!(w.dtype(), dtype);
        // State: the momentum and the master, both f32; the master took the f32 run's steps.
        assert_eq!(state.iter().map(|(_, t)| t.dtype()).collect::<Vec<_>>(), [DType::F32, DType::F32]);
        assert_eq!(state[1].1.to_vec::<f32>().unwrap(), want, "{dtype}");
        assert_eq!(w.to_vec_f64().unwrap(), reference.to_dtype(dtype).unwrap().to_vec_f64().unwrap(), "{dtype}");
    }
    // Without the master, bf16 could not even take the first step: 1 - 0.001 rounds to 1.
    let one = Tensor::full(1.0 - 1e-3, [1], DType::BF16, &Device::Cpu).unwrap();
    assert_eq!(one.to_vec_f64().unwrap(), [1.0]);
}
