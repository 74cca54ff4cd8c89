//! `tessera explain`: saliency maps of a classifier's decisions, one picture per chosen image.

use super::device::{open, DeviceChoice};
use super::mlp::{self, MnistSource};
use super::ranges::{count, non_negative};
use super::CliResult;
use std::path::PathBuf;
use tessera_nn::Module;
use tessera_train::data::Dataset;
use tessera_train::saliency::{self, SaliencyMethod};

/// The attribution method (`--method`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Method {
    /// The gradient of the class score with respect to the pixels.
    Gradient,
    /// Integrated gradients from a black image (the attributions sum to the score's change).
    IntegratedGradients,
    /// The gradient averaged over noisy copies of the image.
    Smoothgrad,
}

/// Arguments of `tessera explain`.
#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    /// A checkpoint file, or a run folder (its best checkpoint) of `train mlp` or `train cnn`.
    #[arg(long)]
    checkpoint: PathBuf,
    /// Images: as `train mlp --data` (default: the data the checkpoint was trained with); the
    /// indices are of its test part.
    #[command(flatten)]
    source: MnistSource,
    /// Test images to explain, by index.
    #[arg(long, num_args = 1.., default_values_t = [0usize])]
    index: Vec<usize>,
    /// How attributions are computed.
    #[arg(long, value_enum, default_value_t = Method::IntegratedGradients)]
    method: Method,
    /// The class to explain (default: the predicted class of each image).
    #[arg(long)]
    class: Option<usize>,
    /// Integrated gradients: intervals of the path from the black image.
    #[arg(long, value_parser = count, default_value_t = 128)]
    steps: usize,
    /// SmoothGrad: noisy copies per image.
    #[arg(long, value_parser = count, default_value_t = 32)]
    samples: usize,
    /// SmoothGrad: noise standard deviation, relative to the image's value range.
    #[arg(long, value_parser = non_negative, default_value_t = 0.15)]
    noise: f64,
    /// Seed of SmoothGrad's noise.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Folder for the pictures (`explain_<index>.svg`), created if missing.
    #[arg(long)]
    out: PathBuf,
    /// Where to run.
    #[arg(long, value_enum, default_value_t = DeviceChoice::Cpu)]
    device: DeviceChoice,
}

/// Runs `tessera explain`: for each index, a picture of the image, its attributions and both
/// overlaid, and a line with the prediction and (for integrated gradients) completeness.
pub fn run(a: ExplainArgs) -> CliResult<()> {
    let device = open(a.device)?;
    let (model, cfg) = mlp::load(&a.checkpoint, &device)?;
    model.set_training(false);
    let test = a.source.or(&cfg.source).load(cfg.seed)?.test;
    if let Some(&bad) = a.index.iter().find(|&&i| i >= test.len()) {
        return Err(format!("--index {bad} is out of range: the test part has {} images", test.len()).into());
    }
    if let Some(c) = a.class.filter(|&c| c >= cfg.classes) {
        return Err(format!("--class {c} is out of range: the model has {} classes", cfg.classes).into());
    }
    let method = match a.method {
        Method::Gradient => SaliencyMethod::Gradient,
        Method::IntegratedGradients => SaliencyMethod::IntegratedGradients { steps: a.steps },
        Method::Smoothgrad => SaliencyMethod::SmoothGrad { samples: a.samples, noise: a.noise, seed: a.seed },
    };
    tessera_train::fs::create_dir(&a.out)?;
    let scores = saliency::logits(&model);
    let [height, width] = cfg.image_size();
    for &i in &a.index {
        let image = test.inputs().narrow(0, i, 1)?.squeeze(0)?.to_device(&device)?;
        let label = test.targets().narrow(0, i, 1)?.to_vec_f64()?[0] as usize;
        let logits = saliency::class_scores(&scores, &image)?;
        let predicted = argmax(&logits);
        let class = a.class.unwrap_or(predicted);
        let attribution = saliency::attribute(&scores, &image, class, &method)?;
        model.zero_grad();
        let pixels: Vec<f32> = image.to_vec()?;
        let title = format!("test image {i}: predicted {predicted}, true {label}; {} for class {class}", method.name());
        let svg = saliency::saliency_svg(&pixels, &attribution.values, height, width, &title);
        let path = a.out.join(format!("explain_{i}.svg"));
        tessera_train::fs::write_atomic(&path, svg.as_bytes())?;
        let completeness = attribution.completeness_error().map_or(String::new(), |e| {
            let sum: f64 = attribution.values.iter().map(|&v| v as f64).sum();
            format!(
                ", attributions sum {sum:.4} vs score change {:.4} ({:.3}% apart)",
                attribution.score - attribution.baseline_score.unwrap_or(0.0),
                e * 100.0
            )
        });
        say!(
            "image {i}: true {label}, predicted {predicted}, explained class {class}{completeness}: {}",
            path.display()
        );
    }
    Ok(())
}

fn argmax(values: &[f64]) -> usize {
    values.iter().enumerate().fold((0, f64::NEG_INFINITY), |best, (i, &v)| if v > best.1 { (i, v) } else { best }).0
}
