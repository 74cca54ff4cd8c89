//! Inner loops compiled three times: for the baseline target, with AVX2+FMA and with AVX-512,
//! picked at run time (the widest the CPU has, unless `TESSERA_CPU_ISA` caps it: see
//! [`tessera_core::cpu_isa`]).
//!
//! The loops are plain iterator code that LLVM vectorises; the `target_feature` copies let it use
//! 256- or 512-bit registers on machines that have them without requiring `-C target-cpu=native`
//! (on this project's AVX-512 Xeon the 512-bit copies made a GPT training step 13% faster).

use super::unary::FloatMath;
use std::mem::MaybeUninit;
use tessera_core::CpuIsa;

/// Whether the kernels may use AVX2 and FMA (see [`tessera_core::cpu_isa`]).
#[inline(always)]
pub(crate) fn has_avx2() -> bool {
    tessera_core::cpu_isa() >= CpuIsa::Avx2
}

/// Whether the kernels may use AVX-512 F, VL and DQ (see [`tessera_core::cpu_isa`]).
#[inline(always)]
pub(crate) fn has_avx512() -> bool {
    tessera_core::cpu_isa() >= CpuIsa::Avx512
}

/// Declares `$name`, which runs `$body` compiled with AVX-512 or AVX2+FMA when the CPU has it.
macro_rules! multiversion {
    ($(#[$doc:meta])* fn $name:ident<$($g:ident $(: $b:path)?),*>($($arg:ident : $ty:ty),*) $(-> $ret:ty)? where $($wt:ident : $wb:tt $(+ $wb2:tt)*),* $body:block) => {
        $(#[$doc])*
        pub(crate) fn $name<$($g $(: $b)?),*>($($arg: $ty),*) $(-> $ret)? where $($wt: $wb $(+ $wb2)*),* {
            #[inline(always)]
            fn generic<$($g $(: $b)?),*>($($arg: $ty),*) $(-> $ret)? where $($wt: $wb $(+ $wb2)*),* $body
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            unsafe fn avx2<$($g $(: $b)?),*>($($arg: $ty),*) $(-> $ret)? where $($wt: $wb $(+ $wb2)*),* {
                generic($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,avx512vl,avx512dq,avx2,fma")]
            unsafe fn avx512<$($g $(: $b)?),*>($($arg: $ty),*) $(-> $ret)? where $($wt: $wb $(+ $wb2)*),* {
                generic($($arg),*)
            }
            #[cfg(target_arch = "x86_64")]
            if $crate::cpu::simd::has_avx512() {
                // SAFETY: the CPU supports the features `avx512` was compiled for.
                return unsafe { avx512($($arg),*) };
            }
            #[cfg(target_arch = "x86_64")]
            if $crate::cpu::simd::has_avx2() {
                // SAFETY: the CPU supports the features `avx2` was compiled for.
                return unsafe { avx2($($arg),*) };
            }
            generic($($arg),*)
        }
    };
}
pub(crate) use multiversion;

/// Asks the CPU to start loading every cache line of `s` into L1 (a hint: it never faults and
/// does nothing where the target has no prefetch instruction). For a kernel that walks rows of a
/// buffer written long before, a few kilobytes apart: the hardware prefetchers stop at each gap,
/// so each row's first loads would wait on the L3 or memory.
#[inline(always)]
pub(crate) fn prefetch<T>(s: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
        let (p, bytes) = (s.as_ptr().cast::<i8>(), std::mem::size_of_val(s));
        for offset in (0..bytes).step_by(64) {
            // SAFETY: the address lies inside `s`, and a prefetch only hints.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p.add(offset)) };
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = s;
}

/// [`prefetch`] of the `k`-th `len`-element block of `next` (nothing past its end): for a kernel
/// that works through a row block by block and fetches the next row, whose first pass would
/// otherwise wait on memory, while it computes.
#[inline(always)]
pub(crate) fn prefetch_block<T>(next: &[T], k: usize, len: usize) {
    if let Some(block) = next.get(k * len..(k + 1) * len) {
        prefetch(block);
    }
}

multiversion! {
    fn map_into<T, U, F>(src: &[T], dst: &mut [MaybeUninit<U>], f: &F)
    where T: Copy, F: (Fn(T) -> U)
    {
        for (o, &x) in dst.iter_mut().zip(src) {
            o.write(f(x));
        }
    }
}

multiversion! {
    fn zip_into<T, U, F>(a: &[T], b: &[T], dst: &mut [MaybeUninit<U>], f: &F)
    where T: Copy, F: (Fn(T, T) -> U)
    {
        for ((o, &x), &y) in dst.iter_mut().zip(a).zip(b) {
            o.write(f(x, y));
        }
    }
}

multiversion! {
    fn zip_scalar_into<T, U, F>(a: &[T], s: T, dst: &mut [MaybeUninit<U>], f: &F)
    where T: Copy, F: (Fn(T, T) -> U)
    {
        for (o, &x) in dst.iter_mut().zip(a) {
            o.write(f(x, s));
        }
    }
}

multiversion! {
    fn scalar_zip_into<T, U, F>(s: T, b: &[T], dst: &mut [MaybeUninit<U>], f: &F)
    where T: Copy, F: (Fn(T, T) -> U)
    {
        for (o, &y) in dst.iter_mut().zip(b) {
            o.write(f(s, y));
        }
    }
}

multiversion! {
    fn sum_f32<>(xs: &[f32]) -> f32 where
    {
        // Eight independent lanes: vectorises, and is more accurate than one running sum.
        let mut acc = [0f32; 8];
        let chunks = xs.chunks_exact(8);
        let rest = chunks.remainder();
        for c in chunks {
            for i in 0..8 {
                acc[i] += c[i];
            }
        }
        let mut s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
        for &x in rest {
            s += x;
        }
        s
    }
}

multiversion! {
    fn sum_f64<>(xs: &[f64]) -> f64 where
    {
        let mut acc = [0f64; 4];
        let chunks = xs.chunks_exact(4);
        let rest = chunks.remainder();
        for c in chunks {
            for i in 0..4 {
                acc[i] += c[i];
            }
        }
        let mut s = (acc[0] + acc[2]) + (acc[1] + acc[3]);
        for &x in rest {
            s += x;
        }
        s
    }
}

multiversion! {
    fn add_assign_f32<>(acc: &mut [f32], xs: &[f32]) where
    {
        for (a, &x) in acc.iter_mut().zip(xs) {
            *a += x;
        }
    }
}

multiversion! {
    fn add_assign_f64<>(acc: &mut [f64], xs: &[f64]) where
    {
        for (a, &x) in acc.iter_mut().zip(xs) {
            *a += x;
        }
    }
}

multiversion! {
    /// `acc += (a + b) + (c + d)`, element by element (each line at least as long as `acc`).
    fn add4_assign<T>(acc: &mut [T], a: &[T], b: &[T], c: &[T], d: &[T]) where T: FloatMath
    {
        let n = acc.len();
        let (a, b, c, d) = (&a[..n], &b[..n], &c[..n], &d[..n]);
        for j in 0..n {
            acc[j] = acc[j] + ((a[j] + b[j]) + (c[j] + d[j]));
        }
    }
}

/// A value picked from two without a branch, through bit masks: data-dependent picks (masks,
/// dropout, running maxima) then vectorise instead of mispredicting, and LLVM does not turn
/// them back into branches as it does plain selects.
pub(crate) trait Select: Copy {
    /// `b` where `take`, else `a`.
    fn select(take: bool, a: Self, b: Self) -> Self;
}

macro_rules! select_through_bits {
    ($($t:ty => $bits:ty),*) => {$(
        impl Select for $t {
            #[inline(always)]
            fn select(take: bool, a: $t, b: $t) -> $t {
                let m = (take as $bits).wrapping_neg();
                <$t>::from_bits(a.to_bits() ^ ((a.to_bits() ^ b.to_bits()) & m))
            }
        }
    )*};
}
select_through_bits!(f32 => u32, f64 => u64, tessera_core::f16 => u16, tessera_core::bf16 => u16);

macro_rules! select_integers {
    ($($t:ty),*) => {$(
        impl Select for $t {
            #[inline(always)]
            fn select(take: bool, a: $t, b: $t) -> $t {
                a ^ ((a ^ b) & (take as $t).wrapping_neg())
            }
        }
    )*};
}
select_integers!(u8, u32, i64);

multiversion! {
    /// `mask[i] != 0 ? on_true[i] : on_false[i]` into `dst` (all of `dst`'s length).
    fn select_into<T>(mask: &[u8], on_true: &[T], on_false: &[T], dst: &mut [MaybeUninit<T>])
    where T: Select
    {
        for (((o, &m), &t), &f) in dst.iter_mut().zip(mask).zip(on_true).zip(on_false) {
            o.write(T::select(m != 0, f, t));
        }
    }
}

multiversion! {
    /// `(mask[i] != 0) == when ? fill : values[i]` into `dst` (all of `dst`'s length): `where`
    /// with one side a broadcast scalar (ReLU's gradient, masking).
    fn select_fill_into<T>(mask: &[u8], when: bool, fill: T, values: &[T], dst: &mut [MaybeUninit<T>])
    where T: Select
    {
        for ((o, &m), &v) in dst.iter_mut().zip(mask).zip(values) {
            o.write(T::select((m != 0) == when, v, fill));
        }
    }
}
