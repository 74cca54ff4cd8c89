//! Buffers made from nothing: constants, ranges, identity matrices, random fills.

use super::buffer::CpuBuffer;
use super::par;
use crate::Result;
use tessera_core::{bf16, f16, DType, Element, Error, Philox};

/// `len` copies of `value` (converted to `dtype`: floats round, integers saturate).
pub fn full(dtype: DType, len: usize, value: f64) -> CpuBuffer {
    fn fill<T: Element>(len: usize, v: f64) -> Vec<T> {
        vec![T::from_f64(v); len]
    }
    match dtype {
        DType::F32 => fill::<f32>(len, value).into(),
        DType::F64 => fill::<f64>(len, value).into(),
        DType::F16 => fill::<f16>(len, value).into(),
        DType::BF16 => fill::<bf16>(len, value).into(),
        DType::U8 => fill::<u8>(len, value).into(),
        DType::U32 => fill::<u32>(len, value).into(),
        DType::I64 => fill::<i64>(len, value).into(),
    }
}

/// `start, start + step, ...` up to but excluding `end`, as in `torch.arange`.
pub fn arange(dtype: DType, start: f64, end: f64, step: f64) -> Result<CpuBuffer> {
    if step == 0.0 || !step.is_finite() || !start.is_finite() || !end.is_finite() {
        return Err(Error::InvalidArgument {
            op: "arange",
            msg: format!("start {start}, end {end} and step {step} must be finite with a nonzero step"),
        }
        .into());
    }
    let count = ((end - start) / step).ceil();
    let len = if count > 0.0 { count as usize } else { 0 };
    Ok(from_fn(dtype, len, |i| start + i as f64 * step))
}

/// The `rows x cols` identity matrix (ones on the main diagonal), row-major.
pub fn eye(dtype: DType, rows: usize, cols: usize) -> CpuBuffer {
    from_fn(dtype, rows * cols, |i| if i / cols.max(1) == i % cols.max(1) { 1.0 } else { 0.0 })
}

fn from_fn(dtype: DType, len: usize, f: impl Fn(usize) -> f64) -> CpuBuffer {
    fn build<T: Element>(len: usize, f: &dyn Fn(usize) -> f64) -> Vec<T> {
        (0..len).map(|i| T::from_f64(f(i))).collect()
    }
    match dtype {
        DType::F32 => build::<f32>(len, &f).into(),
        DType::F64 => build::<f64>(len, &f).into(),
        DType::F16 => build::<f16>(len, &f).into(),
        DType::BF16 => build::<bf16>(len, &f).into(),
        DType::U8 => build::<u8>(len, &f).into(),
        DType::U32 => build::<u32>(len, &f).into(),
        DType::I64 => build::<i64>(len, &f).into(),
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
    par::build_vec(len, 64, |start, out| {
        let (mut i, mut rest) = (start, out);
        while !rest.is_empty() {
            let (block, skip) = (i / PER, i % PER);
            let words = g.block(first + block as u64);
            let n = (PER - skip).min(rest.len());
            let (now, later) = rest.split_at_mut(n);
            for (k, o) in now.iter_mut().enumerate() {
                o.write(sample(words, skip + k));
            }
            (i, rest) = (i + n, later);
        }
    })
}

/// Checks the arguments of a uniform fill (shared with the CUDA half).
pub(crate) fn check_uniform(dtype: DType, lo: f64, hi: f64) -> Result<()> {
    float_only("uniform", dtype)?;
    if !lo.is_finite() || !hi.is_finite() || lo > hi {
        return Err(Error::InvalidArgument {
            op: "uniform",
            msg: format!("bounds [{lo}, {hi}) must be finite with lo <= hi"),
        }
        .into());
    }
    Ok(())
}

/// Checks the arguments of a normal fill (shared with the CUDA half).
pub(crate) fn check_normal(dtype: DType, mean: f64, std: f64) -> Result<()> {
    float_only("normal", dtype)?;
    if !std.is_finite() || !mean.is_finite() || std < 0.0 {
        return Err(Error::InvalidArgument {
            op: "normal",
            msg: format!("mean {mean} and std {std} must be finite with std >= 0"),
        }
        .into());
    }
    Ok(())
}

/// Checks the arguments of a bernoulli fill (shared with the CUDA half).
pub(crate) fn check_bernoulli(dtype: DType, p: f64) -> Result<()> {
    if !(0.0..=1.0).contains(&p) {
        return Err(Error::InvalidArgument { op: "bernoulli", msg: format!("probability {p} is not in [0, 1]") }.into());
    }
    if !(dtype.is_float() || dtype == DType::U8) {
        return Err(Error::UnsupportedDType { op: "bernoulli", dtype, hint: " (use a float dtype or u8)" }.into());
    }
    Ok(())
}

fn float_only(op: &'static str, dtype: DType) -> Result<()> {
    if dtype.is_float() {
        Ok(())
    } else {
        Err(Error::UnsupportedDType { op, dtype, hint: " (random values need a float dtype)" }.into())
    }
}

/// Uniform samples in `[lo, hi)`. Advances `rng`.
pub fn uniform(rng: &mut Philox, dtype: DType, len: usize, lo: f64, hi: f64) -> Result<CpuBuffer> {
    check_uniform(dtype, lo, hi)?;
    let g = rng.clone();
    Ok(match dtype {
        DType::F64 => {
            let first = rng.take(len.div_ceil(2) as u64);
            random_fill::<_, 2>(len, &g, first, |b, k| {
                lo + (hi - lo) * Philox::words_to_unit_f64(b[2 * k], b[2 * k + 1])
            })
            .into()
        }
        _ => {
            let first = rng.take(len.div_ceil(4) as u64);
            let sample = |b: [u32; 4], k: usize| lo + (hi - lo) * Philox::word_to_unit_f32(b[k]) as f64;
            match dtype {
                DType::F32 => random_fill::<_, 4>(len, &g, first, |b, k| sample(b, k) as f32).into(),
                DType::F16 => random_fill::<_, 4>(len, &g, first, |b, k| f16::from_f64(sample(b, k))).into(),
                _ => random_fill::<_, 4>(len, &g, first, |b, k| bf16::from_f64(sample(b, k))).into(),
            }
        }
    })
}

/// Normal samples with mean `mean` and standard deviation `std`. Advances `rng`.
pub fn normal(rng: &mut Philox, dtype: DType, len: usize, mean: f64, std: f64) -> Result<CpuBuffer> {
    check_normal(dtype, mean, std)?;
    let g = rng.clone();
    let first = rng.take(len as u64);
    let sample = |b: [u32; 4], _| mean + std * Philox::block_to_normal(b);
    Ok(match dtype {
        DType::F32 => random_fill::<_, 1>(len, &g, first, |b, k| sample(b, k) as f32).into(),
        DType::F64 => random_fill::<_, 1>(len, &g, first, sample).into(),
        DType::F16 => random_fill::<_, 1>(len, &g, first, |b, k| f16::from_f64(sample(b, k))).into(),
        _ => random_fill::<_, 1>(len, &g, first, |b, k| bf16::from_f64(sample(b, k))).into(),
    })
}

/// 1 with probability `p`, else 0, in `dtype` (a float dtype or `u8`). Advances `rng`.
pub fn bernoulli(rng: &mut Philox, dtype: DType, len: usize, p: f64) -> Result<CpuBuffer> {
    check_bernoulli(dtype, p)?;
    let g = rng.clone();
    let first = rng.take(len.div_ceil(2) as u64);
    let hit = |b: [u32; 4], k: usize| Philox::words_to_unit_f64(b[2 * k], b[2 * k + 1]) < p;
    Ok(match dtype {
        DType::F32 => random_fill::<_, 2>(len, &g, first, |b, k| hit(b, k) as u8 as f32).into(),
        DType::F64 => random_fill::<_, 2>(len, &g, first, |b, k| hit(b, k) as u8 as f64).into(),
        DType::F16 => random_fill::<_, 2>(len, &g, first, |b, k| f16::from_f32(hit(b, k) as u8 as f32)).into(),
        DType::BF16 => random_fill::<_, 2>(len, &g, first, |b, k| bf16::from_f32(hit(b, k) as u8 as f32)).into(),
        _ => random_fill::<_, 2>(len, &g, first, |b, k| hit(b, k) as u8).into(),
    })
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
                let buf = pool.install(|| {
                    if bern {
                        bernoulli(&mut g, dtype, len, 0.3)
                    } else {
                        uniform(&mut g, dtype, len, -1.0, 2.0)
                    }
                });
                buf.unwrap().to_f64_vec(&l)
            };
            assert!(fill(DType::F32, false) == u32s, "f32 uniform on {threads} threads");
            assert!(fill(DType::F64, false) == u64s, "f64 uniform on {threads} threads");
            assert!(fill(DType::F32, true) == hits, "bernoulli on {threads} threads");
        }
    }
}
