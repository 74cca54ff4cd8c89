//! The classic models the `tessera` program trains, built from nn layers.

mod cnn;

pub use cnn::CnnConfig;

use crate::memory::MemoryEstimate;
use crate::Result;
use tessera_nn::{Linear, Relu, Sequential, Softmax};
use tessera_tensor::{DType, Device, Generator};

/// The classic MNIST classifier: Dense 128 ReLU, Dense 64 ReLU, Dense 10 softmax (Keras' layout;
/// trained with sparse categorical cross-entropy on the probabilities).
pub fn mlp_classifier(seed: u64, inputs: usize, classes: usize, device: &Device) -> Result<Sequential> {
    let mut g = Generator::new(seed);
    Ok(Sequential::new()
        .add(Linear::new(&mut g, inputs, 128, DType::F32, device)?)
        .add(Relu)
        .add(Linear::new(&mut g, 128, 64, DType::F32, device)?)
        .add(Relu)
        .add(Linear::new(&mut g, 64, classes, DType::F32, device)?)
        .add(Softmax { dim: -1 }))
}

/// The size of [`mlp_classifier`] for `inputs` pixels, `classes` and `batch` examples, counted
/// without building it.
pub fn mlp_memory_estimate(inputs: usize, classes: usize, batch: usize) -> MemoryEstimate {
    let (i, c) = (inputs as f64, classes as f64);
    let parameters = i * 128.0 + 128.0 + 128.0 * 64.0 + 64.0 + 64.0 * c + c;
    // Per example: the input, each layer's output before and after its activation, and the
    // gradients of both.
    let activations = batch as f64 * (i + 4.0 * (128.0 + 64.0 + c));
    MemoryEstimate { parameters, activations }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gpt::{Gpt, GptConfig};
    use crate::lm::{LstmLm, LstmLmConfig};
    use tessera_nn::Module;

    fn counted(model: &dyn Module) -> f64 {
        model.parameter_count() as f64
    }

    #[test]
    fn estimates_count_every_parameter_of_the_built_models() {
        let cpu = Device::Cpu;
        assert_eq!(mlp_memory_estimate(30, 7, 1).parameters, counted(&mlp_classifier(0, 30, 7, &cpu).unwrap()));
        for layers in [1, 3] {
            let cfg = LstmLmConfig { vocab: 11, embed: 5, hidden: 6, layers, dropout: 0.0, seed: 0 };
            assert_eq!(cfg.memory_estimate(1, 1).parameters, counted(&LstmLm::new(&cfg, &cpu).unwrap()));
        }
        for bias in [true, false] {
            let cfg = GptConfig { n_layer: 2, n_embd: 8, n_head: 2, block_size: 5, bias, ..GptConfig::small(13) };
            assert_eq!(cfg.memory_estimate(1, 1).parameters, counted(&Gpt::new(&cfg, &cpu).unwrap()));
        }
    }
}
