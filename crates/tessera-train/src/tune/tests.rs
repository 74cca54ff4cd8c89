//! The search end to end on a small separable problem: folds, ranking, divergence, retraining.

use super::*;
use crate::data::TensorDataset;
use crate::models::mlp_classifier;
use crate::{Error, Trainer};
use tessera_nn::loss::sparse_categorical_crossentropy;
use tessera_nn::Module;
use tessera_tensor::{Device, Tensor};

/// 60 points in 3 classes by the first coordinate, the classes interleaved.
fn data() -> TensorDataset {
    let n = 60;
    let x: Vec<f32> = (0..n).flat_map(|i| [(i % 3) as f32 - 1.0 + (i as f32 * 0.37).sin() * 0.2, 0.5]).collect();
    let y: Vec<u32> = (0..n).map(|i| (i % 3) as u32).collect();
    TensorDataset::new(
        Tensor::from_vec(x, [n, 2], &Device::Cpu).unwrap(),
        Tensor::from_vec(y, [n], &Device::Cpu).unwrap(),
    )
    .unwrap()
}

/// A fresh classifier; for `lr=0.5` its first weight is NaN, so that training diverges.
fn build(config: &Config, _s: &TrainSettings) -> crate::Result<Box<dyn Module>> {
    let model = mlp_classifier(1, 2, 3, &Device::Cpu)?;
    if config.get("lr") == Some(Value::Number(0.5)) {
        let (_, w) = &model.parameters()[0];
        w.tensor().assign_(&Tensor::full(f64::NAN, w.tensor().dims().to_vec(), w.tensor().dtype(), &Device::Cpu)?)?;
    }
    Ok(Box::new(model))
}

#[test]
fn cross_validation_ranks_configurations_and_reports_every_fold() {
    let space = SearchSpace::parse("lr=1e-6,0.5,0.05 epochs=8", TRAINING_KEYS).unwrap();
    let mut reports = Vec::new();
    let mut tuner = Tuner::new(build, sparse_categorical_crossentropy)
        .progress(false)
        .seed(3)
        .defaults(TrainSettings { batch_size: 8, ..TrainSettings::default() })
        .on_fold(|r| reports.push((r.index, r.configs, r.fold, r.folds, r.config.to_string(), r.score.diverged())));
    let board = tuner.cross_validate(&data(), &space.grid().unwrap(), Resampling::KFold(3)).unwrap();
    drop(tuner);
    let ranked: Vec<String> = board.entries().iter().map(|e| e.config.to_string()).collect();
    assert_eq!(ranked, ["lr=0.05 epochs=8", "lr=1e-6 epochs=8", "lr=0.5 epochs=8"]);
    let best = board.best().unwrap();
    assert!(best.mean() > 0.9, "{}", board.table());
    assert_eq!(best.folds.len(), 3);
    assert_eq!((best.settings.lr, best.settings.epochs, best.settings.batch_size), (0.05, 8, 8));
    assert!(board.entries()[2].diverged());
    assert_eq!(reports.len(), 9);
    assert_eq!(reports[0], (1, 3, 1, 3, "lr=1e-6 epochs=8".to_string(), false));
    assert_eq!(reports[4], (2, 3, 2, 3, "lr=0.5 epochs=8".to_string(), true));
}

#[test]
fn the_same_seed_gives_the_same_scores() {
    let space = SearchSpace::parse("lr=0.01 batch_size=16", TRAINING_KEYS).unwrap();
    let run = |seed| {
        let mut tuner = Tuner::new(build, sparse_categorical_crossentropy).progress(false).seed(seed);
        tuner.cross_validate(&data(), &space.grid().unwrap(), Resampling::Holdout(0.25)).unwrap()
    };
    let (a, b) = (run(4), run(4));
    assert_eq!(a.to_csv(), b.to_csv());
    assert_eq!(a.folds(), 1);
    assert_eq!(a.entries()[0].std(), 0.0);
}

#[test]
fn retraining_the_best_configuration_scores_it_on_the_test_data() {
    let space = SearchSpace::parse("lr=0.05 epochs=10 optimizer=adamw", TRAINING_KEYS).unwrap();
    let config = space.config(0);
    let mut tuner = Tuner::new(build, sparse_categorical_crossentropy).progress(false);
    let mut made = false;
    let r = tuner
        .retrain(&config, &data(), Some(&data()), |task, opt| {
            made = true;
            Trainer::with_task(task, opt)
        })
        .unwrap();
    assert!(made);
    assert_eq!(r.history.epochs.len(), 10);
    assert_eq!(r.settings.optimizer, OptimizerChoice::AdamW);
    assert!(r.test.unwrap().accuracy.unwrap() > 0.9);
    assert_eq!(r.model.parameters().len(), 6);
}

#[test]
fn searches_that_cannot_run_are_refused_before_training() {
    let mut tuner = Tuner::new(build, sparse_categorical_crossentropy).progress(false);
    let e = tuner.cross_validate(&data(), &[], Resampling::KFold(2)).unwrap_err();
    assert!(matches!(e, Error::SearchSpace(_)), "{e}");
    let space = SearchSpace::parse("lr=0.1", TRAINING_KEYS).unwrap();
    let e = tuner.cross_validate(&data(), &space.grid().unwrap(), Resampling::KFold(61)).unwrap_err();
    assert!(e.to_string().contains("61 folds need at least 61 examples; the data hold 60"), "{e}");
    let regression = TensorDataset::new(
        Tensor::zeros([4, 2], tessera_tensor::DType::F32, &Device::Cpu).unwrap(),
        Tensor::zeros([4, 1], tessera_tensor::DType::F32, &Device::Cpu).unwrap(),
    )
    .unwrap();
    let e = tuner.cross_validate(&regression, &space.grid().unwrap(), Resampling::KFold(2)).unwrap_err();
    assert!(e.to_string().contains("stratified folds need class labels"), "{e}");
}
