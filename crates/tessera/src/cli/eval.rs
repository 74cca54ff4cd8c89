//! `tessera eval`: a checkpoint's loss and accuracy on test data, its per-class precision,
//! recall and F1 (scikit-learn's `classification_report`), and a picture of its confusion matrix
//! in the run folder.

use super::device::{open, DeviceChoice};
use super::mlp::{self, MnistSource};
use super::saved;
use super::CliResult;
use std::path::{Path, PathBuf};
use tessera_autograd::{no_grad, Var};
use tessera_nn::{loss, Module};
use tessera_train::classification::ConfusionMatrix;
use tessera_train::data::{Dataset, TensorDataset};
use tessera_train::{evaluate, LossFn};

/// Arguments of `tessera eval`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// A checkpoint file, or a run folder (its best checkpoint).
    #[arg(long)]
    checkpoint: PathBuf,
    /// Test images: as `train mlp --data` (default: the data the checkpoint was trained with;
    /// predictions are for the test part).
    #[command(flatten)]
    source: MnistSource,
    /// Where to run.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Cpu)]
    device: DeviceChoice,
    /// Where to write the confusion matrix's picture (SVG). Default: `confusion_matrix.svg` in
    /// the run folder of `--checkpoint` (a run folder, or a checkpoint in its `checkpoints/`);
    /// none for a checkpoint outside a run folder.
    #[arg(long)]
    confusion_matrix: Option<PathBuf>,
}

/// Runs `tessera eval`.
pub fn run(a: EvalArgs) -> CliResult<()> {
    let device = open(a.device)?;
    let (model, cfg) = mlp::load(&a.checkpoint, &device)?;
    // Dropout off, batch norm on its running statistics: the loss and the table agree.
    model.set_training(false);
    let source = a.source.or(&cfg.source);
    let test = source.load(cfg.seed)?.test;
    let test = TensorDataset::new(test.inputs().to_device(&device)?, test.targets().to_device(&device)?)?;
    let loss_fn: LossFn = Box::new(loss::sparse_categorical_crossentropy);
    let e = evaluate(&model, &loss_fn, &test, 1000, Some(5))?;
    say!(
        "{}: test loss {:.4}, accuracy {:.2}%, top-5 {:.2}% on {} images",
        saved::checkpoint_file(&a.checkpoint).display(),
        e.loss,
        e.accuracy.unwrap_or(f64::NAN) * 100.0,
        e.top_k.unwrap_or(f64::NAN) * 100.0,
        test.len()
    );
    let matrix = confusion_matrix(&model, &test, cfg.classes, 1000)?;
    say!("{}", matrix.report().to_string().trim_end());
    match picture_path(&a.checkpoint, a.confusion_matrix.as_deref()) {
        Some(path) => {
            let file = saved::checkpoint_file(&a.checkpoint);
            let title = format!("{} on {}: accuracy {:.2}%", file.display(), source.name(), matrix.accuracy() * 100.0);
            matrix.write_svg(&path, &title, None)?;
            say!("wrote the confusion matrix to {}", path.display());
        }
        None => say!("not in a run folder: pass --confusion-matrix PATH for a picture of the confusion matrix"),
    }
    Ok(())
}

/// The confusion matrix of `model`'s predictions on `data` in batches of `batch_size`, in
/// evaluation mode and without recording (any classifier whose output is `[n, classes]`).
fn confusion_matrix(
    model: &dyn Module,
    data: &TensorDataset,
    classes: usize,
    batch_size: usize,
) -> CliResult<ConfusionMatrix> {
    model.set_training(false);
    let mut matrix = ConfusionMatrix::new(classes)?;
    let n = data.len();
    for start in (0..n).step_by(batch_size.max(1)) {
        let len = batch_size.min(n - start);
        let inputs = Var::constant(data.inputs().narrow(0, start, len)?);
        let scores = no_grad(|| model.forward(&inputs))?;
        matrix.add_scores(scores.tensor(), &data.targets().narrow(0, start, len)?)?;
    }
    Ok(matrix)
}

/// Where the picture goes: `chosen`, or `confusion_matrix.svg` in the run folder `checkpoint`
/// is (or whose `checkpoints/` holds it); `None` outside a run folder.
fn picture_path(checkpoint: &Path, chosen: Option<&Path>) -> Option<PathBuf> {
    if let Some(path) = chosen {
        return Some(path.to_path_buf());
    }
    let in_checkpoints = checkpoint.parent().and_then(Path::file_name).is_some_and(|d| d == "checkpoints");
    let run = saved::run_folder(checkpoint);
    let is_run = (checkpoint.is_dir() || in_checkpoints) && run.join("config.json").is_file();
    is_run.then(|| run.join("confusion_matrix.svg"))
}
