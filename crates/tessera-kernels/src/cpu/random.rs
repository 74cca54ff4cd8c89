//! Random fills: Philox4x32-10 blocks turned into uniform, normal and Bernoulli values, with the
//! counter layout the CUDA half shares (value `i` depends only on the seed, the first counter
//! and `i`).

use super::buffer::{expect_dtype, strided_values, CpuBuffer, CpuElem};
use super::par;
use super::simd::Select;
use crate::plan::{Distribution, DropoutMask, DropoutPlan, RandomPlan};
use crate::Result;
use std::mem::MaybeUninit;
use std::ops::Mul;
use tessera_core::{bf16, f16, DType, Element, Philox};

/// The plan's fill: `len` values of its distribution, in its dtype.
pub fn random(plan: &RandomPlan) -> CpuBuffer {
    let (g, first, len) = (plan.generator(), plan.first, plan.len);
    match plan.dist {
        Distribution::Uniform { lo, hi } => match plan.dtype {
            DType::F64 => random_fill::<_, 2>(len, &g, first, |b, k| {
                lo + (hi - lo) * Philox::words_to_unit_f64(b[2 * k], b[2 * k + 1])
            })
            .into(),
            dtype => {
                let sample = |b: [u32; 4], k: usize| lo + (hi - lo) * Philox::word_to_unit_f32(b[k]) as f64;
                match dtype {
                    DType::F32 => random_fill::<_, 4>(len, &g, first, |b, k| sample(b, k) as f32).into(),
                    DType::F16 => random_fill::<_, 4>(len, &g, first, |b, k| f16::from_f64(sample(b, k))).into(),
                    _ => random_fill::<_, 4>(len, &g, first, |b, k| bf16::from_f64(sample(b, k))).into(),
                }
            }
        },
        Distribution::Normal { mean, std } => {
            let sample = |b: [u32; 4], _| mean + std * Philox::block_to_normal(b);
            match plan.dtype {
                DType::F32 => random_fill::<_, 1>(len, &g, first, |b, k| sample(b, k) as f32).into(),
                DType::F64 => random_fill::<_, 1>(len, &g, first, sample).into(),
                DType::F16 => random_fill::<_, 1>(len, &g, first, |b, k| f16::from_f64(sample(b, k))).into(),
                _ => random_fill::<_, 1>(len, &g, first, |b, k| bf16::from_f64(sample(b, k))).into(),
            }
        }
        Distribution::Bernoulli { p } => {
            let hit = |b: [u32; 4], k: usize| Philox::words_to_unit_f64(b[2 * k], b[2 * k + 1]) < p;
            match plan.dtype {
                DType::F32 => random_fill::<_, 2>(len, &g, first, |b, k| hit(b, k) as u8 as f32).into(),
                DType::F64 => random_fill::<_, 2>(len, &g, first, |b, k| hit(b, k) as u8 as f64).into(),
                DType::F16 => random_fill::<_, 2>(len, &g, first, |b, k| f16::from_f32(hit(b, k) as u8 as f32)).into(),
                DType::BF16 => {
                    random_fill::<_, 2>(len, &g, first, |b, k| bf16::from_f32(hit(b, k) as u8 as f32)).into()
                }
                _ => random_fill::<_, 2>(len, &g, first, |b, k| hit(b, k) as u8).into(),
            }
        }
    }
}

/// The plan's dropout of `x`: element `n` is `x[n] * scale` where the mask keeps it, else 0, its
/// random word drawn as [`random`] draws uniform f32 values (so the CUDA half keeps the same).
pub fn dropout(plan: &DropoutPlan, x: &CpuBuffer) -> Result<CpuBuffer> {
    expect_dtype("dropout", plan.dtype, &[x])?;
    Ok(match x {
        CpuBuffer::F32(v) => masked(plan, v, plan.mask.scale() as f32),
        CpuBuffer::F64(v) => masked(plan, v, plan.mask.scale()),
        CpuBuffer::F16(v) => masked(plan, v, f16::from_f64(plan.mask.scale())),
        CpuBuffer::BF16(v) => masked(plan, v, bf16::from_f64(plan.mask.scale())),
        // The plan takes float tensors only.
        other => return Err(crate::Error::PlanMismatch { op: "dropout", expected: plan.dtype, got: other.dtype() }),
    })
}

fn masked<T: CpuElem + Mul<Output = T> + Select + Send + Sync>(plan: &DropoutPlan, data: &[T], scale: T) -> CpuBuffer {
    let xs = strided_values(data, &plan.input);
    let (mask, threshold, zero) = (plan.mask, plan.mask.keep_threshold(), T::from_f64(0.0));
    let out = par::build_vec(xs.len(), WORDS, |start, out| {
        let mut words = [0u32; WORDS];
        for (c, chunk) in out.chunks_mut(WORDS).enumerate() {
            let at = start + c * WORDS;
            let words = &mut words[..chunk.len()];
            mask_words(&mask, at as u64, words);
            keep_scaled_into(words, threshold, scale, zero, &xs[at..at + chunk.len()], chunk);
        }
    });
    T::wrap(out)
}

/// Random words per call of `philox_blocks`.
const WORDS: usize = 4 * LANES;

/// The random words of elements `first ..= first + out.len() - 1` of `mask` (word `n % 4` of
/// block `mask.block_of(n)` for element `n`), computed `LANES` blocks at a time.
pub(crate) fn mask_words(mask: &DropoutMask, first: u64, out: &mut [u32]) {
    let mut blocks = [[0u32; 4]; LANES];
    let (mut n, mut done) = (first, 0);
    while done < out.len() {
        philox_blocks(mask.seed, mask.block_of(n), &mut blocks);
        let skip = (n % 4) as usize;
        let take = (WORDS - skip).min(out.len() - done);
        out[done..done + take].copy_from_slice(&blocks.as_flattened()[skip..skip + take]);
        (n, done) = (n + take as u64, done + take);
    }
}

multiversion! {
    /// `x[i] * scale` where `(words[i] >> 8) >= threshold`, else `zero`, into `dst`.
    fn keep_scaled_into<T>(words: &[u32], threshold: u32, scale: T, zero: T, x: &[T], dst: &mut [MaybeUninit<T>])
    where T: Select + (Mul<Output = T>)
    {
        for ((o, &w), &v) in dst.iter_mut().zip(words).zip(x) {
            o.write(T::select((w >> 8) >= threshold, zero, v * scale));
        }
    }
}

multiversion! {
    /// `x[i] *= scale` where `(words[i] >> 8) >= threshold`, else `x[i] = zero`.
    fn keep_scaled_in_place<T>(words: &[u32], threshold: u32, scale: T, zero: T, x: &mut [T])
    where T: Select + (Mul<Output = T>)
    {
        for (v, &w) in x.iter_mut().zip(words) {
            *v = T::select((w >> 8) >= threshold, zero, *v * scale);
        }
    }
}

/// Builds `len` values from the Philox blocks `first, first + 1, ...` of `g`, `PER` values per
/// block: value `i` is `sample(block(first + i / PER), i % PER)`, so it depends only on `i` and
/// the reserved counters (the same numbers whatever the thread count, and as the CUDA half draws
/// them). In parallel when large; each block is computed once, not once per value it feeds.
fn random_fill<T: Element + Send, const PER: usize>(
    len: usize,
    g: &Philox,
    first: u64,
    sample: impl Fn([u32; 4], usize) -> T + Sync,
) -> Vec<T> {
    let seed = g.seed();
    par::build_vec(len, 64, |start, out| {
        let (mut i, mut rest) = (start, out);
        let mut blocks = [[0u32; 4]; LANES];
        let mut have: Option<u64> = None;
        while !rest.is_empty() {
            let (block, skip) = (i / PER, i % PER);
            let counter = first + block as u64;
            let at = match have {
                Some(h) if counter >= h && counter - h < LANES as u64 => (counter - h) as usize,
                _ => {
                    philox_blocks(seed, counter, &mut blocks);
                    have = Some(counter);
                    0
                }
            };
            let words = blocks[at];
            let n = (PER - skip).min(rest.len());
            let (now, later) = rest.split_at_mut(n);
            for (k, o) in now.iter_mut().enumerate() {
                o.write(sample(words, skip + k));
            }
            (i, rest) = (i + n, later);
        }
    })
}

/// Philox blocks computed side by side (32 measured slower on the seq2seq step: short runs waste
/// more of them).
const LANES: usize = 16;

use super::simd::multiversion;
multiversion! {
    /// Blocks `counter .. counter + LANES` of the Philox4x32-10 stream of `seed` (what
    /// `Philox::block` gives one by one), lane by lane so that the rounds vectorise.
    fn philox_blocks<>(seed: u64, counter: u64, out: &mut [[u32; 4]; LANES]) where
    {
        const M0: u32 = 0xD251_1F53;
        const M1: u32 = 0xCD9E_8D57;
        const W0: u32 = 0x9E37_79B9;
        const W1: u32 = 0xBB67_AE85;
        // Each 32-bit word lives in the low half of a 64-bit lane, so that the 32 x 32 -> 64-bit
        // products are single unsigned multiplies of even lanes (vpmuludq) and no lane is
        // widened or narrowed between rounds.
        const LOW: u64 = 0xFFFF_FFFF;
        let (mut c0, mut c1, mut c2, mut c3) = ([0u64; LANES], [0u64; LANES], [0u64; LANES], [0u64; LANES]);
        for l in 0..LANES {
            let c = counter.wrapping_add(l as u64);
            c0[l] = c & LOW;
            c1[l] = c >> 32;
        }
        let mut k = [seed & LOW, seed >> 32];
        for round in 0..10 {
            if round > 0 {
                k[0] = (k[0] + W0 as u64) & LOW;
                k[1] = (k[1] + W1 as u64) & LOW;
            }
            for l in 0..LANES {
                let p0 = (M0 as u64) * (c0[l] & LOW);
                let p1 = (M1 as u64) * (c2[l] & LOW);
                c0[l] = (p1 >> 32) ^ c1[l] ^ k[0];
                c1[l] = p1 & LOW;
                c2[l] = (p0 >> 32) ^ c3[l] ^ k[1];
                c3[l] = p0 & LOW;
            }
        }
        for l in 0..LANES {
            out[l] = [c0[l] as u32, c1[l] as u32, c2[l] as u32, c3[l] as u32];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::{Layout, Shape};

    /// Value `i` of a fill drawn on its own from its block `i / per`: what every fill must give.
    fn one_by_one(per: usize, len: usize, sample: impl Fn([u32; 4], usize) -> f64) -> Vec<f64> {
        let g = Philox::new(7);
        (0..len).map(|i| sample(g.block((i / per) as u64), i % per)).collect()
    }

    #[test]
    fn mask_words_are_each_elements_word_from_any_start() {
        let mask = DropoutMask { p: 0.5, seed: 0xfeed, first: 9 };
        let rng = Philox::new(mask.seed);
        for first in 0..9u64 {
            for len in [0, 1, 3, 63, 64, 65, 150] {
                let mut got = vec![0u32; len];
                mask_words(&mask, first, &mut got);
                let want: Vec<u32> =
                    (first..first + len as u64).map(|n| rng.block(mask.block_of(n))[(n % 4) as usize]).collect();
                assert_eq!(got, want, "first {first}, len {len}");
                assert!(got
                    .iter()
                    .zip(first..)
                    .all(|(&w, n)| ((w >> 8) >= mask.keep_threshold()) == mask.keeps(&rng, n)));
            }
        }
    }

    #[test]
    fn philox_blocks_match_block() {
        let g = Philox::new(0x1234_5678_9abc);
        let mut out = [[0u32; 4]; LANES];
        for start in [0u64, 5, u32::MAX as u64 - 3, 1 << 40] {
            philox_blocks(g.seed(), start, &mut out);
            for (l, b) in out.iter().enumerate() {
                assert_eq!(*b, g.block(start + l as u64));
            }
        }
    }

    #[test]
    fn random_fills_draw_each_value_from_its_block_on_any_thread_count() {
        let len = 3 * par::PAR_MIN_ELEMS + 5;
        let l = Layout::contiguous(Shape::new(vec![len]));
        let u32s = one_by_one(4, len, |b, k| (-1.0 + 3.0 * Philox::word_to_unit_f32(b[k]) as f64) as f32 as f64);
        let u64s = one_by_one(2, len, |b, k| -1.0 + 3.0 * Philox::words_to_unit_f64(b[2 * k], b[2 * k + 1]));
        let hits = one_by_one(2, len, |b, k| (Philox::words_to_unit_f64(b[2 * k], b[2 * k + 1]) < 0.3) as u8 as f64);
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let fill = |dtype, bern: bool| {
                let mut g = Philox::new(7);
                let dist =
                    if bern { Distribution::Bernoulli { p: 0.3 } } else { Distribution::Uniform { lo: -1.0, hi: 2.0 } };
                let plan = RandomPlan::new(dist, &mut g, dtype, len).unwrap();
                pool.install(|| random(&plan)).to_f64_vec(&l)
            };
            assert!(fill(DType::F32, false) == u32s, "f32 uniform on {threads} threads");
            assert!(fill(DType::F64, false) == u64s, "f64 uniform on {threads} threads");
            assert!(fill(DType::F32, true) == hits, "bernoulli on {threads} threads");
        }
    }

    #[test]
    fn dropout_keeps_exactly_the_elements_its_mask_names_on_any_thread_count() {
        use crate::plan::{Arg, DropoutMask, DropoutPlan};
        // A transposed view, long enough to be split across threads and not a multiple of 64.
        let (rows, cols) = (3, par::PAR_MIN_ELEMS / 2 + 7);
        let data: Vec<f64> = (0..rows * cols).map(|i| i as f64 + 1.0).collect();
        let layout = Layout::contiguous(Shape::new(vec![rows, cols])).transpose(0, 1).unwrap();
        let x = CpuBuffer::F64(data.clone());
        for p in [0.0, 0.3, 0.9] {
            let mut g = Philox::new(5);
            g.take(2);
            let mask = DropoutMask::draw(p, &mut g, rows * cols).unwrap();
            let rng = Philox::new(mask.seed);
            let want: Vec<f64> = (0..rows * cols)
                .map(|n| {
                    let (c, r) = (n / rows, n % rows);
                    if mask.keeps(&rng, n as u64) {
                        data[r * cols + c] * mask.scale()
                    } else {
                        0.0
                    }
                })
                .collect();
            let plan = DropoutPlan::new(Arg::new(DType::F64, &layout), mask).unwrap();
            for threads in [1, 3] {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                let got = pool
                    .install(|| dropout(&plan, &x))
                    .unwrap()
                    .to_f64_vec(&Layout::contiguous(Shape::new(vec![rows * cols])));
                assert!(got == want, "p {p} on {threads} threads");
            }
            let kept = want.iter().filter(|&&v| v != 0.0).count() as f64 / want.len() as f64;
            assert!((kept - (1.0 - p)).abs() < 0.02, "p {p}: kept {kept}");
        }
    }
}
