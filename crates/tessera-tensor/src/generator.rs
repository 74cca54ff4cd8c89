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
    /// The part of every dropout mask this generator draws, and of how many parts.
    pub(crate) share: (usize, usize),
}

impl Generator {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Generator { philox: Philox::new(seed), share: (0, 1) }
    }

    /// Restarts the stream from `seed`, keeping its [`share`](Generator::set_share).
    pub fn reseed(&mut self, seed: u64) {
        self.philox = Philox::new(seed);
    }

    /// Makes every dropout mask this generator draws part `part` of `parts` equal parts of one
    /// mask over `parts` times the elements asked for (see [`DropoutMask::draw_part`]): what
    /// rank `part` of `parts` data-parallel processes does, so that between them they draw
    /// the masks one process draws for the whole batch. `(0, 1)` is a whole mask (the default).
    /// Other random tensors are not affected.
    ///
    /// ```
    /// use tessera_tensor::Generator;
    /// let whole = Generator::new(3).dropout_mask(0.5, 8)?;
    /// let mut rank1 = Generator::new(3);
    /// rank1.set_share(1, 2)?;
    /// assert_eq!(rank1.dropout_mask(0.5, 4)?.first, whole.first + 1, "elements 4..8 of it");
    /// assert_eq!(rank1.offset(), Generator::new(3).offset() + 2, "both ranks advance alike");
    /// assert!(rank1.set_share(2, 2).is_err());
    /// # Ok::<(), tessera_tensor::Error>(())
    /// ```
    ///
    /// [`DropoutMask::draw_part`]: crate::DropoutMask::draw_part
    pub fn set_share(&mut self, part: usize, parts: usize) -> crate::Result<()> {
        if part >= parts {
            let msg = format!("part {part} of {parts} parts: the part must be below the count");
            return Err(tessera_core::Error::InvalidArgument { op: "Generator::set_share", msg }.into());
        }
        self.share = (part, parts);
        Ok(())
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
