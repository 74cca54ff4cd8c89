//! The host model of cuBLAS's strided-batched GEMM that the emulated device's matmul runs: the
//! same parameters (leading dims, transposes, batch strides) as `matmul.rs` hands cuBLAS.

use tessera_core::{bf16, f16, DType};

/// One strided-batched GEMM in cuBLAS's column-major terms: `C[p] = op(A[p]) op(B[p])` (+ `C[p]`
/// when `accumulate`), `C` m x n, over `count` matrices; pointers are host addresses of
/// `dtype` elements.
pub(crate) struct Gemm {
    pub dtype: DType,
    pub transposed: (bool, bool),
    pub m: usize,
    pub n: usize,
    pub k: usize,
    pub a: (u64, usize, usize),
    pub b: (u64, usize, usize),
    pub c: (u64, usize, usize),
    pub count: usize,
    pub accumulate: bool,
}

impl Gemm {
    /// Runs the product on the host: f32 and f64 through the `gemm` crate with the strides the
    /// leading dims give, the half types naively, accumulating in f32 as cuBLAS's compute type.
    ///
    /// # Safety
    /// The pointers address buffers holding every element the leading dims and strides reach.
    pub(crate) unsafe fn run_on_host(&self) {
        // SAFETY: the caller's contract.
        unsafe {
            match self.dtype {
                DType::F64 => self.run_gemm::<f64>(1.0),
                DType::F32 => self.run_gemm::<f32>(1.0),
                DType::F16 => self.run_naive::<f16>(f16::to_f32, f16::from_f32),
                DType::BF16 => self.run_naive::<bf16>(bf16::to_f32, bf16::from_f32),
                _ => unreachable!("the matmul plan admits float dtypes only"),
            }
        }
    }

    /// # Safety
    /// As [`Gemm::run_on_host`], with `T` the element type of `dtype`.
    unsafe fn run_gemm<T: 'static + Copy>(&self, one: T) {
        let ((ta, tb), (a, lda, sa), (b, ldb, sb), (c, ldc, sc)) = (self.transposed, self.a, self.b, self.c);
        // (row stride, column stride) of op(A) (m x k), op(B) (k x n) and C (m x n), column-major.
        let a_strides = if ta { (lda, 1) } else { (1, lda) };
        let b_strides = if tb { (ldb, 1) } else { (1, ldb) };
        for p in 0..self.count {
            // SAFETY: the caller's contract; gemm reads C only when accumulating.
            unsafe {
                gemm::gemm(
                    self.m,
                    self.n,
                    self.k,
                    (c as *mut T).add(p * sc),
                    ldc as isize,
                    1,
                    self.accumulate,
                    (a as *const T).add(p * sa),
                    a_strides.1 as isize,
                    a_strides.0 as isize,
                    (b as *const T).add(p * sb),
                    b_strides.1 as isize,
                    b_strides.0 as isize,
                    one,
                    one,
                    false,
                    false,
                    false,
                    gemm::Parallelism::None,
                )
            }
        }
    }

    /// # Safety
    /// As [`Gemm::run_on_host`], with `T` the element type of `dtype`.
    unsafe fn run_naive<T: Copy>(&self, load: impl Fn(T) -> f32, store: impl Fn(f32) -> T) {
        let ((ta, tb), (a, lda, sa), (b, ldb, sb), (c, ldc, sc)) = (self.transposed, self.a, self.b, self.c);
        // SAFETY (every read): the caller's contract.
        let at = |p: u64, i: usize| unsafe { load(*(p as *const T).add(i)) };
        for p in 0..self.count {
            for j in 0..self.n {
                for i in 0..self.m {
                    let mut acc = if self.accumulate { at(c, p * sc + j * ldc + i) } else { 0.0 };
                    for l in 0..self.k {
                        let av = at(a, p * sa + if ta { i * lda + l } else { l * lda + i });
                        let bv = at(b, p * sb + if tb { l * ldb + j } else { j * ldb + l });
                        acc += av * bv;
                    }
                    // SAFETY: the caller's contract.
                    unsafe { *(c as *mut T).add(p * sc + j * ldc + i) = store(acc) };
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `gemm` crate's path (f32) and the naive one (f16) read the same elements through the
    /// leading dims, transposes and batch strides: on small integers, which both hold exactly,
    /// they agree to the bit, with and without accumulation.
    #[test]
    fn both_host_gemm_paths_read_cublas_parameters_alike() {
        let (m, n, k, count) = (3, 4, 5, 2);
        let values =
            |len: usize, seed: usize| -> Vec<f32> { (0..len).map(|i| ((i * 7 + seed) % 9) as f32 - 4.0).collect() };
        for (ta, tb, accumulate) in
            [(false, false, false), (true, false, true), (false, true, false), (true, true, true)]
        {
            let (lda, ldb, ldc) = (if ta { k + 1 } else { m + 2 }, if tb { n + 3 } else { k }, m + 1);
            let (sa, sb, sc) = (lda * if ta { m } else { k }, 0, ldc * n);
            let (a, b, c) = (values(sa * count, 1), values(ldb * if tb { k } else { n }, 2), values(sc * count, 3));
            let half = |v: &[f32]| -> Vec<f16> { v.iter().map(|&x| f16::from_f32(x)).collect() };
            let (ah, bh) = (half(&a), half(&b));
            let (mut c32, mut c16) = (c.clone(), half(&c));
            let gemm = |dtype, pa: u64, pb: u64, pc: u64| Gemm {
                dtype,
                transposed: (ta, tb),
                m,
                n,
                k,
                a: (pa, lda, sa),
                b: (pb, ldb, sb),
                c: (pc, ldc, sc),
                count,
                accumulate,
            };
            // SAFETY: each buffer holds every element its leading dim and stride reach.
            unsafe {
                gemm(DType::F32, a.as_ptr() as u64, b.as_ptr() as u64, c32.as_mut_ptr() as u64).run_on_host();
                gemm(DType::F16, ah.as_ptr() as u64, bh.as_ptr() as u64, c16.as_mut_ptr() as u64).run_on_host();
            }
            let back: Vec<f32> = c16.iter().map(|x| x.to_f32()).collect();
            assert_eq!(c32, back, "op(A) {ta}, op(B) {tb}, accumulate {accumulate}");
            // One element by hand: C[1, 2] of the second matrix.
            let (i, j, p) = (1, 2, 1);
            let at_a = |l: usize| a[p * sa + if ta { i * lda + l } else { l * lda + i }];
            let at_b = |l: usize| b[p * sb + if tb { l * ldb + j } else { j * ldb + l }];
            let start = if accumulate { c[p * sc + j * ldc + i] } else { 0.0 };
            assert_eq!(c32[p * sc + j * ldc + i], (0..k).fold(start, |s, l| s + at_a(l) * at_b(l)));
        }
    }
}
