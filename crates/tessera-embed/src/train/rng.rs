//! The training threads' random numbers: wyrand, a 64-bit generator that costs one multiply per
//! draw. Each thread has its own, seeded from the run's seed and the thread's index.

/// A small, fast, seeded generator (not for cryptography).
#[derive(Debug, Clone)]
pub(crate) struct Rng {
    state: u64,
}

impl Rng {
    /// The generator of stream `stream` for `seed`.
    pub(crate) fn new(seed: u64, stream: u64) -> Rng {
        let mut r = Rng { state: seed ^ stream.wrapping_mul(0x9e37_79b9_7f4a_7c15) };
        // Warm up so that nearby seeds give unrelated streams.
        for _ in 0..4 {
            r.next_u64();
        }
        r
    }

    /// 64 random bits.
    #[inline(always)]
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0xa076_1d64_78bd_642f);
        let t = (self.state as u128).wrapping_mul((self.state ^ 0xe703_7ed1_a0b4_28db) as u128);
        (t >> 64) as u64 ^ t as u64
    }

    /// A whole number in `0..n` (`n >= 1`).
    #[inline(always)]
    pub(crate) fn below(&mut self, n: u32) -> u32 {
        (((self.next_u64() >> 32) * n as u64) >> 32) as u32
    }

    /// A number in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 24) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_are_uniform_enough_and_reproducible() {
        let mut r = Rng::new(7, 0);
        let mut hist = [0u32; 10];
        for _ in 0..100_000 {
            hist[r.below(10) as usize] += 1;
        }
        assert!(hist.iter().all(|&h| (9_500..10_500).contains(&h)), "{hist:?}");
        let (mut a, mut b) = (Rng::new(7, 1), Rng::new(7, 1));
        assert!((0..100).all(|_| a.next_u64() == b.next_u64()));
        assert_ne!(Rng::new(7, 1).next_u64(), Rng::new(7, 2).next_u64());
        assert!((0..1000).map(|_| r.unit()).all(|u| (0.0..1.0).contains(&u)));
    }
}
