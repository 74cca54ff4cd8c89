//! Plans of buffers made from nothing: ranges and random fills.

use crate::Result;
use tessera_core::{DType, Error, Philox};

/// A checked `start, start + step, ...` below `end`, as `torch.arange`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ArangePlan {
    /// The dtype of the output.
    pub dtype: DType,
    /// The first value.
    pub start: f64,
    /// The increment.
    pub step: f64,
    /// The number of values.
    pub len: usize,
}

impl ArangePlan {
    /// Checks the bounds (finite, nonzero step) and counts the values.
    pub fn new(dtype: DType, start: f64, end: f64, step: f64) -> Result<Self> {
        if step == 0.0 || !step.is_finite() || !start.is_finite() || !end.is_finite() {
            let msg = format!("start {start}, end {end} and step {step} must be finite with a nonzero step");
            return Err(Error::InvalidArgument { op: "arange", msg }.into());
        }
        let count = ((end - start) / step).ceil();
        let len = if count > 0.0 { count as usize } else { 0 };
        Ok(ArangePlan { dtype, start, step, len })
    }

    /// Value `i`.
    pub fn value(&self, i: usize) -> f64 {
        self.start + i as f64 * self.step
    }
}

/// What a random fill draws.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Distribution {
    /// Uniform in `[lo, hi)`.
    Uniform {
        /// Lower bound.
        lo: f64,
        /// Upper bound (excluded).
        hi: f64,
    },
    /// Normal with this mean and standard deviation (Box-Muller in f64).
    Normal {
        /// Mean.
        mean: f64,
        /// Standard deviation.
        std: f64,
    },
    /// 1 with probability `p`, else 0.
    Bernoulli {
        /// Probability of a 1.
        p: f64,
    },
}

impl Distribution {
    /// The op's name, as the op registry calls it (its `Tensor` method's).
    pub fn op_name(&self) -> &'static str {
        match self {
            Distribution::Uniform { .. } => "rand_uniform",
            Distribution::Normal { .. } => "rand_normal",
            Distribution::Bernoulli { .. } => "bernoulli",
        }
    }

    /// The op's kernel prefix.
    pub fn name(&self) -> &'static str {
        match self {
            Distribution::Uniform { .. } => "uniform",
            Distribution::Normal { .. } => "normal",
            Distribution::Bernoulli { .. } => "bernoulli",
        }
    }

    /// Values per Philox block for `dtype`: the counter layout both devices share.
    pub fn per_block(&self, dtype: DType) -> usize {
        match self {
            Distribution::Uniform { .. } if dtype == DType::F64 => 2,
            Distribution::Uniform { .. } => 4,
            Distribution::Normal { .. } => 1,
            Distribution::Bernoulli { .. } => 2,
        }
    }

    /// The two parameters as the kernels take them.
    pub fn params(&self) -> (f64, f64) {
        match *self {
            Distribution::Uniform { lo, hi } => (lo, hi),
            Distribution::Normal { mean, std } => (mean, std),
            Distribution::Bernoulli { p } => (p, 0.0),
        }
    }

    fn check(&self, dtype: DType) -> Result<()> {
        let op = self.name();
        let float_only = || -> Result<()> {
            let hint = " (random values need a float dtype)";
            if dtype.is_float() {
                Ok(())
            } else {
                Err(Error::UnsupportedDType { op, dtype, hint }.into())
            }
        };
        let invalid = |msg: String| -> Result<()> { Err(Error::InvalidArgument { op, msg }.into()) };
        match *self {
            Distribution::Uniform { lo, hi } => {
                float_only()?;
                if !lo.is_finite() || !hi.is_finite() || lo > hi {
                    return invalid(format!("bounds [{lo}, {hi}) must be finite with lo <= hi"));
                }
            }
            Distribution::Normal { mean, std } => {
                float_only()?;
                if !std.is_finite() || !mean.is_finite() || std < 0.0 {
                    return invalid(format!("mean {mean} and std {std} must be finite with std >= 0"));
                }
            }
            Distribution::Bernoulli { p } => {
                if !(0.0..=1.0).contains(&p) {
                    return invalid(format!("probability {p} is not in [0, 1]"));
                }
                if !(dtype.is_float() || dtype == DType::U8) {
                    let hint = " (use a float dtype or u8)";
                    return Err(Error::UnsupportedDType { op, dtype, hint }.into());
                }
            }
        }
        Ok(())
    }
}

/// A checked random fill of `len` values, with the Philox counters it uses reserved: value `i`
/// comes from block `first + i / per_block` of the generator seeded `seed`, on every device.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RandomPlan {
    /// What to draw.
    pub dist: Distribution,
    /// The output's dtype.
    pub dtype: DType,
    /// How many values.
    pub len: usize,
    /// The generator's seed.
    pub seed: u64,
    /// The first block's counter.
    pub first: u64,
}

impl RandomPlan {
    /// Checks the distribution's parameters and dtype, and takes the counters the fill needs from
    /// `rng` (which advances only when the plan is valid).
    pub fn new(dist: Distribution, rng: &mut Philox, dtype: DType, len: usize) -> Result<Self> {
        dist.check(dtype)?;
        let seed = rng.seed();
        let first = rng.take(len.div_ceil(dist.per_block(dtype)) as u64);
        Ok(RandomPlan { dist, dtype, len, seed, first })
    }

    /// The generator the fill draws from (the blocks from [`first`](Self::first) on).
    pub fn generator(&self) -> Philox {
        Philox::new(self.seed)
    }
}
