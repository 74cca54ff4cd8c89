//! `tessera train mlp`: the main job.

use super::device::{open, DeviceChoice};
use super::mlp::{MlpConfig, MODEL};
use super::CliResult;
use std::path::PathBuf;
use std::time::Instant;
use tessera_nn::{loss, summary, Module};
use tessera_tensor::DType;
use tessera_train::callbacks::{EarlyStopping, Mode, ModelCheckpoint};
use tessera_train::data::{load_mnist_source, Augment, Dataset, TensorDataset};
use tessera_train::optim::{Adam, Optimizer, OptimizerKind};
use tessera_train::run_dir::RunDir;
use tessera_train::{FitConfig, Trainer, Validation};

/// Arguments of `tessera train`.
#[derive(Debug, clap::Args)]
pub struct TrainArgs {
    #[command(subcommand)]
    model: TrainModel,
}

#[derive(Debug, clap::Subcommand)]
enum TrainModel {
    /// The MNIST classifier: Dense 128 ReLU, Dense 64 ReLU, Dense 10 softmax, sparse categorical
    /// cross-entropy, Adam.
    Mlp(MlpArgs),
    /// The LSTM language model: Embedding, LSTM, Linear over the vocabulary, trained with
    /// truncated backpropagation through time on the shipped Shakespeare sample or `--corpus`.
    Lm(super::train_lm::LmArgs),
}

/// Arguments of `tessera train mlp`.
#[derive(Debug, clap::Args)]
pub struct MlpArgs {
    /// MNIST: a folder with the IDX files (train and t10k), or a CSV of pixels then label.
    /// Default: the 5,000-image sample shipped with Tessera (80% train, 20% test).
    #[arg(long)]
    data: Option<PathBuf>,
    /// Passes over the training data.
    #[arg(long, default_value_t = 10)]
    epochs: usize,
    /// Examples per step.
    #[arg(long, default_value_t = 32)]
    batch_size: usize,
    /// Adam's learning rate.
    #[arg(long, default_value_t = 1e-3)]
    lr: f64,
    /// Where to run.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Cpu)]
    device: DeviceChoice,
    /// Seed of the weights, the data split and the shuffling.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// The run folder (default: runs/mlp-<date>-<time>).
    #[arg(long)]
    out: Option<PathBuf>,
    /// Fraction of the training data held out for validation.
    #[arg(long, default_value_t = 0.1)]
    val_split: f64,
    /// Stop when validation loss has not improved for this many epochs (restoring the best
    /// weights).
    #[arg(long)]
    patience: Option<usize>,
    /// Augment training images with random shifts (2 px) and rotations (10 degrees).
    #[arg(long)]
    augment: bool,
}

/// Runs `tessera train ...`.
pub fn run(args: TrainArgs) -> CliResult<()> {
    match args.model {
        TrainModel::Mlp(a) => train_mlp(a),
        TrainModel::Lm(a) => super::train_lm::run(a),
    }
}

fn to_device(d: &TensorDataset, device: &tessera_tensor::Device) -> CliResult<TensorDataset> {
    Ok(TensorDataset::new(d.inputs().to_device(device)?, d.targets().to_device(device)?)?)
}

fn train_mlp(a: MlpArgs) -> CliResult<()> {
    let device = open(a.device)?;
    let data = load_mnist_source(a.data.as_deref(), a.seed)?;
    let (train, test) = (to_device(&data.train, &device)?, to_device(&data.test, &device)?);
    let source = a.data.as_ref().map_or("the shipped MNIST sample".to_string(), |p| p.display().to_string());
    println!("data: {source}: {} training and {} test images, on {device}", train.len(), test.len());
    let cfg = MlpConfig { inputs: train.inputs().dims()[1], classes: 10, seed: a.seed, data: a.data.clone() };
    let model = cfg.build(&device)?;
    println!("{}", summary::summarize(&model, &[cfg.inputs], DType::F32, &device)?);

    let run = RunDir::create(a.out.as_deref(), MODEL)?;
    let mut config = cfg.to_json();
    let extra = serde_json::json!({ "epochs": a.epochs, "batch_size": a.batch_size, "lr": a.lr, "optimizer": "adam",
        "loss": "sparse_categorical_crossentropy", "val_split": a.val_split, "augment": a.augment, "device": device.to_string() });
    if let (Some(c), Some(e)) = (config.as_object_mut(), extra.as_object()) {
        c.extend(e.clone());
    }
    run.write_config(&config)?;
    let run_path = run.path().to_path_buf();
    println!("run folder: {}", run_path.display());

    let optimizer = Optimizer::new(model.parameters(), OptimizerKind::Adam(Adam { lr: a.lr, ..Adam::default() }))?;
    let mut trainer = Trainer::new(&model, optimizer, Box::new(loss::sparse_categorical_crossentropy))
        .callback(ModelCheckpoint::new(
            run_path.join("checkpoints"),
            "val_loss",
            Mode::Min,
            MODEL,
            &cfg.to_json().to_string(),
        ))
        .run_dir(run);
    if let Some(p) = a.patience {
        trainer = trainer.callback(EarlyStopping::new("val_loss", Mode::Min, p).restore_best_weights(true));
    }
    let fit = FitConfig {
        epochs: a.epochs,
        batch_size: a.batch_size,
        seed: a.seed,
        validation: if a.val_split > 0.0 { Validation::Split(a.val_split) } else { Validation::None },
        top_k: None,
        augment: a.augment.then_some(Augment { max_shift: 2.0, max_degrees: 10.0, seed: a.seed }),
        progress: true,
        ..FitConfig::default()
    };
    let started = Instant::now();
    let history = trainer.fit(&train, &fit)?;
    let secs = started.elapsed().as_secs_f64();
    let eval = trainer.evaluate(&test, 1000, Some(5))?;
    let accuracy = eval.accuracy.unwrap_or(f64::NAN);
    println!(
        "trained {} epochs in {secs:.1} s; test loss {:.4}, test accuracy {:.2}% (top-5 {:.2}%) on {} images",
        history.epochs.len(),
        eval.loss,
        accuracy * 100.0,
        eval.top_k.unwrap_or(f64::NAN) * 100.0,
        test.len()
    );
    let results = serde_json::json!({ "test_loss": eval.loss, "test_accuracy": accuracy, "test_top5_accuracy": eval.top_k,
        "epochs": history.epochs.len(), "train_seconds": secs });
    tessera_train::fs::write_atomic(&run_path.join("results.json"), format!("{results:#}\n").as_bytes())?;
    println!("wrote {0}/metrics.jsonl, {0}/loss.svg, {0}/accuracy.svg, {0}/checkpoints/", run_path.display());
    Ok(())
}
