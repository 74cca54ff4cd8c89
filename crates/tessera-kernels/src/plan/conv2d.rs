//! Plans of `conv2d`, of its two gradients (which `conv_transpose2d` and the backward rules
//! reuse) and of `conv_transpose2d`: the shapes, groups and options checked once, and the im2col
//! window they compose with batched matrix products.

use super::conv::{nchw, Conv2dSpec, ConvTranspose2dSpec, ConvWindow};
use super::{require_float, require_same_dtype, Arg};
use crate::Result;
use tessera_core::{DType, Error, Layout, Shape};

/// Splits an input `[N, C, H, W]` or unbatched `[C, H, W]` into `(batched, [N, C, H, W])`.
fn image_input(op: &'static str, x: &Layout) -> Result<(bool, [usize; 4])> {
    match *x.dims() {
        [n, c, h, w] => Ok((true, [n, c, h, w])),
        [c, h, w] => Ok((false, [1, c, h, w])),
        _ => {
            let msg = format!("expects an input [N, C, H, W] or [C, H, W], got shape {}", x.shape());
            Err(Error::InvalidArgument { op, msg }.into())
        }
    }
}

/// Checks one float dtype for every operand and at least one group.
fn check_dtypes(op: &'static str, args: &[Option<Arg<'_>>], groups: usize) -> Result<()> {
    let dtypes: Vec<DType> = args.iter().flatten().map(|a| a.dtype).collect();
    require_same_dtype(op, &dtypes)?;
    require_float(op, dtypes[0])?;
    if groups == 0 {
        return Err(Error::InvalidArgument { op, msg: "groups must be at least 1".into() }.into());
    }
    Ok(())
}

/// The error for a bias that is not `[channels]`.
fn check_bias(op: &'static str, bias: Option<Arg<'_>>, channels: usize, weight: &Layout) -> Result<()> {
    match bias {
        Some(b) if b.layout.dims() != [channels] => {
            let msg = format!(
                "bias of shape {} does not match {channels} output channels (weight {})",
                b.layout.shape(),
                weight.shape()
            );
            Err(Error::InvalidArgument { op, msg }.into())
        }
        _ => Ok(()),
    }
}

/// Checks that `groups` divides `c` input and `oc` output channels and, when given, that a
/// weight takes `c / groups` per group.
fn check_groups(op: &'static str, c: usize, oc: usize, per_group: Option<usize>, g: usize, shapes: &str) -> Result<()> {
    if !c.is_multiple_of(g) || !oc.is_multiple_of(g) || per_group.is_some_and(|cg| cg.checked_mul(g) != Some(c)) {
        let msg = format!(
            "{shapes}: {c} input and {oc} output channels in {g} groups (groups must divide both, and the \
             weight's dim 1 must be C / groups)"
        );
        return Err(Error::InvalidArgument { op, msg }.into());
    }
    Ok(())
}

/// The error for an output gradient whose positions are not the window's.
fn check_positions(op: &'static str, window: &ConvWindow, dy: &Layout) -> Result<()> {
    if dy.dims()[2..] != window.out {
        let msg = format!(
            "output gradient {} does not match the {:?} positions of a {:?} kernel over {:?} images ({:?})",
            dy.shape(),
            window.out,
            window.spec.kernel,
            window.image,
            window.spec
        );
        return Err(Error::InvalidArgument { op, msg }.into());
    }
    Ok(())
}

/// Which of the three computations a [`Conv2dPlan`] checked, with its operands' views (images
/// always batched: an unbatched input is viewed with a leading dim of 1).
#[derive(Debug, Clone, PartialEq)]
pub enum Conv2dOperands {
    /// `conv2d`: images, weight and optional bias.
    Forward {
        /// The images `[N, C, H, W]`.
        x: Layout,
        /// The weight `[OC, C / groups, KH, KW]`.
        weight: Layout,
        /// The bias `[OC]`.
        bias: Option<Layout>,
    },
    /// `conv2d_input_grad`: the output's gradient and the weight.
    InputGrad {
        /// The output's gradient `[N, OC, OH, OW]`.
        dy: Layout,
        /// The weight.
        weight: Layout,
    },
    /// `conv2d_weight_grad`: the images and the output's gradient.
    WeightGrad {
        /// The images.
        x: Layout,
        /// The output's gradient.
        dy: Layout,
    },
}

/// A checked 2-D convolution, or one of its gradients: images `x` `[N, C, H, W]`, a weight
/// `[OC, C / groups, KH, KW]` and outputs `[N, OC, OH, OW]`, related by im2col's window over
/// `x`.
#[derive(Debug, Clone, PartialEq)]
pub struct Conv2dPlan {
    /// The dtype of every operand and of the result.
    pub dtype: DType,
    /// What is computed, from which views.
    pub operands: Conv2dOperands,
    /// Whether the images have a batch dim (only the forward accepts unbatched `[C, H, W]`).
    pub batched: bool,
    /// The im2col window over the (batched) images.
    pub window: ConvWindow,
    /// Output channels (`OC`).
    pub out_channels: usize,
    /// Channel groups.
    pub groups: usize,
    /// What the op returns: the output `[N, OC, OH, OW]` (or `[OC, OH, OW]`), the images'
    /// gradient `[N, C, H, W]`, or the weight's gradient `[OC, C / groups, KH, KW]`.
    pub out_shape: Shape,
}

impl Conv2dPlan {
    /// Checks `conv2d` of `x` `[N, C, H, W]` (or `[C, H, W]`) by `weight` (+ `bias` `[OC]`).
    pub fn new(x: Arg<'_>, weight: Arg<'_>, bias: Option<Arg<'_>>, spec: &Conv2dSpec) -> Result<Self> {
        const OP: &str = "conv2d";
        check_dtypes(OP, &[Some(x), Some(weight), bias], spec.groups)?;
        let [oc, cg, kh, kw] = nchw(OP, "a weight [OC, C / groups, KH, KW]", weight.layout)?;
        let (batched, [n, c, h, w]) = image_input(OP, x.layout)?;
        let shapes = format!("input {} and weight {}", x.layout.shape(), weight.layout.shape());
        check_groups(OP, c, oc, Some(cg), spec.groups, &shapes)?;
        check_bias(OP, bias, oc, weight.layout)?;
        let window = ConvWindow::new(OP, x.layout.shape(), n, c, [h, w], spec.window([kh, kw]))?;
        let [oh, ow] = window.out;
        let out_shape = Shape::new(if batched { vec![n, oc, oh, ow] } else { vec![oc, oh, ow] });
        let xl = if batched { x.layout.clone() } else { x.layout.unsqueeze(0)? };
        let operands =
            Conv2dOperands::Forward { x: xl, weight: weight.layout.clone(), bias: bias.map(|b| b.layout.clone()) };
        Ok(Conv2dPlan { dtype: x.dtype, operands, batched, window, out_channels: oc, groups: spec.groups, out_shape })
    }

    /// Checks the images' gradient of `conv2d` (`conv2d_input_grad`): from the output's gradient
    /// `dy` `[N, OC, OH, OW]` and the `weight`, onto images of size `image` = `[H, W]`.
    pub fn input_grad(dy: Arg<'_>, weight: Arg<'_>, spec: &Conv2dSpec, image: [usize; 2]) -> Result<Self> {
        const OP: &str = "conv2d_input_grad";
        check_dtypes(OP, &[Some(dy), Some(weight)], spec.groups)?;
        let [oc, cg, kh, kw] = nchw(OP, "a weight [OC, C / groups, KH, KW]", weight.layout)?;
        let [n, doc, _, _] = nchw(OP, "an output gradient [N, OC, OH, OW]", dy.layout)?;
        let shapes = format!("output gradient {} and weight {}", dy.layout.shape(), weight.layout.shape());
        let c = cg.saturating_mul(spec.groups);
        check_groups(OP, c, oc, None, spec.groups, &shapes)?;
        if doc != oc {
            return Err(Error::InvalidArgument { op: OP, msg: format!("{shapes}: channel counts differ") }.into());
        }
        let window = ConvWindow::new(OP, dy.layout.shape(), n, c, image, spec.window([kh, kw]))?;
        check_positions(OP, &window, dy.layout)?;
        let out_shape = window.image_shape();
        let operands = Conv2dOperands::InputGrad { dy: dy.layout.clone(), weight: weight.layout.clone() };
        Ok(Conv2dPlan {
            dtype: dy.dtype,
            operands,
            batched: true,
            window,
            out_channels: oc,
            groups: spec.groups,
            out_shape,
        })
    }

    /// Checks the weight's gradient of `conv2d` (`conv2d_weight_grad`): from the images `x`
    /// `[N, C, H, W]` and the output's gradient `dy` `[N, OC, OH, OW]`, for a kernel of `kernel`.
    pub fn weight_grad(x: Arg<'_>, dy: Arg<'_>, spec: &Conv2dSpec, kernel: [usize; 2]) -> Result<Self> {
        const OP: &str = "conv2d_weight_grad";
        check_dtypes(OP, &[Some(x), Some(dy)], spec.groups)?;
        let [n, c, h, w] = nchw(OP, "images [N, C, H, W]", x.layout)?;
        let [dn, oc, _, _] = nchw(OP, "an output gradient [N, OC, OH, OW]", dy.layout)?;
        let shapes = format!("images {} and output gradient {}", x.layout.shape(), dy.layout.shape());
        check_groups(OP, c, oc, None, spec.groups, &shapes)?;
        if dn != n {
            return Err(Error::InvalidArgument { op: OP, msg: format!("{shapes}: batch sizes differ") }.into());
        }
        let window = ConvWindow::new(OP, x.layout.shape(), n, c, [h, w], spec.window(kernel))?;
        check_positions(OP, &window, dy.layout)?;
        let out_shape = Shape::new(vec![oc, c / spec.groups, kernel[0], kernel[1]]);
        let operands = Conv2dOperands::WeightGrad { x: x.layout.clone(), dy: dy.layout.clone() };
        Ok(Conv2dPlan {
            dtype: x.dtype,
            operands,
            batched: true,
            window,
            out_channels: oc,
            groups: spec.groups,
            out_shape,
        })
    }

    /// Input channels per group (`C / groups`).
    pub fn channels_per_group(&self) -> usize {
        self.window.channels / self.groups
    }

    /// Output channels per group (`OC / groups`).
    pub fn out_channels_per_group(&self) -> usize {
        self.out_channels / self.groups
    }

    /// Rows of a group's im2col columns (`C / groups · KH · KW`).
    pub fn taps_per_group(&self) -> usize {
        self.channels_per_group() * self.window.taps()
    }
}

/// A checked transposed 2-D convolution: `x` `[N, C, H, W]` (or `[C, H, W]`), `weight`
/// `[C, OC / groups, KH, KW]` (PyTorch's layout), optional `bias` `[OC]`. The output is
/// `[N, OC, HO, WO]` with `HO = (H - 1)·stride - 2·padding + dilation·(KH - 1) + output_padding + 1`:
/// the images' gradient of the `conv2d` with `spec`'s stride, padding, dilation and groups that
/// maps `[N, OC, HO, WO]` to `[N, C, H + extra, W + extra]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ConvTranspose2dPlan {
    /// Whether the input has a batch dim.
    pub batched: bool,
    /// The `conv2d` this op is the images' gradient of.
    pub conv: Conv2dSpec,
    /// Output rows and columns `[HO, WO]`.
    pub image: [usize; 2],
    /// Zero rows and columns appended to the input, where the output padding reaches a whole
    /// stride (only possible when the dilation exceeds the stride).
    pub extra: [usize; 2],
    /// `[N, OC, HO, WO]`, or `[OC, HO, WO]` unbatched.
    pub out_shape: Shape,
}

impl ConvTranspose2dPlan {
    /// Checks a transposed convolution of `x` by `weight` (+ `bias`) with `spec`.
    pub fn new(x: Arg<'_>, weight: Arg<'_>, bias: Option<Arg<'_>>, spec: &ConvTranspose2dSpec) -> Result<Self> {
        const OP: &str = "conv_transpose2d";
        let bad = |msg: String| -> crate::Error { Error::InvalidArgument { op: OP, msg }.into() };
        check_dtypes(OP, &[Some(x), Some(weight), bias], spec.groups)?;
        let [wc, ocg, kh, kw] = nchw(OP, "a weight [C, OC / groups, KH, KW]", weight.layout)?;
        let (batched, [n, c, h, w]) = image_input(OP, x.layout)?;
        let (g, shape) = (spec.groups, x.layout.shape());
        if wc != c || c % g != 0 {
            return Err(bad(format!(
                "input {shape} has {c} channels, weight {} expects {wc}, in {g} groups (groups must divide them)",
                weight.layout.shape()
            )));
        }
        let Some(oc) = ocg.checked_mul(g) else {
            return Err(bad(format!("weight {} with {g} groups has too many output channels", weight.layout.shape())));
        };
        check_bias(OP, bias, oc, weight.layout)?;
        let ConvTranspose2dSpec { stride, padding, output_padding, dilation, .. } = *spec;
        if stride.contains(&0) || dilation.contains(&0) || [kh, kw].contains(&0) {
            return Err(bad(format!(
                "kernel {kh}x{kw}, stride {stride:?} and dilation {dilation:?} must all be at least 1 (input {shape})"
            )));
        }
        let mut image = [0; 2];
        for a in 0..2 {
            if output_padding[a] >= stride[a] && output_padding[a] >= dilation[a] {
                return Err(bad(format!(
                    "output_padding {output_padding:?} must be smaller than either the stride {stride:?} or the \
                     dilation {dilation:?}"
                )));
            }
            let size = [h, w][a];
            let full = (size.max(1) - 1)
                .checked_mul(stride[a])
                .and_then(|v| v.checked_add(dilation[a].checked_mul([kh, kw][a] - 1)?))
                .and_then(|v| v.checked_add(output_padding[a] + 1));
            let both_sides = padding[a].saturating_mul(2);
            match full {
                Some(full) if size > 0 && full > both_sides => image[a] = full - both_sides,
                _ => {
                    return Err(bad(format!(
                        "input {shape} with kernel {kh}x{kw}, {spec:?} gives no output rows or columns"
                    )))
                }
            }
        }
        let conv = Conv2dSpec { stride, padding, dilation, groups: g };
        let window = ConvWindow::new(OP, shape, n, oc, image, conv.window([kh, kw]))?;
        let extra = [window.out[0] - h, window.out[1] - w];
        let out_shape =
            Shape::new(if batched { vec![n, oc, image[0], image[1]] } else { vec![oc, image[0], image[1]] });
        out_shape.countable(OP, x.dtype)?;
        Ok(ConvTranspose2dPlan { batched, conv, image, extra, out_shape })
    }
}
