//! The classic Keras MNIST classifier, line for line. The Python it mirrors:
//!
//! ```python
//! (x_train, y_train), (x_test, y_test) = mnist.load_data()
//! model = keras.Sequential([
//!     layers.Dense(128, activation="relu"),
//!     layers.Dense(64, activation="relu"),
//!     layers.Dense(10, activation="softmax"),
//! ])
//! model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
//! model.fit(x_train, y_train, epochs=10, batch_size=32)
//! model.evaluate(x_test, y_test)
//! ```
//!
//! On the 5,000-image MNIST sample shipped with Tessera (4,000 to train on, 1,000 to test):
//! `cargo run --release -p tessera --example keras_mlp`. With `TESSERA_EXAMPLE_BATCHES=N` it
//! trains one epoch of N batches only (`cargo xtask test` runs it so, through its test).

use tessera::nn::{loss, Linear, Module, Relu, Sequential, Softmax};
use tessera::tensor::{DType::F32, Device, Generator};
use tessera::train::data::load_mnist_source;
use tessera::train::optim::{Adam, Optimizer, OptimizerKind};
use tessera::train::{FitConfig, Trainer};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

/// Freed tensor buffers are reused rather than returned to the system, as in the `tessera` program.
#[global_allocator]
static ALLOCATOR: tessera::core::host_memory::CachingAllocator = tessera::core::host_memory::CachingAllocator;

fn main() -> Result<()> {
    let few = std::env::var("TESSERA_EXAMPLE_BATCHES").ok().map(|n| n.parse()).transpose()?;
    run(few)
}

/// The script; `few = Some(n)` trains one epoch of `n` batches (a quick check that it runs).
fn run(few: Option<usize>) -> Result<()> {
    let (mut g, cpu) = (Generator::new(0), Device::Cpu);
    let mnist = load_mnist_source(None, 0)?;
    let (train, test) = (mnist.train, mnist.test);
    let model = Sequential::new()
        .add(Linear::new(&mut g, 784, 128, F32, &cpu)?)
        .add(Relu)
        .add(Linear::new(&mut g, 128, 64, F32, &cpu)?)
        .add(Relu)
        .add(Linear::new(&mut g, 64, 10, F32, &cpu)?)
        .add(Softmax { dim: -1 });
    let adam = Optimizer::new(model.parameters(), OptimizerKind::Adam(Adam::default()))?;
    let mut trainer = Trainer::new(&model, adam, Box::new(loss::sparse_categorical_crossentropy));
    let (train, epochs) = match few {
        Some(n) => (train.slice(0, n * 32)?, 1),
        None => (train, 10),
    };
    trainer.fit(&train, &FitConfig { epochs, batch_size: 32, ..FitConfig::default() })?;
    let result = trainer.evaluate(&test, 32, None)?;
    println!("test loss {:.4}, test accuracy {:.4}", result.loss, result.accuracy.unwrap_or(f64::NAN));
    Ok(())
}

#[test]
fn runs_on_a_few_batches() {
    run(Some(3)).unwrap();
}
