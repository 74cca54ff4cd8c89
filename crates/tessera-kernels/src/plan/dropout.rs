//! Plans of dropout: the mask's random numbers (shared with attention's dropout on its weights)
//! and the fused elementwise op that applies it.

use super::{require_float, Arg};
use crate::Result;
use tessera_core::{DType, Error, Layout, Philox};

/// A dropout mask by its random numbers: the probability of dropping an element, and where in a
/// Philox stream its numbers start. Element `n` (in row-major order of the tensor dropped; for
/// attention, of its weights `[batch, heads, q_len, kv_len]`) is dropped when the uniform of word
/// `n % 4` of block `first + n / 4` is below `p`; kept elements are scaled by `1 / (1 - p)`. A
/// backward pass regenerates the same mask from the same numbers, so none is stored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DropoutMask {
    /// Probability of dropping an element, in `[0, 1)`.
    pub p: f64,
    /// The generator's seed.
    pub seed: u64,
    /// The first Philox block of this mask's numbers.
    pub first: u64,
}

impl DropoutMask {
    /// A mask with probability `p` over `elements` elements, reserving its numbers from `rng`
    /// (which advances only when `p` is valid).
    pub fn draw(p: f64, rng: &mut Philox, elements: usize) -> Result<Self> {
        DropoutMask::draw_part(p, rng, elements, 0, 1)
    }

    /// Part `part` of `parts` equal parts of one mask over `parts * elements` elements: `rng`
    /// advances by the whole mask's numbers, and this part's start where part `part` of it
    /// starts. So `parts` processes that each hold `1 / parts` of a tensor (data-parallel ranks
    /// holding their rows of a batch, in rank order) draw, between them, the one mask a single
    /// process draws for the whole tensor, wherever `elements` is a multiple of 4 (a mask's
    /// numbers come four to a block); otherwise disjoint numbers all the same.
    pub fn draw_part(p: f64, rng: &mut Philox, elements: usize, part: usize, parts: usize) -> Result<Self> {
        if !(0.0..1.0).contains(&p) {
            let msg = format!("dropout probability {p} is not in [0, 1)");
            return Err(Error::InvalidArgument { op: "dropout", msg }.into());
        }
        if part >= parts {
            let msg = format!("part {part} of a mask cut into {parts} parts");
            return Err(Error::InvalidArgument { op: "dropout", msg }.into());
        }
        let blocks = elements.div_ceil(4) as u64;
        let first = rng.take(blocks.wrapping_mul(parts as u64)).wrapping_add(blocks.wrapping_mul(part as u64));
        Ok(DropoutMask { p, seed: rng.seed(), first })
    }

    /// Whether element `n` is kept.
    #[inline]
    pub fn keeps(&self, rng: &Philox, n: u64) -> bool {
        self.keeps_word(rng.block(self.block_of(n))[(n % 4) as usize])
    }

    /// The Philox block that holds element `n`'s random word (word `n % 4` of it).
    #[inline]
    pub fn block_of(&self, n: u64) -> u64 {
        self.first + n / 4
    }

    /// Whether an element whose random word is `word` is kept.
    #[inline]
    pub fn keeps_word(&self, word: u32) -> bool {
        Philox::word_to_unit_f32(word) as f64 >= self.p
    }

    /// The least `word >> 8` of a kept element: [`keeps_word`](Self::keeps_word) is
    /// `(word >> 8) * 2^-24 >= p`, that is `(word >> 8) >= ceil(p * 2^24)`, an integer comparison
    /// that vectorises.
    pub fn keep_threshold(&self) -> u32 {
        (self.p * 16_777_216.0).ceil() as u32
    }

    /// The factor kept elements are multiplied by, `1 / (1 - p)`.
    pub fn scale(&self) -> f64 {
        1.0 / (1.0 - self.p)
    }
}

/// A checked dropout of a float tensor: `y[n] = x[n] / (1 - p)` where the mask keeps element `n`,
/// 0 where it drops it; output contiguous in the input's shape. Its gradient is the same op on
/// the output's gradient, with the same mask.
#[derive(Debug, Clone, PartialEq)]
pub struct DropoutPlan {
    /// The input's view.
    pub input: Layout,
    /// The input's (and the output's) dtype.
    pub dtype: DType,
    /// Which elements are kept.
    pub mask: DropoutMask,
}

impl DropoutPlan {
    /// Checks that the input is a float tensor.
    pub fn new(x: Arg, mask: DropoutMask) -> Result<Self> {
        require_float("dropout", x.dtype)?;
        Ok(DropoutPlan { input: x.layout.clone(), dtype: x.dtype, mask })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::Shape;

    #[test]
    fn masks_reserve_their_numbers_and_reject_bad_probabilities() {
        let mut g = Philox::new(3);
        let a = DropoutMask::draw(0.25, &mut g, 10).unwrap();
        let b = DropoutMask::draw(0.25, &mut g, 10).unwrap();
        assert_eq!(b.first, a.first + 3, "ten elements take three blocks of four words");
        for p in [-0.1, 1.0, f64::NAN] {
            let err = DropoutMask::draw(p, &mut g, 10).unwrap_err().to_string();
            assert!(err.contains("dropout") && err.contains("not in [0, 1)"), "{err}");
        }
        assert_eq!(DropoutMask::draw(0.5, &mut g, 4).unwrap().first, b.first + 3, "failed draws take nothing");
        assert_eq!(a.scale(), 1.0 / 0.75);
    }

    #[test]
    fn the_parts_of_a_mask_keep_what_the_whole_mask_keeps() {
        let whole = DropoutMask::draw(0.5, &mut Philox::new(9), 3 * 12).unwrap();
        let rng = Philox::new(9);
        let keeps = |m: &DropoutMask, n: usize| (0..n as u64).map(|i| m.keeps(&rng, i)).collect::<Vec<_>>();
        let mut joined = Vec::new();
        for part in 0..3 {
            let mut g = Philox::new(9);
            joined.extend(keeps(&DropoutMask::draw_part(0.5, &mut g, 12, part, 3).unwrap(), 12));
            assert_eq!(g.offset(), 9, "every part advances by the whole mask's 9 blocks");
        }
        assert_eq!(joined, keeps(&whole, 36));
        let err = DropoutMask::draw_part(0.5, &mut Philox::new(9), 12, 3, 3).unwrap_err().to_string();
        assert!(err.contains("part 3 of a mask cut into 3 parts"), "{err}");
    }

    #[test]
    fn dropout_takes_float_tensors_only() {
        let l = Layout::contiguous(Shape::from([2, 3]));
        let mask = DropoutMask { p: 0.5, seed: 0, first: 0 };
        assert!(DropoutPlan::new(Arg::new(DType::BF16, &l), mask).is_ok());
        let err = DropoutPlan::new(Arg::new(DType::I64, &l), mask).unwrap_err().to_string();
        assert!(err.contains("dropout") && err.contains("i64"), "{err}");
    }
}
