//! A counter-based random generator (Philox4x32-10).
//!
//! Counter-based means element `i` of a random fill depends only on `(seed, offset, i)`, not on
//! what was drawn before it in the same fill: fills split across threads, or run as a CUDA
//! kernel, produce the same numbers as a sequential loop.

/// The Philox4x32-10 generator: a seed (the key) and an offset (the next unused counter).
///
/// ```
/// use tessera_core::Philox;
/// let mut a = Philox::new(42);
/// let mut b = Philox::new(42);
/// assert_eq!(a.take(3), b.take(3));
/// assert_eq!(a.block(0), Philox::new(42).block(0));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Philox {
    seed: u64,
    offset: u64,
}

const M0: u32 = 0xD251_1F53;
const M1: u32 = 0xCD9E_8D57;
const W0: u32 = 0x9E37_79B9;
const W1: u32 = 0xBB67_AE85;

impl Philox {
    /// A generator for `seed`, at offset 0.
    pub fn new(seed: u64) -> Self {
        Philox { seed, offset: 0 }
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The next unused counter.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Reserves `blocks` consecutive counters and returns the first; the caller reads
    /// `block(first + j)` for `j < blocks`.
    pub fn take(&mut self, blocks: u64) -> u64 {
        let first = self.offset;
        self.offset = self.offset.wrapping_add(blocks);
        first
    }

    /// The four random words of counter `counter`, relative to nothing: absolute.
    #[inline]
    pub fn block(&self, counter: u64) -> [u32; 4] {
        let mut c = [counter as u32, (counter >> 32) as u32, 0, 0];
        let mut k = [self.seed as u32, (self.seed >> 32) as u32];
        for round in 0..10 {
            if round > 0 {
                k[0] = k[0].wrapping_add(W0);
                k[1] = k[1].wrapping_add(W1);
            }
            let p0 = (M0 as u64) * (c[0] as u64);
            let p1 = (M1 as u64) * (c[2] as u64);
            c = [((p1 >> 32) as u32) ^ c[1] ^ k[0], p1 as u32, ((p0 >> 32) as u32) ^ c[3] ^ k[1], p0 as u32];
        }
        c
    }

    /// A uniform `f32` in `[0, 1)` from one random word (24 random bits).
    #[inline]
    pub fn word_to_unit_f32(word: u32) -> f32 {
        (word >> 8) as f32 * (1.0 / 16_777_216.0)
    }

    /// A uniform `f64` in `[0, 1)` from two random words (53 random bits).
    #[inline]
    pub fn words_to_unit_f64(hi: u32, lo: u32) -> f64 {
        let bits = ((hi as u64) << 21) ^ ((lo as u64) >> 11);
        (bits & ((1u64 << 53) - 1)) as f64 * (1.0 / 9_007_199_254_740_992.0)
    }

    /// A standard normal sample from one block (Box-Muller on two 53-bit uniforms).
    #[inline]
    pub fn block_to_normal(b: [u32; 4]) -> f64 {
        // 1 - u lies in (0, 1], so the log is finite.
        let u1 = 1.0 - Self::words_to_unit_f64(b[0], b[1]);
        let u2 = Self::words_to_unit_f64(b[2], b[3]);
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_answer_vector() {
        // Philox4x32-10 with zero key and zero counter (Random123's published test vector).
        let g = Philox::new(0);
        assert_eq!(g.block(0), [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]);
    }

    #[test]
    fn normal_samples_have_unit_variance() {
        let g = Philox::new(7);
        let n = 20_000;
        let xs: Vec<f64> = (0..n).map(|i| Philox::block_to_normal(g.block(i))).collect();
        let mean = xs.iter().sum::<f64>() / n as f64;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n as f64;
        assert!(mean.abs() < 0.03, "mean {mean}");
        assert!((var - 1.0).abs() < 0.05, "var {var}");
    }
}
