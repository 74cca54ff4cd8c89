//! Plans of 2-D convolution's windows over NCHW images: im2col and col2im (its adjoint), and
//! the convolutions' options. `conv2d.rs` has the plans of the convolutions that compose them
//! with matrix products.
//!
//! im2col of `x` `[N, C, H, W]` is `[N, C·KH·KW, OH·OW]`: row `(c, kh, kw)` (row-major), column
//! `(oh, ow)` holds `x[n, c, oh·sh - ph + kh·dh, ow·sw - pw + kw·dw]`, or 0 where that lies in
//! the zero padding. col2im sums every column entry back onto the pixel it came from.

use super::{require_float, Arg};
use crate::Result;
use tessera_core::{DType, Error, Layout, Shape};

/// Stride, zero padding, dilation and groups of a 2-D convolution (PyTorch's `Conv2d` options),
/// each `[height, width]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Conv2dSpec {
    /// Step of the window, at least 1.
    pub stride: [usize; 2],
    /// Zeros added on both sides.
    pub padding: [usize; 2],
    /// Spacing of the kernel's taps, at least 1.
    pub dilation: [usize; 2],
    /// Channel groups: each sees `C / groups` input channels and makes `OC / groups` outputs.
    pub groups: usize,
}

impl Default for Conv2dSpec {
    /// Stride 1, no padding, dilation 1, one group.
    fn default() -> Self {
        Conv2dSpec { stride: [1, 1], padding: [0, 0], dilation: [1, 1], groups: 1 }
    }
}

impl Conv2dSpec {
    /// The window of im2col for a kernel of `kernel` with this spec's stride, padding and
    /// dilation.
    pub fn window(&self, kernel: [usize; 2]) -> Im2ColSpec {
        Im2ColSpec { kernel, stride: self.stride, padding: self.padding, dilation: self.dilation }
    }
}

/// Options of a transposed 2-D convolution (PyTorch's `ConvTranspose2d`), each `[height, width]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConvTranspose2dSpec {
    /// Step of the window of the convolution this one transposes, at least 1.
    pub stride: [usize; 2],
    /// Padding of that convolution: rows and columns cut from both sides of the output.
    pub padding: [usize; 2],
    /// Rows and columns added at the bottom and right of the output; smaller than the stride
    /// or the dilation.
    pub output_padding: [usize; 2],
    /// Spacing of the kernel's taps, at least 1.
    pub dilation: [usize; 2],
    /// Channel groups, as for [`Conv2dSpec`].
    pub groups: usize,
}

impl Default for ConvTranspose2dSpec {
    /// Stride 1, no padding, no output padding, dilation 1, one group.
    fn default() -> Self {
        ConvTranspose2dSpec { stride: [1, 1], padding: [0, 0], output_padding: [0, 0], dilation: [1, 1], groups: 1 }
    }
}

impl ConvTranspose2dSpec {
    /// The window of col2im (over the output image) for a kernel of `kernel`.
    pub fn window(&self, kernel: [usize; 2]) -> Im2ColSpec {
        Im2ColSpec { kernel, stride: self.stride, padding: self.padding, dilation: self.dilation }
    }
}

/// The sliding window of im2col and col2im: kernel size, stride, zero padding and dilation, each
/// `[height, width]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Im2ColSpec {
    /// Kernel height and width, at least 1.
    pub kernel: [usize; 2],
    /// Step of the window, at least 1.
    pub stride: [usize; 2],
    /// Zeros around the image.
    pub padding: [usize; 2],
    /// Spacing of the kernel's taps, at least 1.
    pub dilation: [usize; 2],
}

/// A checked window over a batch of images: every size both halves index with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConvWindow {
    /// Images in the batch (`N`).
    pub batch: usize,
    /// Channels per image (`C`).
    pub channels: usize,
    /// Image height and width (`H`, `W`).
    pub image: [usize; 2],
    /// The window.
    pub spec: Im2ColSpec,
    /// Window positions down and across (`OH`, `OW`).
    pub out: [usize; 2],
}

impl ConvWindow {
    /// Checks `spec` over `batch` images of `channels` × `image`; `shape` is the operand named
    /// in errors.
    pub fn new(
        op: &'static str,
        shape: &Shape,
        batch: usize,
        channels: usize,
        image: [usize; 2],
        spec: Im2ColSpec,
    ) -> Result<Self> {
        let bad = |msg: String| -> crate::Error { Error::InvalidArgument { op, msg }.into() };
        let Im2ColSpec { kernel, stride, padding, dilation } = spec;
        if kernel.contains(&0) || stride.contains(&0) || dilation.contains(&0) {
            return Err(bad(format!(
                "kernel {kernel:?}, stride {stride:?} and dilation {dilation:?} must all be at least 1 (input {shape})"
            )));
        }
        let mut out = [0; 2];
        for a in 0..2 {
            let span = dilation[a].saturating_mul(kernel[a] - 1).saturating_add(1);
            let padded = image[a].saturating_add(padding[a].saturating_mul(2));
            if span > padded {
                return Err(bad(format!(
                    "kernel {}x{} (dilation {:?}) spans {span} {}, more than the padded input's {padded} (input {shape}, padding {padding:?})",
                    kernel[0],
                    kernel[1],
                    dilation,
                    ["rows", "columns"][a]
                )));
            }
            out[a] = (padded - span) / stride[a] + 1;
            // Every offset a window reads from, and every padded position, must fit an i64: the
            // CUDA kernels compute them in 64 bits (as PyTorch, whose sizes are i64, does).
            let (o, k) = (out[a] as i128 - 1, kernel[a] as i128 - 1);
            let reach = o.saturating_mul(stride[a] as i128).saturating_add(k.saturating_mul(dilation[a] as i128));
            if reach > i64::MAX as i128 || padding[a] as i128 + image[a] as i128 > i64::MAX as i128 {
                return Err(bad(format!(
                    "stride {stride:?}, padding {padding:?} and dilation {dilation:?} reach offsets past 2^63 - 1 (input {shape})"
                )));
            }
        }
        let w = ConvWindow { batch, channels, image, spec, out };
        // Every size the kernels multiply must fit, counting empty dims as 1: an empty batch
        // (`[0, 1, 2^40, 2^40]`) would otherwise let its planes overflow.
        let fits = |sizes: &[usize]| {
            sizes.iter().try_fold(1usize, |a, &b| a.checked_mul(b.max(1))).is_some_and(|n| n <= isize::MAX as usize)
        };
        if !fits(&[batch, channels, image[0], image[1]]) {
            let [h, w] = image;
            return Err(bad(format!("{batch} x {channels} images of {h}x{w} pixels are more than a buffer holds")));
        }
        if !fits(&[batch, channels, kernel[0], kernel[1], out[0], out[1]]) {
            return Err(bad(format!("the im2col matrix of input {shape} with kernel {kernel:?} is too large")));
        }
        Ok(w)
    }

    /// Whether im2col is a reshape here (a 1x1 kernel at stride 1 without padding): the columns
    /// are the images themselves, `[N, C, H·W]`.
    pub fn is_identity(&self) -> bool {
        self.spec.kernel == [1, 1] && self.spec.stride == [1, 1] && self.spec.padding == [0, 0]
    }

    /// Taps per channel, `KH·KW`.
    pub fn taps(&self) -> usize {
        self.spec.kernel[0] * self.spec.kernel[1]
    }

    /// Window positions per image, `OH·OW`.
    pub fn positions(&self) -> usize {
        self.out[0] * self.out[1]
    }

    /// The image shape `[N, C, H, W]`.
    pub fn image_shape(&self) -> Shape {
        Shape::new(vec![self.batch, self.channels, self.image[0], self.image[1]])
    }

    /// The im2col matrix's shape `[N, C·KH·KW, OH·OW]`.
    pub fn col_shape(&self) -> Shape {
        Shape::new(vec![self.batch, self.channels * self.taps(), self.positions()])
    }

    /// Along `axis` (0 rows, 1 columns), for kernel tap `k`: the positions `o` whose input index
    /// `o·stride - padding + k·dilation` lies inside the image, as `lo..hi`, and that index at
    /// `o = 0` (negative inside the padding). In i128, where strides, paddings and dilations
    /// near usize::MAX cannot overflow; `first` can lie below `isize::MIN` even when the range is
    /// not empty (a padding of 2^64 - 2 reached at `o = 2` by a stride of 2^63 - 1).
    pub fn valid(&self, axis: usize, k: usize) -> (usize, usize, i128) {
        let (s, n, o) = (self.spec.stride[axis] as i128, self.image[axis] as i128, self.out[axis] as i128);
        let first = k as i128 * self.spec.dilation[axis] as i128 - self.spec.padding[axis] as i128;
        // o·s + first >= 0 and o·s + first < n.
        let lo = if first >= 0 { 0 } else { (-first + s - 1) / s };
        let hi = if n - first <= 0 { 0 } else { (n - first + s - 1) / s };
        let (lo, hi) = (lo.min(o), hi.clamp(0, o));
        (lo as usize, hi.max(lo) as usize, first)
    }
}

/// Reads `[N, C, H, W]` from the dims of a rank-4 operand, or errors naming `op`.
pub(super) fn nchw(op: &'static str, what: &str, layout: &Layout) -> Result<[usize; 4]> {
    match *layout.dims() {
        [n, c, h, w] => Ok([n, c, h, w]),
        _ => Err(Error::InvalidArgument { op, msg: format!("expects {what}, got shape {}", layout.shape()) }.into()),
    }
}

/// A checked im2col of `x` `[N, C, H, W]` (any view) into `[N, C·KH·KW, OH·OW]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Im2ColPlan {
    /// The dtype of input and output.
    pub dtype: DType,
    /// The input's view.
    pub x: Layout,
    /// The window.
    pub window: ConvWindow,
    /// `[N, C·KH·KW, OH·OW]`.
    pub out_shape: Shape,
}

impl Im2ColPlan {
    /// Checks the window `spec` over `x`.
    pub fn new(x: Arg<'_>, spec: &Im2ColSpec) -> Result<Self> {
        const OP: &str = "im2col";
        require_float(OP, x.dtype)?;
        let [n, c, h, w] = nchw(OP, "an image batch [N, C, H, W]", x.layout)?;
        let window = ConvWindow::new(OP, x.layout.shape(), n, c, [h, w], *spec)?;
        Ok(Im2ColPlan { dtype: x.dtype, x: x.layout.clone(), out_shape: window.col_shape(), window })
    }
}

/// A checked col2im: `col` `[N, C·KH·KW, OH·OW]` (any view) summed back onto images
/// `[N, C, H, W]` of the given size, the adjoint of im2col.
#[derive(Debug, Clone, PartialEq)]
pub struct Col2ImPlan {
    /// The dtype of input and output.
    pub dtype: DType,
    /// The columns' view.
    pub col: Layout,
    /// The window.
    pub window: ConvWindow,
    /// `[N, C, H, W]`.
    pub out_shape: Shape,
}

impl Col2ImPlan {
    /// Checks `col` against the window `spec` over images of `image` = `[H, W]`.
    pub fn new(col: Arg<'_>, spec: &Im2ColSpec, image: [usize; 2]) -> Result<Self> {
        const OP: &str = "col2im";
        require_float(OP, col.dtype)?;
        let shape = col.layout.shape();
        let &[n, rows, positions] = col.layout.dims() else {
            let msg = format!("expects columns [N, C·KH·KW, OH·OW], got shape {shape}");
            return Err(Error::InvalidArgument { op: OP, msg }.into());
        };
        let taps = spec.kernel[0].saturating_mul(spec.kernel[1]).max(1);
        let window = ConvWindow::new(OP, shape, n, rows / taps, image, *spec)?;
        if rows % taps != 0 || positions != window.positions() {
            let msg = format!(
                "columns of shape {shape} do not fit a {}x{} kernel over {}x{} images: expected [{n}, C·{taps}, {}]",
                spec.kernel[0],
                spec.kernel[1],
                image[0],
                image[1],
                window.positions()
            );
            return Err(Error::InvalidArgument { op: OP, msg }.into());
        }
        Ok(Col2ImPlan { dtype: col.dtype, col: col.layout.clone(), out_shape: window.image_shape(), window })
    }
}
