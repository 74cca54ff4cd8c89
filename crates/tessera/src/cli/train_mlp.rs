//! `tessera train mlp` (the main job) and `tessera train cnn`: the MNIST classifiers, trained
//! by one function.

use super::distributed;
use super::mlp::{Arch, MlpConfig, MnistSource, CNN_MODEL, MODEL};
use super::penalty::PenaltyArgs;
use super::training::{load_last, nothing_trained, open_run, trainer, write_results, RunPlan, TrainOptions};
use super::CliResult;
use serde::{Deserialize, Serialize};
use std::time::Instant;
use tessera_nn::{loss, summary, Module};
use tessera_tensor::DType;
use tessera_train::data::{Augment, Dataset, TensorDataset};
use tessera_train::dist::Communicator;
use tessera_train::optim::{Adam, Optimizer, OptimizerKind};
use tessera_train::{FitConfig, FitData, LossFn, Supervised, Trainer, Validation};

/// Arguments of `tessera train mlp`.
#[derive(Debug, Clone, clap::Args, Serialize, Deserialize)]
pub struct MlpArgs {
    #[command(flatten)]
    #[serde(flatten)]
    source: MnistSource,
    /// Augment training images with random shifts (2 px) and rotations (10 degrees).
    #[arg(long)]
    augment: bool,
    #[command(flatten)]
    #[serde(flatten)]
    penalty: PenaltyArgs,
    #[command(flatten)]
    #[serde(flatten)]
    pub(super) common: TrainOptions,
}

/// Arguments of `tessera train cnn`: those of `train mlp` and the convnet's own.
#[derive(Debug, Clone, clap::Args, Serialize, Deserialize)]
pub struct CnnArgs {
    #[command(flatten)]
    #[serde(flatten)]
    pub(super) base: MlpArgs,
    /// Batch norm after each convolution.
    #[arg(long)]
    batch_norm: bool,
    /// With `--augment`, also mirror half the training images left to right (off for digits,
    /// whose mirror images are not digits).
    #[arg(long)]
    flip: bool,
}

/// Adam with `--lr`, and the `--l1`/`--l2` penalties on the weights.
fn optimizer(a: &MlpArgs, model: &dyn Module) -> CliResult<Optimizer> {
    let adam = OptimizerKind::Adam(Adam { lr: a.common.lr, ..Adam::default() });
    a.penalty.apply(Optimizer::new(model.parameters(), adam)?)
}

fn to_device(d: &TensorDataset, device: &tessera_tensor::Device) -> CliResult<TensorDataset> {
    Ok(TensorDataset::new(d.inputs().to_device(device)?, d.targets().to_device(device)?)?)
}

/// Runs `tessera train mlp` (data-parallel with `--distributed`).
pub fn run(a: MlpArgs) -> CliResult<()> {
    distributed::run_training(
        a,
        MODEL,
        |a| &mut a.common,
        |mut a, comm| {
            a.common.epochs.get_or_insert(10);
            train(&a, &a, Arch::Mlp, false, comm)
        },
    )
}

/// Runs `tessera train cnn` (data-parallel with `--distributed`).
pub fn run_cnn(a: CnnArgs) -> CliResult<()> {
    distributed::run_training(
        a,
        CNN_MODEL,
        |a| &mut a.base.common,
        |mut a, comm| {
            // Keras' example trains the convnet for 12 epochs.
            a.base.common.epochs.get_or_insert(12);
            train(&a, &a.base, Arch::Cnn { batch_norm: a.batch_norm }, a.flip, comm)
        },
    )
}

/// Trains the classifier `arch` as `a` says; `all` (the command's arguments) goes into the run
/// folder's config so that `--resume` restores every option.
fn train(all: &impl Serialize, a: &MlpArgs, arch: Arch, flip: bool, comm: &Option<Communicator>) -> CliResult<()> {
    let name = arch.model_name();
    distributed::checked_out(comm)?;
    let epochs = a.common.epochs.unwrap_or(10);
    let (device, comm) = distributed::local_device(a.common.device, comm)?;
    let comm = &comm;
    let data = a.source.load(a.common.seed)?;
    let (train, test) = (to_device(&data.train, &device)?, to_device(&data.test, &device)?);
    say!("data: {}: {} training and {} test images, on {device}", a.source.name(), train.len(), test.len());
    let inputs = train.inputs().dims()[1];
    let cfg = MlpConfig { arch, inputs, classes: 10, seed: a.common.seed, source: a.source.clone() };
    let estimate = cfg.memory_estimate(a.common.batch_size)?;
    let what = format!("the MNIST {name} ({} inputs, batch {})", cfg.inputs, a.common.batch_size);
    estimate.check(estimate.training_bytes(), &what)?;
    let model = cfg.build(&device)?;
    say!("{}", summary::summarize(&model, &[cfg.inputs], DType::F32, &device)?);

    let mut extra = cfg.to_json();
    if let Some(c) = extra.as_object_mut() {
        c.insert("optimizer".into(), "adam".into());
        c.insert("loss".into(), "sparse_categorical_crossentropy".into());
    }
    let fit = FitConfig {
        epochs,
        batch_size: a.common.batch_size,
        seed: a.common.seed,
        validation: if a.common.val_split > 0.0 { Validation::Split(a.common.val_split) } else { Validation::None },
        augment: a.augment.then_some(Augment { max_shift: 2.0, max_degrees: 10.0, flip, seed: a.common.seed }),
        ..FitConfig::default()
    };
    // The data must suit the settings before the run folder is written.
    train.plan(&fit)?;
    if let Some(c) = distributed::follower(comm) {
        let task = Supervised::new(&model, Box::new(loss::sparse_categorical_crossentropy) as LossFn);
        let trainer = Trainer::with_task(task, optimizer(a, &model)?).precision(a.common.precision.into());
        if let Some(mut trainer) = distributed::follow(c, &a.common, trainer, &train, &fit)? {
            trainer.evaluate(&test, 1000, Some(5))?; // each rank its rows; rank 0 prints
        }
        return Ok(());
    }
    let (run, done) = open_run(all, &a.common, name, &device, extra)?;
    let run_path = run.path().to_path_buf();
    say!("run folder: {}", run_path.display());

    let mut optimizer = optimizer(a, &model)?;
    load_last(&a.common, &run, done, name, &model, &mut optimizer)?;
    distributed::lead(comm, done)?;
    let task = Supervised::new(&model, Box::new(loss::sparse_categorical_crossentropy) as LossFn);
    // Without a validation split, the training loss picks the best epoch.
    let monitor = if a.common.val_split > 0.0 { "val_loss" } else { "loss" };
    let run_plan = RunPlan { monitor, patience: a.common.patience, precision: a.common.precision.into() };
    let mut trainer = trainer(task, optimizer, run, name, &cfg.to_json().to_string(), None, run_plan);
    if let Some(c) = comm {
        trainer = trainer.distributed(distributed::parallel(c, &a.common));
    }
    let started = Instant::now();
    let history = trainer.fit_from(&train, &fit, done)?;
    if nothing_trained(&history, &run_path, done) {
        return Ok(());
    }
    let secs = started.elapsed().as_secs_f64();
    let eval = trainer.evaluate(&test, 1000, Some(5))?;
    let accuracy = eval.accuracy.unwrap_or(f64::NAN);
    say!(
        "trained {} epochs in {secs:.1} s; test loss {:.4}, test accuracy {:.2}% (top-5 {:.2}%) on {} images",
        history.epochs.len(),
        eval.loss,
        accuracy * 100.0,
        eval.top_k.unwrap_or(f64::NAN) * 100.0,
        test.len()
    );
    let results = serde_json::json!({ "test_loss": eval.loss, "test_accuracy": accuracy, "test_top5_accuracy": eval.top_k,
        "epochs": history.epochs.len() + done, "train_seconds": secs });
    write_results(&run_path, &results)?;
    say!("wrote {0}/metrics.jsonl, {0}/loss.svg, {0}/accuracy.svg, {0}/checkpoints/", run_path.display());
    Ok(())
}
