//! The classic models the `tessera` program trains, built from nn layers.

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
