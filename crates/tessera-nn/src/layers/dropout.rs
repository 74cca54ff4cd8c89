//! Inverted dropout.

use crate::{Error, Module, ModuleParts, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use tessera_autograd::Var;
use tessera_tensor::Generator;

/// Zeroes each element with probability `p` during training and scales the rest by
/// `1 / (1 - p)`, so evaluation (where it does nothing) sees the same expected values.
pub struct Dropout {
    p: f64,
    training: AtomicBool,
    rng: Mutex<Generator>,
}

impl Dropout {
    /// Dropout with probability `p` in `[0, 1)`, its masks drawn from a generator seeded `seed`.
    pub fn new(p: f64, seed: u64) -> Result<Dropout> {
        if !(0.0..1.0).contains(&p) {
            return Err(Error::Config(format!("Dropout: probability {p} must be in [0, 1)")));
        }
        Ok(Dropout { p, training: AtomicBool::new(true), rng: Mutex::new(Generator::new(seed)) })
    }

    /// Restarts the masks from a generator seeded `seed` (PyTorch's `manual_seed`): reseeding at
    /// each epoch start makes a run resumed from a checkpoint draw the masks an unbroken run does.
    pub fn reseed(&self, seed: u64) {
        self.rng.lock().unwrap_or_else(|e| e.into_inner()).reseed(seed);
    }
}

/// No parameters: its state of its own is the mode and the mask generator.
impl ModuleParts for Dropout {}

impl Module for Dropout {
    fn forward(&self, x: &Var) -> Result<Var> {
        if !self.training.load(Ordering::Relaxed) || self.p == 0.0 {
            return Ok(x.clone());
        }
        let mask = self.rng.lock().unwrap_or_else(|e| e.into_inner()).dropout_mask(self.p, x.elem_count())?;
        Ok(x.dropout(&mask)?)
    }

    fn set_training(&self, training: bool) {
        self.training.store(training, Ordering::Relaxed);
    }

    fn reseed(&self, seed: u64) {
        Dropout::reseed(self, seed);
    }

    fn share_dropout(&self, part: usize, parts: usize) -> Result<()> {
        Ok(self.rng.lock().unwrap_or_else(|e| e.into_inner()).set_share(part, parts)?)
    }

    fn describe(&self) -> String {
        format!("Dropout(p={})", self.p)
    }
}
