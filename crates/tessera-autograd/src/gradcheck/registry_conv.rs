//! Gradient checks of 2-D convolution: the im2col and col2im windows, conv2d and
//! conv_transpose2d, over random small images, kernels, strides, padding, dilation, groups,
//! batched and unbatched inputs, with and without bias (inputs reach the ops through random
//! non-contiguous views).

use super::draw::{Domain, Draw};
use super::problem::Problem;
use super::OpCheck;
use crate::Result;
use tessera_tensor::{Conv2dSpec, ConvTranspose2dSpec, Im2ColSpec};

/// A random window, and an image size `[H, W]` it fits.
fn window(d: &mut Draw) -> (Im2ColSpec, [usize; 2]) {
    let mut spec = Im2ColSpec { kernel: [1, 1], stride: [1, 1], padding: [0, 0], dilation: [1, 1] };
    let mut image = [0; 2];
    for a in 0..2 {
        spec.kernel[a] = d.int(1, 3);
        spec.stride[a] = d.int(1, 2);
        spec.padding[a] = d.int(0, 1);
        spec.dilation[a] = d.int(1, 2);
        let span = spec.dilation[a] * (spec.kernel[a] - 1) + 1;
        image[a] = span.saturating_sub(2 * spec.padding[a]).max(1) + d.int(0, 2);
    }
    (spec, image)
}

/// Window positions along each axis for `spec` over `image`.
fn positions(spec: &Im2ColSpec, image: [usize; 2]) -> [usize; 2] {
    [0, 1].map(|a| (image[a] + 2 * spec.padding[a] - spec.dilation[a] * (spec.kernel[a] - 1) - 1) / spec.stride[a] + 1)
}

/// im2col of a random `[N, C, H, W]` batch.
fn im2col(d: &mut Draw) -> Result<Problem> {
    let (spec, [h, w]) = window(d);
    let (n, c) = (d.int(1, 2), d.int(1, 2));
    Ok(Problem::new(vec![d.input(&[n, c, h, w], &Domain::ANY)], move |v| v[0].im2col(&spec)))
}

/// col2im of random columns onto `[N, C, H, W]` images.
fn col2im(d: &mut Draw) -> Result<Problem> {
    let (spec, image) = window(d);
    let (n, c) = (d.int(1, 2), d.int(1, 2));
    let [oh, ow] = positions(&spec, image);
    let col = d.input(&[n, c * spec.kernel[0] * spec.kernel[1], oh * ow], &Domain::ANY);
    Ok(Problem::new(vec![col], move |v| v[0].col2im(&spec, image)))
}

/// Groups, channels per group in and out, whether batched and whether there is a bias.
struct Channels {
    groups: usize,
    per_group_in: usize,
    per_group_out: usize,
    batch: Option<usize>,
    bias: bool,
}

fn channels(d: &mut Draw) -> Channels {
    let (groups, per_group_in, per_group_out) = (d.int(1, 2), d.int(1, 2), d.int(1, 2));
    let batch = if d.int(0, 3) == 0 { None } else { Some(d.int(1, 2)) };
    Channels { groups, per_group_in, per_group_out, batch, bias: d.coin() }
}

/// The input's shape: `[N, C, H, W]`, or `[C, H, W]` unbatched.
fn input_shape(ch: &Channels, image: [usize; 2]) -> Vec<usize> {
    let c = ch.groups * ch.per_group_in;
    match ch.batch {
        Some(n) => vec![n, c, image[0], image[1]],
        None => vec![c, image[0], image[1]],
    }
}

/// conv2d of a random input by a random weight and optional bias.
fn conv2d(d: &mut Draw) -> Result<Problem> {
    let (window, image) = window(d);
    let ch = channels(d);
    let spec =
        Conv2dSpec { stride: window.stride, padding: window.padding, dilation: window.dilation, groups: ch.groups };
    let oc = ch.groups * ch.per_group_out;
    let mut inputs = vec![
        d.input(&input_shape(&ch, image), &Domain::ANY),
        d.input(&[oc, ch.per_group_in, window.kernel[0], window.kernel[1]], &Domain::ANY),
    ];
    if ch.bias {
        inputs.push(d.input(&[oc], &Domain::ANY));
    }
    Ok(Problem::new(inputs, move |v| v[0].conv2d(&v[1], v.get(2), &spec)))
}

/// conv_transpose2d of a random input by a random weight and optional bias, with an output
/// padding smaller than the stride or the dilation.
fn conv_transpose2d(d: &mut Draw) -> Result<Problem> {
    let (window, _) = window(d);
    let ch = channels(d);
    let image = [d.int(1, 3), d.int(1, 3)];
    let output_padding = [0, 1].map(|a| d.int(0, window.stride[a].max(window.dilation[a]) - 1));
    let spec = ConvTranspose2dSpec {
        stride: window.stride,
        padding: [0, 1].map(|a| window.padding[a].min(image[a].saturating_sub(1) * window.stride[a] / 2)),
        output_padding,
        dilation: window.dilation,
        groups: ch.groups,
    };
    let c = ch.groups * ch.per_group_in;
    let mut inputs = vec![
        d.input(&input_shape(&ch, image), &Domain::ANY),
        d.input(&[c, ch.per_group_out, window.kernel[0], window.kernel[1]], &Domain::ANY),
    ];
    if ch.bias {
        inputs.push(d.input(&[ch.groups * ch.per_group_out], &Domain::ANY));
    }
    Ok(Problem::new(inputs, move |v| v[0].conv_transpose2d(&v[1], v.get(2), &spec)))
}

/// The checks of this file.
pub(super) fn checks() -> Vec<OpCheck> {
    vec![
        OpCheck::new("im2col", im2col),
        OpCheck::new("col2im", col2im),
        OpCheck::new("conv2d", conv2d),
        OpCheck::new("conv_transpose2d", conv_transpose2d),
    ]
}
