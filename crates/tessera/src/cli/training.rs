//! What the `tessera train` subcommands share: the options every one takes, the run folder
//! (created, or reopened with `--resume`), resuming from the last checkpoint, the trainer's
//! checkpoints and early stopping, and the results file.

use super::device::DeviceChoice;
use super::ranges::{count, fraction, positive};
use super::CliResult;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use tessera_nn::Module;
use tessera_tensor::Device;
use tessera_train::callbacks::{EarlyStopping, LrScheduler, Mode, ModelCheckpoint};
use tessera_train::checkpoint;
use tessera_train::optim::Optimizer;
use tessera_train::run_dir::RunDir;
use tessera_train::{Precision, Task, Trainer};

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
    Mlp(super::train_mlp::MlpArgs),
    /// The Keras MNIST convnet: Conv 32 3x3 ReLU, Conv 64 3x3 ReLU, MaxPool 2, Dropout 0.25,
    /// Flatten, Dense 128 ReLU, Dropout 0.5, Dense 10 softmax (batch norm as an option), Adam.
    Cnn(super::train_mlp::CnnArgs),
    /// The LSTM language model: Embedding, LSTM, Linear over the vocabulary, trained with
    /// truncated backpropagation through time on the shipped Shakespeare sample or `--corpus`.
    Lm(super::train_lm::LmArgs),
    /// A GPT (nanoGPT's architecture and CPU recipe for character-level Shakespeare): random
    /// windows of the shipped Shakespeare sample or `--corpus`, AdamW, warm-up and cosine decay.
    Gpt(super::train_gpt::GptArgs),
    /// An encoder-decoder (LSTM with attention, or Transformer) on tab-separated pairs, or on a
    /// generated task of dates in many English and Chinese forms mapped to ISO dates.
    Seq2seq(Box<super::train_seq2seq::Seq2seqArgs>),
    /// Word vectors (word2vec: skip-gram or CBOW with negative sampling) from the shipped
    /// Shakespeare sample or `--corpus`, written as a word2vec text or binary file.
    Word2vec(super::word2vec::Word2vecArgs),
}

/// Runs `tessera train ...`. A run outlives the terminal it was started from: the hang-up
/// signal is ignored (as `nohup` would), and output that can no longer be written is skipped.
pub fn run(args: TrainArgs) -> CliResult<()> {
    #[cfg(unix)]
    // SAFETY: setting a signal's disposition to "ignore" installs no handler code, and no other
    // thread changes signal dispositions.
    unsafe {
        libc::signal(libc::SIGHUP, libc::SIG_IGN);
    }
    match args.model {
        TrainModel::Mlp(a) => super::train_mlp::run(a),
        TrainModel::Cnn(a) => super::train_mlp::run_cnn(a),
        TrainModel::Lm(a) => super::train_lm::run(a),
        TrainModel::Gpt(a) => super::train_gpt::run(a),
        TrainModel::Seq2seq(a) => super::train_seq2seq::run(*a),
        TrainModel::Word2vec(a) => super::word2vec::run(a),
    }
}

/// Options every `tessera train` subcommand takes. A run folder's `config.json` records them
/// (without the device and the folders) under `train`, beside the subcommand's own.
#[derive(Debug, Clone, clap::Args, Serialize, Deserialize)]
pub struct TrainOptions {
    /// Passes over the training data (default: 10 for mlp, 12 for cnn, 6 for lm, 5 for seq2seq; with
    /// `--resume`, the run's own count).
    #[arg(long, value_parser = count)]
    pub epochs: Option<usize>,
    /// Examples per optimizer step (lm: parallel streams the training text is cut into).
    #[arg(long, value_parser = count, default_value_t = 32)]
    pub batch_size: usize,
    /// Adam's learning rate.
    #[arg(long, value_parser = positive, default_value_t = 1e-3)]
    pub lr: f64,
    /// Fraction of the training data held out for validation (lm: of the lines, taken before
    /// the test lines).
    #[arg(long, value_parser = fraction, default_value_t = 0.1)]
    pub val_split: f64,
    /// Stop when the validation loss (lm: perplexity) has not improved for this many epochs,
    /// keeping the best weights.
    #[arg(long, value_parser = count)]
    pub patience: Option<usize>,
    /// Seed of the weights, the data split and the shuffling (lm: and of the dropout masks).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Where to run.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Cpu)]
    #[serde(skip)]
    pub device: DeviceChoice,
    /// The precision to train in: f32, or mixed bf16 / f16 (matrix products, convolutions and
    /// attention in the low precision; parameters, norms, softmax, losses and the optimizer in
    /// f32; f16 scales the loss dynamically and skips steps whose gradients overflow).
    #[arg(long, value_enum, default_value_t = PrecisionChoice::F32)]
    #[serde(default)]
    pub precision: PrecisionChoice,
    /// The run folder (default: runs/<model>-<date>-<time>).
    #[arg(long)]
    #[serde(skip)]
    pub out: Option<PathBuf>,
    /// Continue the run in this folder from its last checkpoint, up to `--epochs` epochs in all;
    /// every other setting comes from the run's config.json.
    #[arg(long, conflicts_with = "out")]
    #[serde(skip)]
    pub resume: Option<PathBuf>,
    /// Let `--out` name a folder that holds an earlier run: its run files are replaced (other
    /// files are left alone).
    #[arg(long, conflicts_with = "resume")]
    #[serde(skip)]
    pub overwrite: bool,
    /// Train data-parallel in the job a launcher started (`mpirun -np N tessera train ...
    /// --distributed`, or `srun`): `--batch-size` stays the global batch, split evenly across
    /// the processes; rank 0 prints and writes the run folder (needs the `mpi` feature).
    #[arg(long)]
    #[serde(skip)]
    pub distributed: bool,
    /// With `--distributed`: the size of the gradient buckets, in MiB, one all-reduce each
    /// (PyTorch DDP's `bucket_cap_mb`; the first bucket holds at most 1 MiB).
    #[arg(long, default_value_t = 25.0, value_name = "MB", value_parser = positive)]
    #[serde(skip)]
    pub bucket_mb: f64,
    /// With `--distributed`: all-reduce each bucket of gradients as soon as backward has
    /// finished it (`on`, overlapping communication with backward), only after backward
    /// (`off`), or `auto`: overlap where the communication thread has a core of its own (GPU
    /// training, or fewer compute threads than cores). The result is the same.
    #[arg(long, value_enum, default_value_t = Overlap::Auto)]
    #[serde(skip)]
    pub overlap: Overlap,
}

/// `--overlap auto|on|off`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Overlap {
    /// Where the communication thread has a core of its own.
    #[default]
    Auto,
    /// During backward.
    On,
    /// After backward.
    Off,
}

/// `--precision f32|bf16|f16`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PrecisionChoice {
    /// Single precision throughout.
    #[default]
    F32,
    /// Mixed precision with bfloat16 products.
    Bf16,
    /// Mixed precision with half-precision products and dynamic loss scaling.
    F16,
}

impl From<PrecisionChoice> for Precision {
    fn from(choice: PrecisionChoice) -> Precision {
        match choice {
            PrecisionChoice::F32 => Precision::F32,
            PrecisionChoice::Bf16 => Precision::Bf16,
            PrecisionChoice::F16 => Precision::F16,
        }
    }
}

/// The arguments to run with: `args` themselves, or with `--resume RUN` those the run of
/// `model` was started with (its config.json's `train`), keeping `--epochs`, `--device` and the
/// distributed options from this command line. `common` finds the shared options in the
/// arguments. Before any work, a new run's `--out` is checked (see [`RunDir::check_new`]) and
/// the default folder chosen.
pub fn resolve<A: DeserializeOwned>(mut args: A, model: &str, common: fn(&mut A) -> &mut TrainOptions) -> CliResult<A> {
    let given = common(&mut args).clone();
    let Some(dir) = &given.resume else {
        let out = RunDir::new_path(given.out.as_deref(), model);
        RunDir::check_new(&out, given.overwrite)?;
        common(&mut args).out = Some(out);
        return Ok(args);
    };
    let path = dir.join("config.json");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let config: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    match config.get("model").and_then(Value::as_str) {
        Some(kind) if kind == model => {}
        Some(kind) => return Err(format!("{}: a `{kind}` run, not a `{model}` run", dir.display()).into()),
        None => return Err(format!("{}: names no model: not a run's config", path.display()).into()),
    }
    let train = config.get("train").ok_or_else(|| format!("{}: no `train` settings", path.display()))?;
    let mut saved: A =
        serde_json::from_value(train.clone()).map_err(|e| format!("{}: `train` settings: {e}", path.display()))?;
    let opts = common(&mut saved);
    opts.epochs = given.epochs.or(opts.epochs);
    (opts.device, opts.resume) = (given.device, given.resume.clone());
    (opts.distributed, opts.bucket_mb, opts.overlap) = (given.distributed, given.bucket_mb, given.overlap);
    Ok(saved)
}

/// The last checkpoint of the run in `dir`.
fn last_checkpoint(dir: &Path) -> PathBuf {
    dir.join("checkpoints").join("last.safetensors")
}

/// A new run folder for `model` with `config.json` (the model's name, `args` under `train`,
/// the device, and the entries of `extra`), or, with `--resume`, the run's folder and the
/// epochs its last checkpoint has done. `opts` are the shared options within `args`.
pub fn open_run(
    args: &impl Serialize,
    opts: &TrainOptions,
    model: &str,
    device: &Device,
    extra: Value,
) -> CliResult<(RunDir, usize)> {
    if let Some(dir) = &opts.resume {
        let done = checkpoint::read_info(&last_checkpoint(dir))?.epoch;
        return Ok((RunDir::resume(dir, done)?, done));
    }
    let out = opts.out.as_deref().ok_or("no run folder: `resolve` chooses it")?;
    let run = RunDir::create(out, opts.overwrite)?;
    let mut config = json!({ "model": model, "train": args, "device": device.to_string() });
    if let (Some(c), Value::Object(e)) = (config.as_object_mut(), extra) {
        c.extend(e);
    }
    run.write_config(&config)?;
    Ok((run, 0))
}

/// With `--resume`, loads the run's last checkpoint into `model` and `optimizer` (which first
/// takes up the loss scaling `--precision` needs, so the run's scale is restored), and says so.
pub fn load_last(
    opts: &TrainOptions,
    run: &RunDir,
    done: usize,
    model_name: &str,
    model: &dyn Module,
    optimizer: &mut Optimizer,
) -> CliResult<()> {
    optimizer.scale_loss_for(opts.precision.into());
    if opts.resume.is_some() {
        checkpoint::load(&last_checkpoint(run.path()), model_name, model, Some(optimizer))?;
        say!("resumed after epoch {done} (learning rate {:.2e})", optimizer.learning_rate());
    }
    Ok(())
}

/// How a run trains and what it watches: the metric (lower is better) that picks the best
/// checkpoint and stops training after `patience` epochs without improvement, and the precision.
pub struct RunPlan<'a> {
    /// The metric, e.g. `val_loss`.
    pub monitor: &'a str,
    /// Epochs without improvement before stopping (the best weights are restored); `None`
    /// never stops early.
    pub patience: Option<usize>,
    /// The precision to train in (`--precision`).
    pub precision: Precision,
}

/// The trainer of a run: `last` and `best` checkpoints of `model_name` (with its JSON `config`)
/// in the run folder, the metrics and curves recorded there, the learning-rate `schedule`, and
/// early stopping and precision as `run_plan` says. The checkpoints are written after the
/// other callbacks have acted on the epoch (a plateau's cut is in the checkpoint a resumed run
/// starts from).
pub fn trainer<T: Task>(
    task: T,
    optimizer: Optimizer,
    run: RunDir,
    model_name: &str,
    config: &str,
    schedule: Option<LrScheduler>,
    run_plan: RunPlan<'_>,
) -> Trainer<T> {
    let dir = run.path().join("checkpoints");
    let mut trainer = Trainer::with_task(task, optimizer).precision(run_plan.precision);
    if let Some(s) = schedule {
        trainer = trainer.callback(s);
    }
    if let Some(p) = run_plan.patience {
        let stopping = EarlyStopping::new(run_plan.monitor, Mode::Min, p).restore_best_weights(true);
        trainer = trainer.callback(stopping.best_checkpoint(dir.join("best.safetensors"), model_name));
    }
    trainer.callback(ModelCheckpoint::new(dir, run_plan.monitor, Mode::Min, model_name, config)).run_dir(run)
}

/// After training: whether nothing was left to train in a resumed run (it had done its epochs,
/// or stopped early), said on the terminal; its results stay as they were.
pub fn nothing_trained(history: &tessera_train::History, run: &Path, done: usize) -> bool {
    if !history.epochs.is_empty() {
        return false;
    }
    let why = if history.stopped_early { "it had stopped early" } else { "it had done all its epochs" };
    say!("nothing to train in {} after epoch {done}: {why}; its results are unchanged", run.display());
    true
}

/// Writes `results.json` in the run folder.
pub fn write_results(run: &Path, results: &Value) -> CliResult<()> {
    tessera_train::fs::write_atomic(&run.join("results.json"), format!("{results:#}\n").as_bytes())?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::{Cli, Command};
    use super::*;
    use clap::{CommandFactory, Parser};

    fn options(args: &[&str]) -> TrainOptions {
        let cli = Cli::try_parse_from(args).unwrap();
        match cli.command {
            Command::Train(TrainArgs { model: TrainModel::Mlp(a) }) => a.common,
            Command::Train(TrainArgs { model: TrainModel::Lm(a) }) => a.common,
            Command::Train(TrainArgs { model: TrainModel::Gpt(a) }) => a.common,
            other => panic!("parsed {other:?}"),
        }
    }

    #[test]
    fn subcommands_share_the_options_and_keep_their_own_defaults() {
        Cli::command().debug_assert();
        let mlp = options(&["tessera", "train", "mlp"]);
        assert_eq!((mlp.lr, mlp.patience, mlp.epochs, mlp.batch_size), (1e-3, None, None, 32));
        let lm = options(&["tessera", "train", "lm"]);
        assert_eq!((lm.lr, lm.patience, lm.val_split), (2e-3, Some(2), 0.1));
        let gpt = options(&["tessera", "train", "gpt"]);
        assert_eq!((gpt.lr, gpt.batch_size, gpt.seed, gpt.val_split), (1e-3, 12, 1337, 0.1));
        let given = options(&["tessera", "train", "lm", "--lr", "0.01", "--patience", "5", "--epochs", "3"]);
        assert_eq!((given.lr, given.patience, given.epochs), (0.01, Some(5), Some(3)));
        assert!(Cli::try_parse_from(["tessera", "train", "mlp", "--out", "a", "--resume", "b"]).is_err());
    }
}
