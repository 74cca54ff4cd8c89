//! Saliency: which input features a classifier's score for a class depends on. Three methods:
//! the plain gradient (Simonyan et al. 2013), integrated gradients (Sundararajan et al. 2017:
//! the gradient averaged along the straight path from a baseline, times the input's distance
//! from it, so the attributions sum to the score's change from the baseline) and SmoothGrad
//! (Smilkov et al. 2017: the gradient averaged over noisy copies of the input).

mod picture;

pub use picture::saliency_svg;

use crate::{Error, Result};
use std::ops::Range;
use tessera_autograd::Var;
use tessera_nn::Sequential;
use tessera_tensor::{DType, Device, Generator, Tensor};

/// Inputs evaluated per forward and backward pass (interpolation points, noisy copies).
const CHUNK: usize = 32;

/// How attributions are computed.
#[derive(Debug, Clone, PartialEq)]
pub enum SaliencyMethod {
    /// The gradient of the class score with respect to the input.
    Gradient,
    /// Integrated gradients from an all-zero baseline, with the trapezoidal rule over `steps`
    /// intervals.
    IntegratedGradients {
        /// Intervals of the path integral (50 to 300 is usual).
        steps: usize,
    },
    /// The gradient averaged over `samples` copies of the input with Gaussian noise of
    /// standard deviation `noise` times the input's value range.
    SmoothGrad {
        /// Noisy copies.
        samples: usize,
        /// Noise level, relative to `max - min` of the input.
        noise: f64,
        /// Seed of the noise.
        seed: u64,
    },
}

impl SaliencyMethod {
    /// The method's name for titles and messages.
    pub fn name(&self) -> &'static str {
        match self {
            SaliencyMethod::Gradient => "gradient",
            SaliencyMethod::IntegratedGradients { .. } => "integrated gradients",
            SaliencyMethod::SmoothGrad { .. } => "SmoothGrad",
        }
    }
}

/// The attributions of one input for one class.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribution {
    /// One value per input feature, in the input's order.
    pub values: Vec<f32>,
    /// The class explained.
    pub class: usize,
    /// The class score (logit) at the input.
    pub score: f64,
    /// The class score at the baseline (integrated gradients only).
    pub baseline_score: Option<f64>,
}

impl Attribution {
    /// How far the attributions' sum is from the score's change from the baseline, relative to
    /// that change (integrated gradients' completeness; `None` for the other methods).
    pub fn completeness_error(&self) -> Option<f64> {
        let change = self.score - self.baseline_score?;
        let sum: f64 = self.values.iter().map(|&v| v as f64).sum();
        Some((sum - change).abs() / change.abs().max(1e-12))
    }
}

/// A classifier's scores before any final softmax: the function saliency differentiates.
/// `Sequential` models ending in a `Softmax` layer (the Keras-style classifiers) are run
/// without it, so scores are logits.
pub fn logits(model: &Sequential) -> impl Fn(&Var) -> tessera_nn::Result<Var> + '_ {
    let layers = model.layers();
    let n = match layers.last() {
        Some(last) if last.describe().starts_with("Softmax") => layers.len() - 1,
        _ => layers.len(),
    };
    move |x: &Var| {
        let mut x = x.clone();
        for layer in &layers[..n] {
            x = layer.forward(&x)?;
        }
        Ok(x)
    }
}

/// The class scores `[classes]` of one input (`input`: one example, without a batch dim).
pub fn class_scores(scores: &dyn Fn(&Var) -> tessera_nn::Result<Var>, input: &Tensor) -> Result<Vec<f64>> {
    let x = Var::constant(input.unsqueeze(0)?);
    Ok(tessera_autograd::no_grad(|| scores(&x))?.to_vec_f64()?)
}

/// Attributions of `class` for one `input` (one example, without a batch dim) by `method`, with
/// `scores` mapping a batch to class scores `[batch, classes]` (see [`logits`]). Put the model in
/// evaluation mode first (dropout off, batch norm on its running statistics); the parameters'
/// gradients accumulate, so zero them after if the model trains again.
pub fn attribute(
    scores: &dyn Fn(&Var) -> tessera_nn::Result<Var>,
    input: &Tensor,
    class: usize,
    method: &SaliencyMethod,
) -> Result<Attribution> {
    let x: Vec<f32> = input.to_dtype(DType::F32)?.to_vec()?;
    let dims = input.dims().to_vec();
    let at_input = class_scores(scores, input)?;
    if class >= at_input.len() {
        return Err(Error::Config(format!("saliency: class {class} is out of range for {} classes", at_input.len())));
    }
    let score = at_input[class];
    let n = x.len();
    Ok(match *method {
        SaliencyMethod::Gradient => {
            let values = summed_gradients(scores, input, class, 1, |_| Ok(x.clone()), |_| 1.0)?;
            Attribution { values, class, score, baseline_score: None }
        }
        SaliencyMethod::IntegratedGradients { steps } => {
            if steps == 0 {
                return Err(Error::Config("integrated gradients: steps must be at least 1".into()));
            }
            let along_path =
                |ks: Range<usize>| Ok(ks.flat_map(|k| x.iter().map(move |&v| v * (k as f32 / steps as f32))).collect());
            // Trapezoidal weights: half at both ends of the path.
            let weight = |k: usize| if k == 0 || k == steps { 0.5 } else { 1.0 } / steps as f32;
            let mut values = summed_gradients(scores, input, class, steps + 1, along_path, weight)?;
            values.iter_mut().zip(&x).for_each(|(v, &xi)| *v *= xi);
            let baseline = Tensor::zeros(dims.clone(), input.dtype(), input.device())?;
            let baseline_score = class_scores(scores, &baseline)?[class];
            Attribution { values, class, score, baseline_score: Some(baseline_score) }
        }
        SaliencyMethod::SmoothGrad { samples, noise, seed } => {
            if samples == 0 || noise.is_nan() || noise < 0.0 {
                return Err(Error::Config(format!(
                    "SmoothGrad: samples {samples} must be at least 1 and noise {noise} non-negative"
                )));
            }
            let (lo, hi) = x.iter().fold((f32::INFINITY, f32::NEG_INFINITY), |(a, b), &v| (a.min(v), b.max(v)));
            let std = (noise * f64::from((hi - lo).max(0.0))) as f32;
            let mut g = Generator::new(seed);
            let noisy_copies = |ks: Range<usize>| -> Result<Vec<f32>> {
                let draws: Vec<f32> = Tensor::randn(&mut g, [ks.len(), n], DType::F32, &Device::Cpu)?.to_vec()?;
                Ok(draws.chunks(n.max(1)).flat_map(|d| x.iter().zip(d).map(|(&v, &e)| v + std * e)).collect())
            };
            let values = summed_gradients(scores, input, class, samples, noisy_copies, |_| 1.0 / samples as f32)?;
            Attribution { values, class, score, baseline_score: None }
        }
    })
}

/// `Σ weight(k) · ∇ score(point k)` of the `class` score over `count` points (inputs of `input`'s
/// shape), [`CHUNK`] points per forward and backward pass: `points(range)` gives a chunk's points
/// one after the other. Memory is one chunk's, however many points there are.
fn summed_gradients(
    scores: &dyn Fn(&Var) -> tessera_nn::Result<Var>,
    input: &Tensor,
    class: usize,
    count: usize,
    mut points: impl FnMut(Range<usize>) -> Result<Vec<f32>>,
    weight: impl Fn(usize) -> f32,
) -> Result<Vec<f32>> {
    let (dims, per) = (input.dims(), input.elem_count());
    let mut sum = vec![0f32; per];
    for start in (0..count).step_by(CHUNK) {
        let ks = start..(start + CHUNK).min(count);
        let shape: Vec<usize> = std::iter::once(ks.len()).chain(dims.iter().copied()).collect();
        let batch = Tensor::from_vec(points(ks.clone())?, shape, input.device())?.to_dtype(input.dtype())?;
        let x = Var::new(batch, true)?;
        let s = scores(&x)?;
        // Each row's score depends on its own input only, so one backward of the sum gives every
        // row's gradient.
        s.narrow(1, class, 1)?.sum_all()?.backward()?;
        let grad = x.grad().ok_or_else(|| Error::Config("saliency: the input received no gradient".into()))?;
        let grad: Vec<f32> = grad.to_dtype(DType::F32)?.to_vec()?;
        for (k, row) in ks.zip(grad.chunks(per.max(1))) {
            let w = weight(k);
            sum.iter_mut().zip(row).for_each(|(v, &g)| *v += w * g);
        }
    }
    Ok(sum)
}

#[cfg(test)]
mod tests;
