//! `Conv2d` and `ConvTranspose2d` over NCHW images, with PyTorch's layout, names and
//! initialisation.

use crate::{init, Error, Module, Result};
use tessera_autograd::Var;
use tessera_tensor::{Conv2dSpec, ConvTranspose2dSpec, DType, Device, Generator, Tensor};

/// The sizes of a convolution layer: channels, kernel and the optional bias.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConvShape {
    /// Input channels.
    pub in_channels: usize,
    /// Output channels.
    pub out_channels: usize,
    /// Kernel height and width.
    pub kernel: [usize; 2],
    /// Whether the layer adds a bias per output channel.
    pub bias: bool,
}

impl ConvShape {
    /// `in_channels -> out_channels` with a square `kernel` and a bias (PyTorch's defaults).
    pub fn new(in_channels: usize, out_channels: usize, kernel: usize) -> ConvShape {
        ConvShape { in_channels, out_channels, kernel: [kernel, kernel], bias: true }
    }
}

/// Checks channel counts against `groups` and every size against zero, naming the layer.
fn check_shape(layer: &str, shape: &ConvShape, groups: usize) -> Result<()> {
    let ConvShape { in_channels: c, out_channels: o, kernel: [kh, kw], .. } = *shape;
    if c == 0 || o == 0 || kh == 0 || kw == 0 || groups == 0 {
        return Err(Error::Config(format!(
            "{layer}: channels {c} -> {o}, kernel {kh}x{kw} and groups {groups} must all be at least 1"
        )));
    }
    if c % groups != 0 || o % groups != 0 {
        return Err(Error::Config(format!(
            "{layer}: groups {groups} must divide both the input channels {c} and the output channels {o}"
        )));
    }
    Ok(())
}

/// PyTorch's default initialisation of a convolution's weight (Kaiming uniform with `a = √5`)
/// and bias (uniform in `±1/√fan_in`).
fn default_init(
    g: &mut Generator,
    dims: [usize; 4],
    bias: Option<usize>,
    dtype: DType,
    device: &Device,
) -> Result<(Tensor, Option<Tensor>)> {
    let weight = init::kaiming_uniform(g, 5f64.sqrt(), dims, dtype, device)?;
    let (fan_in, _) = init::fans(&dims);
    let bias = bias.map(|n| init::uniform(g, 1.0 / (fan_in.max(1) as f64).sqrt(), [n], dtype, device)).transpose()?;
    Ok((weight, bias))
}

/// The error for an input that is not `[N, C, H, W]` (or `[C, H, W]`) with the layer's channels.
fn check_input(layer: &dyn Module, channels: usize, x: &Var) -> Result<()> {
    let ok = matches!(x.dims(), [_, c, _, _] | [c, _, _] if *c == channels);
    if !ok {
        return Err(Error::BadInput {
            layer: layer.describe(),
            expected: format!("[N, {channels}, H, W]"),
            got: x.shape().clone(),
        });
    }
    Ok(())
}

/// A 2-D convolution (PyTorch's `Conv2d`): `weight` `[out, in / groups, kh, kw]`, `bias`
/// `[out]`, zero padding. Accepts `[N, C, H, W]` and unbatched `[C, H, W]` inputs.
///
/// ```
/// use tessera_autograd::Var;
/// use tessera_nn::{Conv2d, ConvShape, Module};
/// use tessera_tensor::{Conv2dSpec, DType, Device, Generator, Tensor};
/// let conv = Conv2d::new(&mut Generator::new(0), ConvShape::new(1, 4, 3), Conv2dSpec::default(), DType::F32, &Device::Cpu)?;
/// let y = conv.forward(&Var::constant(Tensor::zeros([2, 1, 28, 28], DType::F32, &Device::Cpu)?))?;
/// assert_eq!(y.dims(), [2, 4, 26, 26]);
/// # Ok::<(), tessera_nn::Error>(())
/// ```
#[derive(Module)]
pub struct Conv2d {
    weight: Var,
    bias: Option<Var>,
    #[module(skip)]
    spec: Conv2dSpec,
}

impl Conv2d {
    /// A layer of `shape` with PyTorch's default initialisation.
    pub fn new(g: &mut Generator, shape: ConvShape, spec: Conv2dSpec, dtype: DType, device: &Device) -> Result<Conv2d> {
        check_shape("Conv2d", &shape, spec.groups)?;
        let [kh, kw] = shape.kernel;
        let dims = [shape.out_channels, shape.in_channels / spec.groups, kh, kw];
        let (weight, bias) = default_init(g, dims, shape.bias.then_some(shape.out_channels), dtype, device)?;
        Conv2d::from_tensors(weight, bias, spec)
    }

    /// A layer with the given weight `[out, in / groups, kh, kw]` and optional bias `[out]`.
    pub fn from_tensors(weight: Tensor, bias: Option<Tensor>, spec: Conv2dSpec) -> Result<Conv2d> {
        let ok = weight.rank() == 4 && bias.as_ref().is_none_or(|b| b.dims() == [weight.dims()[0]]);
        if !ok {
            return Err(Error::Config(format!(
                "Conv2d: weight must be [out, in / groups, kh, kw] and bias [out], got {} and {:?}",
                weight.shape(),
                bias.as_ref().map(|b| b.shape().clone())
            )));
        }
        let d = weight.dims();
        let shape = ConvShape {
            in_channels: d[1] * spec.groups,
            out_channels: d[0],
            kernel: [d[2], d[3]],
            bias: bias.is_some(),
        };
        check_shape("Conv2d", &shape, spec.groups)?;
        Ok(Conv2d { weight: Var::param(weight)?, bias: bias.map(Var::param).transpose()?, spec })
    }

    /// The weight `[out, in / groups, kh, kw]`.
    pub fn weight(&self) -> &Var {
        &self.weight
    }

    /// The bias `[out]`, if any.
    pub fn bias(&self) -> Option<&Var> {
        self.bias.as_ref()
    }

    /// Stride, padding, dilation and groups.
    pub fn spec(&self) -> &Conv2dSpec {
        &self.spec
    }

    /// The output's `[height, width]` for an input of `[height, width]`, or an error naming both
    /// when the kernel does not fit in the padded input: what a model checks at construction.
    pub fn output_size(&self, input: [usize; 2]) -> Result<[usize; 2]> {
        let d = self.weight.dims();
        let mut out = [0; 2];
        for axis in 0..2 {
            let span = self.spec.dilation[axis] * (d[2 + axis] - 1) + 1;
            let padded = input[axis] + 2 * self.spec.padding[axis];
            if span > padded || self.spec.stride[axis] == 0 {
                return Err(Error::Config(format!(
                    "{}: the kernel spans {span} pixels along {} but the padded input has {padded} ({}x{} input)",
                    self.describe(),
                    ["height", "width"][axis],
                    input[0],
                    input[1]
                )));
            }
            out[axis] = (padded - span) / self.spec.stride[axis] + 1;
        }
        Ok(out)
    }
}

impl Module for Conv2d {
    fn forward(&self, x: &Var) -> Result<Var> {
        check_input(self, self.weight.dims()[1] * self.spec.groups, x)?;
        Ok(x.conv2d(&self.weight, self.bias.as_ref(), &self.spec)?)
    }

    fn describe(&self) -> String {
        let d = self.weight.dims();
        format!("Conv2d({} -> {}, {}x{})", d[1] * self.spec.groups, d[0], d[2], d[3])
    }

    fn flops_per_example(&self, dims: &[usize]) -> u64 {
        let d = self.weight.dims();
        match dims {
            [_, h, w] => {
                self.output_size([*h, *w]).map_or(0, |[oh, ow]| (2 * d[0] * oh * ow * d[1] * d[2] * d[3]) as u64)
            }
            _ => 0,
        }
    }
}

/// A transposed 2-D convolution (PyTorch's `ConvTranspose2d`, the gradient of a `Conv2d` with
/// respect to its input): `weight` `[in, out / groups, kh, kw]`, `bias` `[out]`.
#[derive(Module)]
pub struct ConvTranspose2d {
    weight: Var,
    bias: Option<Var>,
    #[module(skip)]
    spec: ConvTranspose2dSpec,
}

impl ConvTranspose2d {
    /// A layer of `shape` with PyTorch's default initialisation.
    pub fn new(
        g: &mut Generator,
        shape: ConvShape,
        spec: ConvTranspose2dSpec,
        dtype: DType,
        device: &Device,
    ) -> Result<ConvTranspose2d> {
        check_shape("ConvTranspose2d", &shape, spec.groups)?;
        let [kh, kw] = shape.kernel;
        let dims = [shape.in_channels, shape.out_channels / spec.groups, kh, kw];
        let (weight, bias) = default_init(g, dims, shape.bias.then_some(shape.out_channels), dtype, device)?;
        ConvTranspose2d::from_tensors(weight, bias, spec)
    }

    /// A layer with the given weight `[in, out / groups, kh, kw]` and optional bias `[out]`.
    pub fn from_tensors(weight: Tensor, bias: Option<Tensor>, spec: ConvTranspose2dSpec) -> Result<ConvTranspose2d> {
        let out = weight.dims().get(1).map_or(0, |o| o * spec.groups);
        if weight.rank() != 4 || bias.as_ref().is_some_and(|b| b.dims() != [out]) {
            return Err(Error::Config(format!(
                "ConvTranspose2d: weight must be [in, out / groups, kh, kw] and bias [out], got {} and {:?}",
                weight.shape(),
                bias.as_ref().map(|b| b.shape().clone())
            )));
        }
        let d = weight.dims();
        let shape = ConvShape { in_channels: d[0], out_channels: out, kernel: [d[2], d[3]], bias: bias.is_some() };
        check_shape("ConvTranspose2d", &shape, spec.groups)?;
        Ok(ConvTranspose2d { weight: Var::param(weight)?, bias: bias.map(Var::param).transpose()?, spec })
    }

    /// The weight `[in, out / groups, kh, kw]`.
    pub fn weight(&self) -> &Var {
        &self.weight
    }
}

impl Module for ConvTranspose2d {
    fn forward(&self, x: &Var) -> Result<Var> {
        check_input(self, self.weight.dims()[0], x)?;
        Ok(x.conv_transpose2d(&self.weight, self.bias.as_ref(), &self.spec)?)
    }

    fn describe(&self) -> String {
        let d = self.weight.dims();
        format!("ConvTranspose2d({} -> {}, {}x{})", d[0], d[1] * self.spec.groups, d[2], d[3])
    }

    fn flops_per_example(&self, dims: &[usize]) -> u64 {
        let d = self.weight.dims();
        match dims {
            [_, h, w] => (2 * h * w * d[0] * d[1] * d[2] * d[3]) as u64,
            _ => 0,
        }
    }
}
