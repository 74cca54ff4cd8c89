//! `tessera tune mlp|cnn`: a hyperparameter search on MNIST-style data. Every configuration of
//! the grid (or `--random N` of them) is scored by stratified k-fold cross-validation or a
//! stratified validation split; the ranked table is printed and written as `tune.csv` and
//! `tune.svg`; the best configuration is retrained on all the training data, its test accuracy
//! reported and its checkpoint saved where `tessera eval --checkpoint OUT` finds it.

use super::device::{open, DeviceChoice};
use super::mlp::{Arch, MlpConfig, MnistSource};
use super::ranges::{at_least_two, count, open_fraction, positive};
use super::training::{trainer, write_results, RunPlan};
use super::CliResult;
use serde::Serialize;
use serde_json::json;
use std::path::PathBuf;
use tessera_nn::{loss, Module};
use tessera_tensor::Device;
use tessera_train::data::{Dataset, TensorDataset};
use tessera_train::memory::MemoryEstimate;
use tessera_train::run_dir::RunDir;
use tessera_train::tune::{
    class_labels, KeySpec, ModelBuilder, Resampling, SearchSpace, TrainSettings, Tuner, TRAINING_KEYS,
};
use tessera_train::{LossFn, Precision};

/// The model kinds `tune` searches over: the one place that says what each accepts and how a
/// fresh one is built (see [`TuneModel::plan`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TuneModel {
    /// The MNIST classifier of `train mlp`.
    Mlp,
    /// The convnet of `train cnn`.
    Cnn,
}

/// What the data tell a model kind.
pub struct DataShape<'d> {
    /// Pixels per image.
    pub inputs: usize,
    /// Classes.
    pub classes: usize,
    /// The run's seed (initial weights, and the data split `eval` repeats).
    pub seed: u64,
    /// Where the images came from (recorded in the checkpoint's config).
    pub source: &'d MnistSource,
    /// Where the models run.
    pub device: &'d Device,
}

/// What `tune` needs of a model kind.
pub struct ModelPlan {
    /// The model's name in its checkpoints (`mlp`), as `eval` and `predict` recognise it.
    pub name: &'static str,
    /// The checkpoint's config: the JSON `eval` and `predict` rebuild the model from.
    pub config: serde_json::Value,
    /// A fresh model for a configuration and its settings.
    pub build: ModelBuilder<'static>,
    /// The loss it trains with.
    pub loss: LossFn,
    /// Its size for a batch size, checked against the memory available before anything runs.
    pub estimate: Box<dyn Fn(usize) -> MemoryEstimate>,
}

impl TuneModel {
    /// `mlp` or `cnn`.
    pub fn name(self) -> &'static str {
        match self {
            TuneModel::Mlp => "mlp",
            TuneModel::Cnn => "cnn",
        }
    }

    /// The keys its search space accepts.
    pub fn keys(self) -> &'static [KeySpec] {
        TRAINING_KEYS
    }

    /// How it is built, trained and saved, for data shaped as `data`.
    pub fn plan(self, data: &DataShape<'_>) -> CliResult<ModelPlan> {
        let arch = match self {
            TuneModel::Mlp => Arch::Mlp,
            TuneModel::Cnn => Arch::Cnn { batch_norm: false },
        };
        let cfg = MlpConfig {
            arch,
            inputs: data.inputs,
            classes: data.classes,
            seed: data.seed,
            source: data.source.clone(),
        };
        // Refuses images the model cannot take before anything runs.
        cfg.memory_estimate(1)?;
        let (device, built) = (*data.device, cfg.clone());
        Ok(ModelPlan {
            name: arch.model_name(),
            config: cfg.to_json(),
            build: Box::new(move |_, _| {
                let model = built.build(&device).map_err(|e| tessera_train::Error::Config(e.to_string()))?;
                Ok(Box::new(model) as Box<dyn Module>)
            }),
            loss: Box::new(loss::sparse_categorical_crossentropy),
            estimate: Box::new(move |batch| cfg.memory_estimate(batch).unwrap_or_default()),
        })
    }
}

/// Arguments of `tessera tune`.
#[derive(Debug, clap::Args, Serialize)]
pub struct TuneArgs {
    /// The model: `mlp` (the MNIST classifier of `train mlp`) or `cnn` (the convnet of `train
    /// cnn`).
    #[arg(value_enum)]
    model: TuneModel,
    #[command(flatten)]
    #[serde(flatten)]
    source: MnistSource,
    /// The search space: `key=v1,v2` per key, keys separated by spaces (quote the whole) or given
    /// in several `--grid` options; every combination is a configuration. Keys: `lr` (the
    /// learning rate, above 0), `batch_size` and `epochs` (whole numbers, at least 1),
    /// `weight_decay` (0 or above: an L2 term for sgd and adam, decoupled for adamw; default 0,
    /// adamw 0.01), `optimizer` (`sgd`, `adam` or `adamw`), `l1` and `l2` (0 or above: penalties
    /// on the weights, as `train mlp --l1 --l2`).
    /// Example: `--grid 'lr=1e-3,3e-4 batch_size=32,128'`.
    #[arg(long, required = true, value_name = "SPEC")]
    grid: Vec<String>,
    /// Run N configurations drawn from the grid at random (seeded, none twice) instead of all
    /// of it.
    #[arg(long, value_parser = count, value_name = "N")]
    random: Option<usize>,
    /// Score each configuration by stratified K-fold cross-validation (K models each); without
    /// it, by one stratified validation split (`--val-split`).
    #[arg(long, value_parser = at_least_two, value_name = "K")]
    folds: Option<usize>,
    /// Without `--folds`: the fraction of the training images held out to score each
    /// configuration (stratified).
    #[arg(long, value_parser = open_fraction, default_value_t = 0.1, conflicts_with = "folds")]
    val_split: f64,
    /// Epochs per model, where the grid does not set `epochs`.
    #[arg(long, value_parser = count, default_value_t = 10)]
    epochs: usize,
    /// Examples per optimizer step, where the grid does not set `batch_size`.
    #[arg(long, value_parser = count, default_value_t = 32)]
    batch_size: usize,
    /// The learning rate, where the grid does not set `lr` (the optimizer: Adam, unless the
    /// grid sets `optimizer`).
    #[arg(long, value_parser = positive, default_value_t = 1e-3)]
    lr: f64,
    /// Seed of the weights, the test split, the folds, the shuffling and `--random`'s draw.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Where to run.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Cpu)]
    #[serde(skip)]
    device: DeviceChoice,
    /// The run folder: tune.csv, tune.svg, and the best configuration retrained (config.json,
    /// checkpoints/, metrics; default: runs/tune-<model>-<date>-<time>).
    #[arg(long)]
    #[serde(skip)]
    out: Option<PathBuf>,
    /// Let `--out` name a folder that holds an earlier run: its run files are replaced.
    #[arg(long)]
    #[serde(skip)]
    overwrite: bool,
}

fn to_device(d: &TensorDataset, device: &Device) -> CliResult<TensorDataset> {
    Ok(TensorDataset::new(d.inputs().to_device(device)?, d.targets().to_device(device)?)?)
}

/// Runs `tessera tune`.
pub fn run(a: TuneArgs) -> CliResult<()> {
    let out = RunDir::new_path(a.out.as_deref(), &format!("tune-{}", a.model.name()));
    RunDir::check_new(&out, a.overwrite)?;
    let space = SearchSpace::parse(&a.grid.join(" "), a.model.keys())?;
    let configs = match a.random {
        Some(n) => {
            let sample = space.sample(n, a.seed)?;
            if let Some(note) = &sample.note {
                warn!("note: {note}");
            }
            sample.configs
        }
        None => space.grid()?,
    };
    let defaults = TrainSettings { lr: a.lr, batch_size: a.batch_size, epochs: a.epochs, ..TrainSettings::default() };
    let settings = configs.iter().map(|c| defaults.with(c)).collect::<Result<Vec<_>, _>>()?;

    let device = open(a.device)?;
    let data = a.source.load(a.seed)?;
    let (train, test) = (to_device(&data.train, &device)?, to_device(&data.test, &device)?);
    say!("data: {}: {} training and {} test images, on {device}", a.source.name(), train.len(), test.len());
    let shape =
        DataShape { inputs: train.inputs().dims()[1], classes: 10, seed: a.seed, source: &a.source, device: &device };
    let plan = a.model.plan(&shape)?;
    let largest = settings.iter().map(|s| s.batch_size).max().unwrap_or(a.batch_size);
    let estimate = (plan.estimate)(largest);
    estimate.check(estimate.training_bytes(), &format!("tune {} (batch {largest})", a.model.name()))?;
    let resampling = match a.folds {
        Some(k) => Resampling::KFold(k),
        None => Resampling::Holdout(a.val_split),
    };
    // The folds must suit the data before the run folder is written.
    let fits = resampling.folds(&class_labels(train.targets())?, a.seed)?.len() * configs.len();

    let run = RunDir::create(&out, a.overwrite)?;
    let mut config = json!({ "model": plan.name, "tune": &a, "device": device.to_string(), "space": space.to_string(),
        "configs": configs.iter().map(|c| c.to_json()).collect::<Vec<_>>() });
    run.write_config(&config)?;
    let how = match resampling {
        Resampling::KFold(k) => format!("stratified {k}-fold cross-validation"),
        Resampling::Holdout(f) => format!("a stratified validation split of {f}"),
    };
    say!("run folder: {}", out.display());
    say!("searching {} configurations of `{space}` by {how}: {fits} models", configs.len());

    let ModelPlan { name, config: model_config, build, loss, .. } = plan;
    let mut tuner = Tuner::new(build, loss).defaults(defaults).seed(a.seed).on_fold(|r| {
        let score = match r.score.diverged() {
            true => "diverged (the loss became NaN or infinite)".to_string(),
            false => format!("val accuracy {:.4}, val loss {:.4}", r.score.accuracy, r.score.loss),
        };
        say!("configuration {}/{} ({}), fold {}/{}: {score}", r.index, r.configs, r.config, r.fold, r.folds);
    });
    let board = tuner.cross_validate(&train, &configs, resampling)?;
    say!("{}", board.table().trim_end());
    board.write_csv(&out.join("tune.csv"))?;
    board.write_svg(&out.join("tune.svg"), &format!("tune {}: {how}", a.model.name()))?;
    let best = board.best().ok_or("every configuration diverged: try smaller learning rates")?;
    say!(
        "best: {} (mean validation accuracy {:.4} ± {:.4}); retraining it on all {} training images",
        best.config,
        best.mean(),
        best.std(),
        train.len()
    );
    if let Some(c) = config.as_object_mut() {
        c.insert(
            "best".into(),
            json!({ "config": best.config.to_json(), "settings": best.settings.to_json(),
            "mean_accuracy": best.mean(), "std_accuracy": best.std() }),
        );
    }
    run.write_config(&config)?;

    let checkpoint_config = model_config.to_string();
    let run_plan = RunPlan { monitor: "loss", patience: None, precision: Precision::F32 };
    let retrained = tuner.retrain(&best.config, &train, Some(&test), |task, opt| {
        trainer(task, opt, run, name, &checkpoint_config, None, run_plan)
    })?;
    let t = retrained.test.ok_or("no test score")?;
    let accuracy = t.accuracy.unwrap_or(f64::NAN);
    say!(
        "retrained {} epochs; test loss {:.4}, test accuracy {:.2}% (top-5 {:.2}%) on {} images",
        retrained.history.epochs.len(),
        t.loss,
        accuracy * 100.0,
        t.top_k.unwrap_or(f64::NAN) * 100.0,
        test.len()
    );
    let results = json!({ "best": best.config.to_json(), "settings": retrained.settings.to_json(),
        "cv_mean_accuracy": best.mean(), "cv_std_accuracy": best.std(), "test_loss": t.loss,
        "test_accuracy": accuracy, "test_top5_accuracy": t.top_k, "epochs": retrained.history.epochs.len() });
    write_results(&out, &results)?;
    say!("wrote {0}/tune.csv, {0}/tune.svg, {0}/checkpoints/ (tessera eval --checkpoint {0})", out.display());
    Ok(())
}
