//! The sum of the squares of a tensor's elements in one pass, without a squared copy: what
//! gradient clipping and loss scaling read a gradient's norm from.

use super::buffer::{expect_dtype, strided_values, CpuBuffer};
use super::half::Half;
use super::lanes::sum_lanes;
use super::par;
use super::simd::multiversion;
use super::unary::FloatMath;
use crate::plan::SumSquaresPlan;
use crate::Result;
use rayon::prelude::*;
use tessera_core::{bf16, f16};

/// Elements per partial sum: fixed, and the partials added in order, so that the result has the
/// same bits on any number of threads.
const CHUNK: usize = 1 << 14;

/// `Σ x²` over every element of `buf` seen through the plan's view, as one value of the plan's
/// output dtype (f16 and bf16 are squared and summed in f32).
pub fn sum_squares(plan: &SumSquaresPlan, buf: &CpuBuffer) -> Result<CpuBuffer> {
    expect_dtype("sum_squares", plan.dtype, &[buf])?;
    let l = &plan.layout;
    Ok(match buf {
        CpuBuffer::F32(v) => vec![of(&strided_values(v, l))].into(),
        CpuBuffer::F64(v) => vec![of(&strided_values(v, l))].into(),
        CpuBuffer::F16(v) => vec![of(&f16::widen(&strided_values(v, l)))].into(),
        CpuBuffer::BF16(v) => vec![of(&bf16::widen(&strided_values(v, l)))].into(),
        _ => unreachable!("the plan admits float dtypes only"),
    })
}

fn of<T: FloatMath + Send + Sync>(xs: &[T]) -> T {
    let partials: Vec<T> = if par::worth_parallel(xs.len()) {
        xs.par_chunks(CHUNK).map(chunk_sum).collect()
    } else {
        xs.chunks(CHUNK).map(chunk_sum).collect()
    };
    partials.into_iter().fold(T::ZERO, |total, p| total + p)
}

multiversion! {
    fn chunk_sum<T>(xs: &[T]) -> T
    where T: FloatMath
    {
        sum_lanes(xs, xs, |x, _| x * x)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Arg;
    use tessera_core::{DType, Layout, Shape};

    #[test]
    fn the_sum_of_squares_matches_f64_and_the_thread_count_does_not_change_it() {
        for len in [0, 1, 7, CHUNK - 1, CHUNK + 3, 5 * CHUNK + 17] {
            let v: Vec<f32> = (0..len).map(|i| ((i * 7919) % 1000) as f32 / 250.0 - 2.0).collect();
            let want: f64 = v.iter().map(|&x| (x as f64) * (x as f64)).sum();
            let layout = Layout::contiguous(Shape::new(vec![len]));
            let plan = SumSquaresPlan::new(Arg::new(DType::F32, &layout)).unwrap();
            let buf = CpuBuffer::from(v);
            let mut got = Vec::new();
            for threads in [1, 2, 3] {
                let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
                let out = pool.install(|| sum_squares(&plan, &buf)).unwrap();
                got.push(out.as_slice::<f32>().unwrap()[0]);
            }
            assert!(got.iter().all(|g| g.to_bits() == got[0].to_bits()), "{len}: {got:?}");
            assert!((got[0] as f64 - want).abs() <= 1e-6 * want.max(1.0), "{len}: {} against {want}", got[0]);
        }
    }
}
