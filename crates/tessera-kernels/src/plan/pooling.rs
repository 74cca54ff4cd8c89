//! Plans of 2-d pooling over the last two dims of `[N, C, H, W]` or `[C, H, W]` inputs: max
//! pooling (with the argmax of each window), average pooling and adaptive average pooling, and
//! their backward. All three describe their windows the same way, one [`PoolAxis`] per spatial
//! dim, so both device halves share one definition of which input positions a window reads.

use super::pool_axis::{PoolAxis, Window};
use super::{require_float, require_same_dtype, Arg};
use crate::Result;
use tessera_core::{saturating_product, DType, Error, Layout, Shape};

/// Builder methods: `spec.stride([1, 1])` is the spec with another stride, and so on.
macro_rules! setters {
    ($t:ident { $($field:ident: $ty:ty),* $(,)? }) => {
        impl $t {
            $(
                #[doc = concat!("The same spec with another `", stringify!($field), "`.")]
                pub fn $field(mut self, $field: $ty) -> Self {
                    self.$field = $field;
                    self
                }
            )*
        }
    };
}

/// Max pooling's arguments, with PyTorch's meaning and defaults (`torch.nn.MaxPool2d`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MaxPool2dSpec {
    /// Window size `[kh, kw]`.
    pub kernel: [usize; 2],
    /// Step between windows (PyTorch's default: the kernel).
    pub stride: [usize; 2],
    /// Implicit `-inf` padding on each side, at most half the kernel.
    pub padding: [usize; 2],
    /// Spacing between the taps of a window (1: adjacent).
    pub dilation: [usize; 2],
    /// Round the output size up instead of down (a last, partial window).
    pub ceil_mode: bool,
}

impl MaxPool2dSpec {
    /// A `kernel` window with PyTorch's defaults: stride = kernel, no padding, dilation 1,
    /// floor mode.
    pub fn new(kernel: [usize; 2]) -> Self {
        MaxPool2dSpec { kernel, stride: kernel, padding: [0, 0], dilation: [1, 1], ceil_mode: false }
    }
}

setters!(MaxPool2dSpec { stride: [usize; 2], padding: [usize; 2], dilation: [usize; 2], ceil_mode: bool });

/// Average pooling's arguments, with PyTorch's meaning and defaults (`torch.nn.AvgPool2d`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AvgPool2dSpec {
    /// Window size `[kh, kw]`.
    pub kernel: [usize; 2],
    /// Step between windows (PyTorch's default: the kernel).
    pub stride: [usize; 2],
    /// Implicit zero padding on each side, at most half the kernel.
    pub padding: [usize; 2],
    /// Round the output size up instead of down (a last, partial window).
    pub ceil_mode: bool,
    /// Whether the padding counts in the divisor (PyTorch's default: yes).
    pub count_include_pad: bool,
    /// Divide every window's sum by this instead (must be positive).
    pub divisor_override: Option<usize>,
}

impl AvgPool2dSpec {
    /// A `kernel` window with PyTorch's defaults: stride = kernel, no padding, floor mode,
    /// padding counted, no divisor override.
    pub fn new(kernel: [usize; 2]) -> Self {
        AvgPool2dSpec {
            kernel,
            stride: kernel,
            padding: [0, 0],
            ceil_mode: false,
            count_include_pad: true,
            divisor_override: None,
        }
    }
}

setters!(AvgPool2dSpec {
    stride: [usize; 2],
    padding: [usize; 2],
    ceil_mode: bool,
    count_include_pad: bool,
    divisor_override: Option<usize>,
});

/// Which pooling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PoolKind {
    /// The maximum of each window, and its position.
    Max(MaxPool2dSpec),
    /// The mean of each window.
    Avg(AvgPool2dSpec),
    /// The mean of each of `[oh, ow]` windows that tile the input (PyTorch's
    /// `adaptive_avg_pool2d`: rows `floor(i·H/oh)..ceil((i+1)·H/oh)`).
    AdaptiveAvg([usize; 2]),
}

impl PoolKind {
    /// The op's name (`max_pool2d`, `avg_pool2d`, `adaptive_avg_pool2d`).
    pub fn name(&self) -> &'static str {
        match self {
            PoolKind::Max(_) => "max_pool2d",
            PoolKind::Avg(_) => "avg_pool2d",
            PoolKind::AdaptiveAvg(_) => "adaptive_avg_pool2d",
        }
    }

    /// The backward op's name.
    pub fn backward_name(&self) -> &'static str {
        match self {
            PoolKind::Max(_) => "max_pool2d_backward",
            PoolKind::Avg(_) => "avg_pool2d_backward",
            PoolKind::AdaptiveAvg(_) => "adaptive_avg_pool2d_backward",
        }
    }
}

/// A checked pooling of the last two dims of `x`: `planes` independent `[H, W]` planes (every
/// leading dim merged), each giving an `[oh, ow]` plane.
#[derive(Debug, Clone, PartialEq)]
pub struct PoolPlan {
    /// Which pooling, with its arguments.
    pub kind: PoolKind,
    /// The dtype of input and output.
    pub dtype: DType,
    /// Planes pooled (N·C, or C).
    pub planes: usize,
    /// The windows along H and along W.
    pub axes: [PoolAxis; 2],
    /// The input's view.
    pub x: Layout,
    /// The output's shape: the leading dims and `[oh, ow]`.
    pub out_shape: Shape,
}

fn invalid(op: &'static str, msg: String) -> crate::Error {
    Error::InvalidArgument { op, msg }.into()
}

impl PoolPlan {
    /// Checks `kind` over `x`, `[N, C, H, W]` or `[C, H, W]`.
    pub fn new(kind: PoolKind, x: Arg<'_>) -> Result<Self> {
        let op = kind.name();
        let shape = x.layout.shape();
        let dims = x.layout.dims();
        if !(3..=4).contains(&dims.len()) {
            return Err(invalid(op, format!("expects an [N, C, H, W] or [C, H, W] input, got shape {shape}")));
        }
        require_float(op, x.dtype)?;
        let (lead, hw) = dims.split_at(dims.len() - 2);
        if hw.contains(&0) {
            return Err(invalid(op, format!("input {shape} has an empty spatial dim")));
        }
        let axes = match kind {
            PoolKind::Max(s) => {
                let what = (s.kernel, s.stride, s.padding, s.dilation, s.ceil_mode);
                Self::pooled_axes(op, shape, hw, what)?
            }
            PoolKind::Avg(s) => {
                if s.divisor_override == Some(0) {
                    return Err(invalid(op, "divisor_override must be positive, got 0".into()));
                }
                Self::pooled_axes(op, shape, hw, (s.kernel, s.stride, s.padding, [1, 1], s.ceil_mode))?
            }
            PoolKind::AdaptiveAvg(out) => [0, 1].map(|i| PoolAxis {
                input: hw[i],
                output: out[i],
                kernel: 0,
                stride: 1,
                padding: 0,
                dilation: 1,
                adaptive: true,
            }),
        };
        let mut out_dims = lead.to_vec();
        out_dims.extend([axes[0].output, axes[1].output]);
        // An adaptive pooling's output size is the caller's: it may be any size, but not one
        // that no buffer can hold.
        let out_shape = Shape::new(out_dims);
        if out_shape.countable(op, x.dtype).is_err() {
            let msg = format!("the output {:?} of input {shape} is too large for any buffer", out_shape.dims());
            return Err(invalid(op, msg));
        }
        Ok(PoolPlan {
            kind,
            dtype: x.dtype,
            planes: saturating_product(lead.iter().copied()),
            axes,
            x: x.layout.clone(),
            out_shape,
        })
    }

    /// The axes of a max or average pooling, after checking its arguments against the input.
    fn pooled_axes(
        op: &'static str,
        shape: &Shape,
        hw: &[usize],
        (kernel, stride, padding, dilation, ceil): ([usize; 2], [usize; 2], [usize; 2], [usize; 2], bool),
    ) -> Result<[PoolAxis; 2]> {
        for (what, v) in [("kernel", kernel), ("stride", stride), ("dilation", dilation)] {
            if v.contains(&0) {
                return Err(invalid(op, format!("{what} {v:?} must be positive")));
            }
        }
        if padding[0] > kernel[0] / 2 || padding[1] > kernel[1] / 2 {
            return Err(invalid(op, format!("padding {padding:?} must be at most half the kernel {kernel:?}")));
        }
        // Windows are placed in i64 arithmetic (they start in the left padding), as PyTorch's are.
        if (0..2).any(|i| hw[i] as u128 + 2 * padding[i] as u128 > i64::MAX as u128) {
            return Err(invalid(op, format!("padding {padding:?} is too large for input {shape}")));
        }
        let mut axes =
            [PoolAxis { input: 0, output: 0, kernel: 0, stride: 1, padding: 0, dilation: 1, adaptive: false }; 2];
        for i in 0..2 {
            let output = PoolAxis::pooled_len(hw[i], kernel[i], stride[i], padding[i], dilation[i], ceil);
            let Some(output) = output else {
                let msg = format!(
                    "the kernel {kernel:?} (dilation {dilation:?}) is larger than the padded input: input {shape}, \
                     padding {padding:?}"
                );
                return Err(invalid(op, msg));
            };
            let axis = PoolAxis {
                input: hw[i],
                output,
                kernel: kernel[i],
                stride: stride[i],
                padding: padding[i],
                dilation: dilation[i],
                adaptive: false,
            };
            // Windows whose taps all miss the input are a run at the start (taps all left of it)
            // or at the end (all right of it): a window whose taps straddle the input without
            // touching it needs a kernel of 2 taps more than the input apart, which padding of at
            // most half the kernel allows only as the one window. So the two end windows decide,
            // and an axis of 2^40 outputs is not walked window by window.
            if let Some(o) = [0, output - 1].into_iter().find(|&o| axis.window(o).count == 0) {
                let msg = format!(
                    "window {o} of spatial dim {i} covers only padding: input {shape}, kernel {kernel:?}, padding \
                     {padding:?}, dilation {dilation:?}"
                );
                return Err(invalid(op, msg));
            }
            axes[i] = axis;
        }
        Ok(axes)
    }

    /// Input elements per plane (saturating: the planes of an input with no planes, such as
    /// `[0, 2^33, 2^40]`, may be larger than a usize counts, and none is read).
    pub fn plane_in(&self) -> usize {
        self.axes[0].input.saturating_mul(self.axes[1].input)
    }

    /// Output elements per plane (saturating, as [`plane_in`](Self::plane_in)).
    pub fn plane_out(&self) -> usize {
        self.axes[0].output.saturating_mul(self.axes[1].output)
    }

    /// What an average pooling divides the sum of the window `(wh, ww)` by.
    pub fn divisor(&self, wh: &Window, ww: &Window) -> f64 {
        match self.kind {
            PoolKind::Avg(AvgPool2dSpec { divisor_override: Some(d), .. }) => d as f64,
            // In f64: padding can make a window's padded area more than a usize counts.
            PoolKind::Avg(AvgPool2dSpec { count_include_pad: true, .. }) => wh.padded as f64 * ww.padded as f64,
            _ => wh.count as f64 * ww.count as f64,
        }
    }

    /// The parameters the kernels take for one axis: input, output, kernel, stride, padding,
    /// dilation (kernel 0 marks an adaptive axis).
    pub fn axis_args(&self, i: usize) -> [u64; 6] {
        let a = &self.axes[i];
        let kernel = if a.adaptive { 0 } else { a.kernel };
        [a.input, a.output, kernel, a.stride, a.padding, a.dilation].map(|v| v as u64)
    }
}

/// A checked backward of a pooling: the input's gradient from the output's gradient `dy` (and,
/// for max pooling, the forward's argmax `indices`, i64 positions within each input plane).
#[derive(Debug, Clone, PartialEq)]
pub struct PoolBackwardPlan {
    /// The forward's plan (its input layout only gives the shape).
    pub forward: PoolPlan,
    /// The output gradient's view.
    pub dy: Layout,
    /// The argmax's view (max pooling only).
    pub indices: Option<Layout>,
}

impl PoolBackwardPlan {
    /// Checks `dy` (the forward output's shape and the input's dtype) and, for max pooling, the
    /// `indices` (the same shape, i64) against `forward`.
    pub fn new(forward: PoolPlan, dy: Arg<'_>, indices: Option<Arg<'_>>) -> Result<Self> {
        let op = forward.kind.backward_name();
        if dy.layout.shape() != &forward.out_shape {
            let (lhs, rhs) = (forward.out_shape.clone(), dy.layout.shape().clone());
            return Err(Error::ShapeMismatch { op, lhs, rhs }.into());
        }
        require_same_dtype(op, &[forward.dtype, dy.dtype])?;
        match (&forward.kind, indices) {
            (PoolKind::Max(_), Some(i)) => {
                if i.layout.shape() != &forward.out_shape {
                    let (lhs, rhs) = (forward.out_shape.clone(), i.layout.shape().clone());
                    return Err(Error::ShapeMismatch { op, lhs, rhs }.into());
                }
                if i.dtype != DType::I64 {
                    let hint = " (the indices max_pool2d returns are i64)";
                    return Err(Error::UnsupportedDType { op, dtype: i.dtype, hint }.into());
                }
            }
            (PoolKind::Max(_), None) => return Err(invalid(op, "needs the forward's indices".into())),
            (_, Some(_)) => return Err(invalid(op, "takes no indices".into())),
            (_, None) => {}
        }
        Ok(PoolBackwardPlan { dy: dy.layout.clone(), indices: indices.map(|i| i.layout.clone()), forward })
    }
}
