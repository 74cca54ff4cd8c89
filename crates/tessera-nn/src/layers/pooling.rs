//! Pooling layers (`MaxPool2d`, `AvgPool2d`, `AdaptiveAvgPool2d`) and the reshaping layers
//! `Flatten` and `Unflatten`, with PyTorch's defaults.

use crate::{Error, Module, ModuleParts, Result};
use tessera_autograd::Var;
use tessera_tensor::{AvgPool2dSpec, MaxPool2dSpec};

/// The error for an input that is not `[N, C, H, W]` or `[C, H, W]`.
fn check_image(layer: &dyn Module, x: &Var) -> Result<()> {
    if !matches!(x.rank(), 3 | 4) {
        return Err(Error::BadInput {
            layer: layer.describe(),
            expected: "[N, C, H, W] or [C, H, W]".into(),
            got: x.shape().clone(),
        });
    }
    Ok(())
}

/// The largest value of each window (PyTorch's `MaxPool2d`; the stride defaults to the kernel).
///
/// ```
/// use tessera_autograd::Var;
/// use tessera_nn::{MaxPool2d, Module};
/// use tessera_tensor::{DType, Device, MaxPool2dSpec, Tensor};
/// let pool = MaxPool2d::new(MaxPool2dSpec::new([2, 2]));
/// let y = pool.forward(&Var::constant(Tensor::zeros([1, 3, 24, 24], DType::F32, &Device::Cpu)?))?;
/// assert_eq!(y.dims(), [1, 3, 12, 12]);
/// # Ok::<(), tessera_nn::Error>(())
/// ```
pub struct MaxPool2d {
    spec: MaxPool2dSpec,
}

impl MaxPool2d {
    /// A layer pooling as `spec` says.
    pub fn new(spec: MaxPool2dSpec) -> MaxPool2d {
        MaxPool2d { spec }
    }
}

impl ModuleParts for MaxPool2d {}

impl Module for MaxPool2d {
    fn forward(&self, x: &Var) -> Result<Var> {
        check_image(self, x)?;
        Ok(x.max_pool2d(&self.spec)?)
    }

    fn describe(&self) -> String {
        let [kh, kw] = self.spec.kernel;
        format!("MaxPool2d({kh}x{kw})")
    }
}

/// The mean of each window (PyTorch's `AvgPool2d`).
pub struct AvgPool2d {
    spec: AvgPool2dSpec,
}

impl AvgPool2d {
    /// A layer pooling as `spec` says.
    pub fn new(spec: AvgPool2dSpec) -> AvgPool2d {
        AvgPool2d { spec }
    }
}

impl ModuleParts for AvgPool2d {}

impl Module for AvgPool2d {
    fn forward(&self, x: &Var) -> Result<Var> {
        check_image(self, x)?;
        Ok(x.avg_pool2d(&self.spec)?)
    }

    fn describe(&self) -> String {
        let [kh, kw] = self.spec.kernel;
        format!("AvgPool2d({kh}x{kw})")
    }
}

/// The mean over windows chosen so that the output is `[height, width]` whatever the input's
/// size (PyTorch's `AdaptiveAvgPool2d`).
pub struct AdaptiveAvgPool2d {
    output: [usize; 2],
}

impl AdaptiveAvgPool2d {
    /// A layer whose output planes are `output` (`[height, width]`).
    pub fn new(output: [usize; 2]) -> AdaptiveAvgPool2d {
        AdaptiveAvgPool2d { output }
    }
}

impl ModuleParts for AdaptiveAvgPool2d {}

impl Module for AdaptiveAvgPool2d {
    fn forward(&self, x: &Var) -> Result<Var> {
        check_image(self, x)?;
        Ok(x.adaptive_avg_pool2d(self.output)?)
    }

    fn describe(&self) -> String {
        let [h, w] = self.output;
        format!("AdaptiveAvgPool2d({h}x{w})")
    }
}

/// Merges dims `start..=end` into one (PyTorch's `Flatten`, by default every dim after the
/// batch: `[N, C, H, W]` to `[N, C·H·W]`). Negative dims count from the end.
pub struct Flatten {
    start: isize,
    end: isize,
}

impl Flatten {
    /// Flattens every dim but the first.
    pub fn new() -> Flatten {
        Flatten { start: 1, end: -1 }
    }

    /// Flattens dims `start..=end`.
    pub fn dims(start: isize, end: isize) -> Flatten {
        Flatten { start, end }
    }
}

impl Default for Flatten {
    fn default() -> Self {
        Flatten::new()
    }
}

impl ModuleParts for Flatten {}

impl Module for Flatten {
    fn forward(&self, x: &Var) -> Result<Var> {
        Ok(x.flatten(self.start, self.end)?)
    }

    fn describe(&self) -> String {
        "Flatten".into()
    }
}

/// Splits dim `dim` into `sizes` (PyTorch's `Unflatten`): `Unflatten::new(1, [1, 28, 28])`
/// turns a batch of flat MNIST rows `[N, 784]` into images `[N, 1, 28, 28]`.
pub struct Unflatten {
    dim: isize,
    sizes: Vec<usize>,
}

impl Unflatten {
    /// Splits `dim` into `sizes`.
    pub fn new(dim: isize, sizes: impl Into<Vec<usize>>) -> Unflatten {
        Unflatten { dim, sizes: sizes.into() }
    }
}

impl ModuleParts for Unflatten {}

impl Module for Unflatten {
    fn forward(&self, x: &Var) -> Result<Var> {
        Ok(x.unflatten(self.dim, &self.sizes)?)
    }

    fn describe(&self) -> String {
        format!("Unflatten({:?})", self.sizes)
    }
}
