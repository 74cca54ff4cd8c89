//! Gradient checks of the vision ops: max, average and adaptive average pooling, batch
//! normalisation (training and eval), and flatten/unflatten.

use super::draw::{Domain, Draw};
use super::problem::Problem;
use super::OpCheck;
use crate::Result;
use tessera_tensor::{AvgPool2dSpec, MaxPool2dSpec, Tensor};

/// A batched `[N, C, H, W]` or unbatched `[C, H, W]` shape whose planes are at least `min`.
fn image_shape(d: &mut Draw, min: [usize; 2]) -> Vec<usize> {
    let mut shape = if d.coin() { vec![d.int(1, 2)] } else { vec![] };
    shape.extend([d.int(1, 2), min[0] + d.int(0, 3), min[1] + d.int(0, 3)]);
    shape
}

/// A kernel, stride and padding (at most half the kernel) per axis.
fn window(d: &mut Draw) -> ([usize; 2], [usize; 2], [usize; 2]) {
    let kernel = [d.int(1, 3), d.int(1, 3)];
    let stride = [d.int(1, 3), d.int(1, 3)];
    let padding = [d.int(0, kernel[0] / 2), d.int(0, kernel[1] / 2)];
    (kernel, stride, padding)
}

/// Max pooling of distinct values (no ties, so the argmax is stable under the perturbation),
/// random windows, dilation and ceil mode.
fn max_pool2d(d: &mut Draw) -> Result<Problem> {
    let (kernel, stride, padding) = window(d);
    let dilation = [d.int(1, 2), d.int(1, 2)];
    let spec = MaxPool2dSpec { kernel, stride, padding, dilation, ceil_mode: d.coin() };
    let shape = image_shape(d, [0, 1].map(|i| dilation[i] * (kernel[i] - 1) + 1));
    let x = d.input(&shape, &Domain::Distinct(-2.0, 2.0));
    Ok(Problem::new(vec![x], move |v| v[0].max_pool2d(&spec)))
}

/// Average pooling with random windows, ceil mode, padding counted or not, and sometimes a
/// divisor override.
fn avg_pool2d(d: &mut Draw) -> Result<Problem> {
    let (kernel, stride, padding) = window(d);
    let divisor = if d.coin() { Some(d.int(1, 5)) } else { None };
    let spec = AvgPool2dSpec::new(kernel)
        .stride(stride)
        .padding(padding)
        .ceil_mode(d.coin())
        .count_include_pad(d.coin())
        .divisor_override(divisor);
    let shape = image_shape(d, kernel);
    Ok(Problem::new(vec![d.input(&shape, &Domain::ANY)], move |v| v[0].avg_pool2d(&spec)))
}

/// Adaptive average pooling to sizes that may not divide the input (or exceed it).
fn adaptive_avg_pool2d(d: &mut Draw) -> Result<Problem> {
    let shape = image_shape(d, [1, 1]);
    let (h, w) = (shape[shape.len() - 2], shape[shape.len() - 1]);
    let out = [d.int(1, h + 1), d.int(1, w + 1)];
    Ok(Problem::new(vec![d.input(&shape, &Domain::ANY)], move |v| v[0].adaptive_avg_pool2d(out)))
}

/// Batch normalisation of `[N, C]` or `[N, C, *]`, training or eval (random running
/// statistics), with or without weight and bias.
fn batch_norm(d: &mut Draw) -> Result<Problem> {
    let mut shape = vec![d.int(1, 3), d.int(1, 3)];
    for _ in 0..d.int(0, 2) {
        shape.push(d.int(1, 3));
    }
    if shape[0] * shape[2..].iter().product::<usize>() < 3 {
        shape[0] = 3;
    }
    let c = shape[1];
    let training = d.coin();
    let (has_w, has_b) = (d.coin(), d.coin());
    let eps = d.pick(&[1e-3, 0.1]);
    let running = if training {
        None
    } else {
        let mean = Tensor::from_vec(d.values(c, &Domain::ANY), [c], &d.device())?;
        let var = Tensor::from_vec(d.values(c, &Domain::Range(0.2, 2.0)), [c], &d.device())?;
        Some((mean, var))
    };
    let mut inputs = vec![d.input(&shape, &Domain::ANY)];
    if has_w {
        inputs.push(d.input(&[c], &Domain::ANY));
    }
    if has_b {
        inputs.push(d.input(&[c], &Domain::ANY));
    }
    Ok(Problem::new(inputs, move |v| {
        let (w, b) = (has_w.then(|| &v[1]), has_b.then(|| &v[1 + has_w as usize]));
        let r = running.as_ref().map(|(m, s)| (m, s));
        Ok(v[0].batch_norm(w, b, r, training, eps)?.0)
    }))
}

/// Flatten of a random dim range (negative dims too) of a random shape.
fn flatten(d: &mut Draw) -> Result<Problem> {
    let shape = d.shape(1, 4);
    let rank = shape.len() as isize;
    let start = d.int(0, rank as usize - 1) as isize;
    let end = d.int(start as usize, rank as usize - 1) as isize;
    let (start, end) = (if d.coin() { start - rank } else { start }, if d.coin() { end - rank } else { end });
    Ok(Problem::new(vec![d.input(&shape, &Domain::ANY)], move |v| v[0].flatten(start, end)))
}

/// Unflatten of a random dim into two sizes, one maybe inferred.
fn unflatten(d: &mut Draw) -> Result<Problem> {
    let mut shape = d.shape(1, 3);
    let dim = d.int(0, shape.len() - 1);
    let a = d.int(1, 3);
    shape[dim] = a * d.int(1, 3);
    let b = shape[dim] / a;
    let sizes = if d.coin() { vec![a, b] } else { vec![usize::MAX, b] };
    let dim = dim as isize - if d.coin() { shape.len() as isize } else { 0 };
    Ok(Problem::new(vec![d.input(&shape, &Domain::ANY)], move |v| v[0].unflatten(dim, &sizes)))
}

/// The checks of this file.
pub(super) fn checks() -> Vec<OpCheck> {
    vec![
        OpCheck::new("max_pool2d", max_pool2d),
        OpCheck::new("avg_pool2d", avg_pool2d),
        OpCheck::new("adaptive_avg_pool2d", adaptive_avg_pool2d),
        OpCheck::new("batch_norm", batch_norm),
        OpCheck::new("flatten", flatten),
        OpCheck::new("unflatten", unflatten),
    ]
}
