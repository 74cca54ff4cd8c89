//! The seedable random generator behind random tensors.

use tessera_core::Philox;

/// A seedable source of random tensors: the same seed gives the same numbers on every run, on
/// any number of threads (it is counter-based, see [`Philox`]).
///
/// ```
/// use tessera_tensor::{DType, Device, Generator, Tensor};
/// let mut g = Generator::new(7);
/// let a = Tensor::randn(&mut g, [2, 3], DType::F32, &Device::Cpu)?;
/// let b = Tensor::randn(&mut Generator::new(7), [2, 3], DType::F32, &Device::Cpu)?;
/// assert_eq!(a.to_vec::<f32>()?, b.to_vec::<f32>()?);
/// # Ok::<(), tessera_tensor::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generator {
    pub(crate) philox: Philox,
}

impl Generator {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Generator { philox: Philox::new(seed) }
    }

    /// The seed it was made with.
    pub fn seed(&self) -> u64 {
        self.philox.seed()
    }

    /// A seed for another generator (a layer's dropout masks), drawn from this one's stream:
    /// children forked in the same order from the same seed get the same seeds.
    pub fn fork_seed(&mut self) -> u64 {
        let counter = self.philox.take(1);
        let block = self.philox.block(counter);
        (u64::from(block[0]) << 32) | u64::from(block[1])
    }

    /// How many random blocks it has handed out (with the seed, its whole state).
    pub fn offset(&self) -> u64 {
        self.philox.offset()
    }
}
