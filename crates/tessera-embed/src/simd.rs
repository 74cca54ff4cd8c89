//! The vector loops of training and search: dot products and axpy updates on raw rows, as AVX2 +
//! FMA intrinsics on x86-64 CPUs that have them (chosen at run time) and as portable 8-lane
//! loops elsewhere.
//!
//! The functions take raw pointers because training updates rows shared between threads without
//! locks (see `train::store`); each caller states why its pointers are valid for `n` values.

/// The loops, one implementation per instruction set. Callers monomorphise their hot loop over
/// it, inside a function compiled for the same instruction set, so that every call inlines.
pub(crate) trait Kernel: Copy + Send + Sync + 'static {
    /// `Σ a[i] b[i]` over `n` values.
    ///
    /// # Safety
    /// `a` and `b` are valid for reading `n` values.
    unsafe fn dot(a: *const f32, b: *const f32, n: usize) -> f32;

    /// `acc += g * row; row += g * x` in one pass over `n` values (the negative-sampling update:
    /// the error for the input vector, then the output vector's step).
    ///
    /// # Safety
    /// `row` is valid for reading and writing `n` values, `x` for reading, `acc` for reading and
    /// writing; `acc` does not overlap `row` or `x`.
    unsafe fn update(row: *mut f32, g: f32, x: *const f32, acc: *mut f32, n: usize);

    /// `y += a * x` over `n` values.
    ///
    /// # Safety
    /// `x` is valid for reading and `y` for reading and writing `n` values.
    unsafe fn axpy(a: f32, x: *const f32, y: *mut f32, n: usize);
}

/// Plain Rust, written in 8 independent lanes so that the compiler vectorises it for the
/// baseline instruction set.
#[derive(Clone, Copy)]
pub(crate) struct Portable;

impl Kernel for Portable {
    #[inline(always)]
    unsafe fn dot(a: *const f32, b: *const f32, n: usize) -> f32 {
        // SAFETY: the caller guarantees `n` readable values behind both pointers.
        let (a, b) = unsafe { (std::slice::from_raw_parts(a, n), std::slice::from_raw_parts(b, n)) };
        let mut acc = [0f32; 8];
        let (ac, bc) = (a.chunks_exact(8), b.chunks_exact(8));
        let tail: f32 = ac.remainder().iter().zip(bc.remainder()).map(|(x, y)| x * y).sum();
        for (x, y) in ac.zip(bc) {
            for j in 0..8 {
                acc[j] += x[j] * y[j];
            }
        }
        ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7])) + tail
    }

    #[inline(always)]
    unsafe fn update(row: *mut f32, g: f32, x: *const f32, acc: *mut f32, n: usize) {
        for i in 0..n {
            // SAFETY: `i < n`, within what the caller guarantees for each pointer.
            unsafe {
                let r = *row.add(i);
                *acc.add(i) += g * r;
                *row.add(i) = r + g * *x.add(i);
            }
        }
    }

    #[inline(always)]
    unsafe fn axpy(a: f32, x: *const f32, y: *mut f32, n: usize) {
        for i in 0..n {
            // SAFETY: `i < n`, within what the caller guarantees for each pointer.
            unsafe { *y.add(i) += a * *x.add(i) };
        }
    }
}

/// AVX2 + FMA (x86-64). Only called from code compiled with those features, after
/// [`Avx2::available`] said yes.
#[derive(Clone, Copy)]
pub(crate) struct Avx2;

impl Avx2 {
    /// Whether this CPU has AVX2 and FMA, and `TESSERA_CPU_ISA` does not hold the kernels below
    /// it (see [`tessera_core::cpu_isa`]).
    pub(crate) fn available() -> bool {
        tessera_core::cpu_isa() >= tessera_core::CpuIsa::Avx2
    }
}

#[cfg(target_arch = "x86_64")]
impl Kernel for Avx2 {
    #[inline(always)]
    unsafe fn dot(a: *const f32, b: *const f32, n: usize) -> f32 {
        use std::arch::x86_64::*;
        // SAFETY: the caller guarantees `n` readable values and that AVX2 and FMA are present;
        // every load stays below `n`.
        unsafe {
            let (mut s0, mut s1) = (_mm256_setzero_ps(), _mm256_setzero_ps());
            let mut i = 0;
            while i + 16 <= n {
                s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a.add(i)), _mm256_loadu_ps(b.add(i)), s0);
                s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a.add(i + 8)), _mm256_loadu_ps(b.add(i + 8)), s1);
                i += 16;
            }
            if i + 8 <= n {
                s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a.add(i)), _mm256_loadu_ps(b.add(i)), s0);
                i += 8;
            }
            let s = _mm256_add_ps(s0, s1);
            let mut q = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
            if i + 4 <= n {
                q = _mm_fmadd_ps(_mm_loadu_ps(a.add(i)), _mm_loadu_ps(b.add(i)), q);
                i += 4;
            }
            let q = _mm_add_ps(q, _mm_movehl_ps(q, q));
            let q = _mm_add_ss(q, _mm_shuffle_ps(q, q, 1));
            let mut total = _mm_cvtss_f32(q);
            while i < n {
                total += *a.add(i) * *b.add(i);
                i += 1;
            }
            total
        }
    }

    #[inline(always)]
    unsafe fn update(row: *mut f32, g: f32, x: *const f32, acc: *mut f32, n: usize) {
        use std::arch::x86_64::*;
        // SAFETY: as for `dot`; `acc` does not overlap `row` or `x` (caller's guarantee).
        unsafe {
            let gv = _mm256_set1_ps(g);
            let mut i = 0;
            while i + 8 <= n {
                let r = _mm256_loadu_ps(row.add(i));
                _mm256_storeu_ps(acc.add(i), _mm256_fmadd_ps(gv, r, _mm256_loadu_ps(acc.add(i))));
                _mm256_storeu_ps(row.add(i), _mm256_fmadd_ps(gv, _mm256_loadu_ps(x.add(i)), r));
                i += 8;
            }
            if i + 4 <= n {
                let g4 = _mm_set1_ps(g);
                let r = _mm_loadu_ps(row.add(i));
                _mm_storeu_ps(acc.add(i), _mm_fmadd_ps(g4, r, _mm_loadu_ps(acc.add(i))));
                _mm_storeu_ps(row.add(i), _mm_fmadd_ps(g4, _mm_loadu_ps(x.add(i)), r));
                i += 4;
            }
            while i < n {
                let r = *row.add(i);
                *acc.add(i) += g * r;
                *row.add(i) = r + g * *x.add(i);
                i += 1;
            }
        }
    }

    #[inline(always)]
    unsafe fn axpy(a: f32, x: *const f32, y: *mut f32, n: usize) {
        use std::arch::x86_64::*;
        // SAFETY: as for `dot`.
        unsafe {
            let av = _mm256_set1_ps(a);
            let mut i = 0;
            while i + 8 <= n {
                _mm256_storeu_ps(y.add(i), _mm256_fmadd_ps(av, _mm256_loadu_ps(x.add(i)), _mm256_loadu_ps(y.add(i))));
                i += 8;
            }
            if i + 4 <= n {
                let a4 = _mm_set1_ps(a);
                _mm_storeu_ps(y.add(i), _mm_fmadd_ps(a4, _mm_loadu_ps(x.add(i)), _mm_loadu_ps(y.add(i))));
                i += 4;
            }
            while i < n {
                *y.add(i) += a * *x.add(i);
                i += 1;
            }
        }
    }
}

/// Elsewhere `Avx2` is never chosen ([`Avx2::available`] is false); these forward to the portable
/// loops so that generic code compiles.
#[cfg(not(target_arch = "x86_64"))]
impl Kernel for Avx2 {
    unsafe fn dot(a: *const f32, b: *const f32, n: usize) -> f32 {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { Portable::dot(a, b, n) }
    }
    unsafe fn update(row: *mut f32, g: f32, x: *const f32, acc: *mut f32, n: usize) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { Portable::update(row, g, x, acc, n) }
    }
    unsafe fn axpy(a: f32, x: *const f32, y: *mut f32, n: usize) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { Portable::axpy(a, x, y, n) }
    }
}

/// Asks the CPU to start loading the `n` values at `p` into cache (a hint: no effect on results,
/// and nothing is read through the pointer).
#[inline(always)]
pub(crate) fn prefetch(p: *const f32, n: usize) {
    #[cfg(target_arch = "x86_64")]
    for line in (0..n).step_by(16) {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        // SAFETY: a prefetch is a hint that never faults, even for an address outside any
        // allocation; `wrapping_add` keeps the address computation itself defined.
        unsafe { _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(line) as *const i8) };
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = (p, n);
}

/// `a · b` for slices of equal length, with the fastest kernel this CPU has (for search, where
/// a call per row is cheap next to the row).
pub(crate) fn dot(a: &[f32], b: &[f32]) -> f32 {
    debug_assert_eq!(a.len(), b.len());
    let n = a.len().min(b.len());
    #[cfg(target_arch = "x86_64")]
    if Avx2::available() {
        // SAFETY: both slices hold `n` values, and the CPU has AVX2 and FMA.
        return unsafe { dot_avx2(a.as_ptr(), b.as_ptr(), n) };
    }
    // SAFETY: both slices hold `n` values.
    unsafe { Portable::dot(a.as_ptr(), b.as_ptr(), n) }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dot_avx2(a: *const f32, b: *const f32, n: usize) -> f32 {
    // SAFETY: forwarded with the caller's guarantees; this function has the features.
    unsafe { Avx2::dot(a, b, n) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn naive_dot(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
    }

    #[test]
    fn kernels_match_naive_loops_for_every_length() {
        for n in 0..40 {
            let a: Vec<f32> = (0..n).map(|i| (i as f32 * 0.37).sin()).collect();
            let b: Vec<f32> = (0..n).map(|i| (i as f32 * 0.11).cos()).collect();
            assert!((dot(&a, &b) as f64 - naive_dot(&a, &b)).abs() < 1e-5, "n = {n}");
            // SAFETY: every buffer holds `n` values; acc is separate from row and x.
            let (mut row, mut acc) = (a.clone(), vec![1.0f32; n]);
            unsafe { Portable::update(row.as_mut_ptr(), 0.5, b.as_ptr(), acc.as_mut_ptr(), n) };
            for i in 0..n {
                assert!((acc[i] - (1.0 + 0.5 * a[i])).abs() < 1e-6);
                assert!((row[i] - (a[i] + 0.5 * b[i])).abs() < 1e-6);
            }
            #[cfg(target_arch = "x86_64")]
            if Avx2::available() {
                let (mut row2, mut acc2) = (a.clone(), vec![1.0f32; n]);
                // SAFETY: as above, and the CPU has AVX2 and FMA.
                unsafe { Avx2::update(row2.as_mut_ptr(), 0.5, b.as_ptr(), acc2.as_mut_ptr(), n) };
                let mut y = a.clone();
                unsafe { Avx2::axpy(2.0, b.as_ptr(), y.as_mut_ptr(), n) };
                for i in 0..n {
                    assert!((acc2[i] - acc[i]).abs() < 1e-6 && (row2[i] - row[i]).abs() < 1e-6);
                    assert!((y[i] - (a[i] + 2.0 * b[i])).abs() < 1e-6);
                }
            }
        }
    }
}
