//! The classic Keras MNIST convnet: Conv 32 3x3 ReLU, Conv 64 3x3 ReLU, MaxPool 2, Dropout 0.25,
//! Flatten, Dense 128 ReLU, Dropout 0.5, Dense `classes` softmax; batch norm after each
//! convolution as an option.

use crate::memory::MemoryEstimate;
use crate::{Error, Result};
use tessera_nn::{
    BatchNorm, BatchNormConfig, Conv2d, ConvShape, Dropout, Flatten, Linear, MaxPool2d, Relu, Sequential, Softmax,
    Unflatten,
};
use tessera_tensor::{Conv2dSpec, DType, Device, Generator, MaxPool2dSpec};

/// What the convnet is built from: the images' size, the classes, batch norm and the seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CnnConfig {
    /// Channels per image (1 for grayscale).
    pub channels: usize,
    /// Image height in pixels.
    pub height: usize,
    /// Image width in pixels.
    pub width: usize,
    /// Classes predicted.
    pub classes: usize,
    /// Batch norm after each convolution (before its ReLU).
    pub batch_norm: bool,
    /// Seed of the initial weights and of the dropout masks.
    pub seed: u64,
}

/// Filters of the two convolutions and units of the hidden dense layer (Keras' example).
const FILTERS: [usize; 2] = [32, 64];
const HIDDEN: usize = 128;

impl CnnConfig {
    /// A grayscale `side × side` image classifier (MNIST: 28 and 10 classes).
    pub fn grayscale(side: usize, classes: usize, seed: u64) -> CnnConfig {
        CnnConfig { channels: 1, height: side, width: side, classes, batch_norm: false, seed }
    }

    /// The pooled feature map's `[height, width]`, or an error naming the image size when the
    /// images are too small for two 3x3 convolutions and a 2x2 pool.
    pub fn pooled(&self) -> Result<[usize; 2]> {
        let ok = self.height >= 6 && self.width >= 6 && self.channels > 0 && self.classes > 0;
        if !ok {
            return Err(Error::Config(format!(
                "the convnet needs images of at least 6x6 pixels with at least one channel and one class \
                 (two 3x3 convolutions and a 2x2 pool), got {} channel(s) of {}x{} and {} classes",
                self.channels, self.height, self.width, self.classes
            )));
        }
        Ok([(self.height - 4) / 2, (self.width - 4) / 2])
    }

    /// Pixels per image: the length of the flat input rows the model takes.
    pub fn inputs(&self) -> usize {
        self.channels * self.height * self.width
    }

    /// Builds the model with fresh weights. It takes flat rows `[N, channels·height·width]` (as
    /// the MNIST loaders give) and returns class probabilities.
    pub fn build(&self, device: &Device) -> Result<Sequential> {
        let [ph, pw] = self.pooled()?;
        let mut g = Generator::new(self.seed);
        let mut model = Sequential::new().add(Unflatten::new(1, [self.channels, self.height, self.width]));
        let mut channels = self.channels;
        for filters in FILTERS {
            let conv =
                Conv2d::new(&mut g, ConvShape::new(channels, filters, 3), Conv2dSpec::default(), DType::F32, device)?;
            model = model.add(conv);
            if self.batch_norm {
                model = model.add(BatchNorm::new_2d(filters, BatchNormConfig::default(), DType::F32, device)?);
            }
            model = model.add(Relu);
            channels = filters;
        }
        let flat = channels * ph * pw;
        Ok(model
            .add(MaxPool2d::new(MaxPool2dSpec::new([2, 2])))
            .add(Dropout::new(0.25, self.seed ^ 0xd50_0001)?)
            .add(Flatten::new())
            .add(Linear::new(&mut g, flat, HIDDEN, DType::F32, device)?)
            .add(Relu)
            .add(Dropout::new(0.5, self.seed ^ 0xd50_0002)?)
            .add(Linear::new(&mut g, HIDDEN, self.classes, DType::F32, device)?)
            .add(Softmax { dim: -1 }))
    }

    /// The model's size for `batch` examples, counted without building it: `parameters` counts
    /// every value a checkpoint holds (batch norm's running statistics included).
    pub fn memory_estimate(&self, batch: usize) -> Result<MemoryEstimate> {
        let [ph, pw] = self.pooled()?;
        let [f1, f2] = FILTERS.map(|f| f as f64);
        let (c, h, w) = (self.channels as f64, self.height as f64, self.width as f64);
        let (k, classes, hidden) = (3.0 * 3.0, self.classes as f64, HIDDEN as f64);
        let flat = f2 * (ph * pw) as f64;
        let mut parameters = c * k * f1 + f1 + f1 * k * f2 + f2 + flat * hidden + hidden + hidden * classes + classes;
        if self.batch_norm {
            // Weight, bias, running mean and variance per channel, and a batch counter per layer.
            parameters += 4.0 * (f1 + f2) + 2.0;
        }
        let (maps1, maps2) = (f1 * (h - 2.0) * (w - 2.0), f2 * (h - 4.0) * (w - 4.0));
        // Per example: the input and its unfolded patches, each map before and after its
        // activation (and norm), the pooled map and the dense layers, and their gradients.
        let per_example =
            c * h * w * (1.0 + k) + 4.0 * (maps1 + maps2) + maps1 * k + 3.0 * flat + 4.0 * (hidden + classes);
        Ok(MemoryEstimate { parameters, activations: batch as f64 * per_example })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_autograd::Var;
    use tessera_nn::{state_dict::state_dict, Module};
    use tessera_tensor::Tensor;

    #[test]
    fn estimates_count_every_saved_value_and_shapes_flow_through() {
        for batch_norm in [false, true] {
            let cfg = CnnConfig { batch_norm, ..CnnConfig::grayscale(12, 7, 0) };
            let model = cfg.build(&Device::Cpu).unwrap();
            let saved: usize = state_dict(&model).iter().map(|(_, t)| t.elem_count()).sum();
            assert_eq!(cfg.memory_estimate(1).unwrap().parameters, saved as f64, "batch norm {batch_norm}");
            let x = Var::constant(Tensor::zeros([3, 144], DType::F32, &Device::Cpu).unwrap());
            assert_eq!(model.forward(&x).unwrap().dims(), [3, 7]);
        }
    }

    #[test]
    fn pytorch_names_with_batch_norm() {
        let model = CnnConfig { batch_norm: true, ..CnnConfig::grayscale(28, 10, 0) }.build(&Device::Cpu).unwrap();
        let names: Vec<String> = state_dict(&model).into_iter().map(|(n, _)| n).collect();
        let want = [
            "1.weight",
            "1.bias",
            "4.weight",
            "4.bias",
            "10.weight",
            "10.bias",
            "13.weight",
            "13.bias",
            "2.weight",
            "2.bias",
            "5.weight",
            "5.bias",
            "2.running_mean",
            "2.running_var",
            "2.num_batches_tracked",
            "5.running_mean",
            "5.running_var",
            "5.num_batches_tracked",
        ];
        let (mut names, mut want) = (names, want.map(str::to_string).to_vec());
        names.sort();
        want.sort();
        assert_eq!(names, want);
    }

    #[test]
    fn images_too_small_are_refused_naming_their_size() {
        let err = CnnConfig::grayscale(5, 10, 0).build(&Device::Cpu).map(drop).unwrap_err().to_string();
        assert!(err.contains("at least 6x6") && err.contains("1 channel(s) of 5x5"), "{err}");
    }
}
