//! Trains the classic MLP on the shipped MNIST sample and checks the outcome only a working
//! system reaches; checks that two runs with one seed agree bit for bit, and that resuming from a
//! checkpoint gives the same result as an unbroken run.

use tessera_nn::{loss, Module};
use tessera_tensor::Device;
use tessera_train::callbacks::{EarlyStopping, Mode, ModelCheckpoint};
use tessera_train::data::{mnist_sample, TensorDataset};
use tessera_train::models::mlp_classifier;
use tessera_train::optim::{Adam, Optimizer, OptimizerKind};
use tessera_train::{checkpoint, FitConfig, LossFn, Trainer, Validation};

fn split() -> (TensorDataset, TensorDataset) {
    // 4,000 to train on, 1,000 held out (shuffled with a fixed seed).
    mnist_sample().unwrap().split(0.2, 42).unwrap()
}

fn sparse_cce() -> LossFn {
    Box::new(loss::sparse_categorical_crossentropy)
}

fn adam(model: &dyn Module) -> Optimizer {
    Optimizer::new(model.parameters(), OptimizerKind::Adam(Adam::default())).unwrap()
}

fn cfg(epochs: usize) -> FitConfig {
    FitConfig { epochs, batch_size: 32, seed: 7, progress: false, ..FitConfig::default() }
}

#[test]
fn mlp_reaches_90_percent_on_held_out_sample() {
    let (train, test) = split();
    let model = mlp_classifier(0, 784, 10, &Device::Cpu).unwrap();
    let mut trainer = Trainer::new(&model, adam(&model), sparse_cce())
        .callback(EarlyStopping::new("val_loss", Mode::Min, 3).restore_best_weights(true));
    let history = trainer.fit(&train, &FitConfig { validation: Validation::Split(0.1), ..cfg(8) }).unwrap();
    let first = history.epochs[0].get("loss").unwrap();
    let last = history.epochs.last().unwrap().get("loss").unwrap();
    assert!(last < first / 2.0, "training loss fell from {first} to {last}");
    let eval = trainer.evaluate(&test, 256, Some(3)).unwrap();
    let acc = eval.accuracy.unwrap();
    assert!(acc >= 0.90, "held-out accuracy {acc}");
    assert!(eval.top_k.unwrap() >= acc);
}

fn losses(model: &dyn Module, epochs: usize) -> Vec<f64> {
    let (train, _) = split();
    let mut trainer = Trainer::new(model, adam(model), sparse_cce());
    trainer.fit(&train, &cfg(epochs)).unwrap().epochs.iter().map(|e| e.get("loss").unwrap()).collect()
}

#[test]
fn same_seed_same_losses_bit_for_bit() {
    let a = losses(&mlp_classifier(3, 784, 10, &Device::Cpu).unwrap(), 2);
    let b = losses(&mlp_classifier(3, 784, 10, &Device::Cpu).unwrap(), 2);
    assert_eq!(a.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), b.iter().map(|v| v.to_bits()).collect::<Vec<_>>());
}

#[test]
fn resuming_from_a_checkpoint_matches_an_unbroken_run() {
    let (train, test) = split();
    let dir = std::env::temp_dir().join(format!("tessera-resume-{}", std::process::id()));
    // Unbroken: 3 epochs.
    let unbroken = mlp_classifier(5, 784, 10, &Device::Cpu).unwrap();
    Trainer::new(&unbroken, adam(&unbroken), sparse_cce()).fit(&train, &cfg(3)).unwrap();
    // Broken: 2 epochs with checkpoints, then a fresh process-like start that loads `last` and
    // trains the third epoch (the loader's order depends only on seed and epoch).
    let first = mlp_classifier(5, 784, 10, &Device::Cpu).unwrap();
    Trainer::new(&first, adam(&first), sparse_cce())
        .callback(ModelCheckpoint::new(&dir, "loss", Mode::Min, "mlp", "{}"))
        .fit(&train, &cfg(2))
        .unwrap();
    let resumed = mlp_classifier(99, 784, 10, &Device::Cpu).unwrap();
    let mut opt = adam(&resumed);
    let info = checkpoint::load(&dir.join("last.safetensors"), "mlp", &resumed, Some(&mut opt)).unwrap();
    assert_eq!(info.epoch, 2);
    let mut trainer = Trainer::new(&resumed, opt, sparse_cce());
    let mut third = cfg(3);
    third.epochs = 3;
    // Train only epoch 3 by feeding a config whose loop starts there.
    trainer.fit_from(&train, &third, info.epoch).unwrap();
    let a = unbroken.forward(&tessera_autograd::Var::constant(test.inputs().clone())).unwrap();
    let b = resumed.forward(&tessera_autograd::Var::constant(test.inputs().clone())).unwrap();
    assert_eq!(a.tensor().to_vec::<f32>().unwrap(), b.tensor().to_vec::<f32>().unwrap());
    // A checkpoint of another model is a clear error.
    let e = checkpoint::load(&dir.join("last.safetensors"), "lstm-lm", &resumed, None).unwrap_err().to_string();
    assert!(e.contains("saved from a 'mlp' model, not 'lstm-lm'"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}
