//! `tessera train mlp`: the main job.

use super::device::open;
use super::distributed;
use super::mlp::{MlpConfig, MnistSource, MODEL};
use super::training::{load_last, nothing_trained, open_run, resolve, trainer, write_results, TrainOptions, Watch};
use super::CliResult;
use serde::{Deserialize, Serialize};
use std::time::Instant;
use tessera_nn::{loss, summary, Module};
use tessera_tensor::DType;
use tessera_train::data::{Augment, Dataset, TensorDataset};
use tessera_train::dist::Communicator;
use tessera_train::models::mlp_memory_estimate;
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
    pub(super) common: TrainOptions,
}

fn to_device(d: &TensorDataset, device: &tessera_tensor::Device) -> CliResult<TensorDataset> {
    Ok(TensorDataset::new(d.inputs().to_device(device)?, d.targets().to_device(device)?)?)
}

/// Runs `tessera train mlp` (data-parallel with `--distributed`).
pub fn run(a: MlpArgs) -> CliResult<()> {
    let comm = distributed::join(&a.common)?;
    let result = train_mlp(a, &comm);
    distributed::finish(&comm, result)
}

fn train_mlp(a: MlpArgs, comm: &Option<Communicator>) -> CliResult<()> {
    let mut a = resolve(a, MODEL, |a| &mut a.common)?;
    if let Some(c) = comm {
        // Every rank has checked `--out` before rank 0 creates it.
        c.barrier()?;
    }
    let epochs = *a.common.epochs.get_or_insert(10);
    let device = open(a.common.device)?;
    let data = a.source.load(a.common.seed)?;
    let (train, test) = (to_device(&data.train, &device)?, to_device(&data.test, &device)?);
    say!("data: {}: {} training and {} test images, on {device}", a.source.name(), train.len(), test.len());
    let cfg =
        MlpConfig { inputs: train.inputs().dims()[1], classes: 10, seed: a.common.seed, source: a.source.clone() };
    let estimate = mlp_memory_estimate(cfg.inputs, cfg.classes, a.common.batch_size);
    let what = format!("the MNIST classifier ({} inputs, batch {})", cfg.inputs, a.common.batch_size);
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
        augment: a.augment.then_some(Augment { max_shift: 2.0, max_degrees: 10.0, seed: a.common.seed }),
        ..FitConfig::default()
    };
    // The data must suit the settings before the run folder is written.
    train.plan(&fit)?;
    if let Some(c) = comm.as_ref().filter(|c| !c.is_root()) {
        // Rank 0 writes the run folder and reads any checkpoint; this rank follows its epochs.
        let done = c.broadcast_u64(0, 0)? as usize;
        let adam = OptimizerKind::Adam(Adam { lr: a.common.lr, ..Adam::default() });
        let task = Supervised::new(&model, Box::new(loss::sparse_categorical_crossentropy) as LossFn);
        let mut trainer = Trainer::with_task(task, Optimizer::new(model.parameters(), adam)?).distributed(c.clone());
        trainer.fit_from(&train, &fit, done)?;
        return Ok(());
    }
    let (run, done) = open_run(&a, &a.common, MODEL, &device, extra)?;
    let run_path = run.path().to_path_buf();
    say!("run folder: {}", run_path.display());

    let adam = OptimizerKind::Adam(Adam { lr: a.common.lr, ..Adam::default() });
    let mut optimizer = Optimizer::new(model.parameters(), adam)?;
    load_last(&a.common, &run, done, MODEL, &model, &mut optimizer)?;
    if let Some(c) = comm {
        c.broadcast_u64(done as u64, 0)?;
    }
    let task = Supervised::new(&model, Box::new(loss::sparse_categorical_crossentropy) as LossFn);
    // Without a validation split, the training loss picks the best epoch.
    let monitor = if a.common.val_split > 0.0 { "val_loss" } else { "loss" };
    let watch = Watch { monitor, patience: a.common.patience };
    let mut trainer = trainer(task, optimizer, run, MODEL, &cfg.to_json().to_string(), None, watch);
    if let Some(c) = comm {
        trainer = trainer.distributed(c.clone());
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
