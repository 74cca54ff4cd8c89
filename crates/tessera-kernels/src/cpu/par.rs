//! When and how CPU kernels use more than one thread.
//!
//! Spawning work on rayon costs a few microseconds, which is more than a whole elementwise op on
//! a [32, 128] tensor, so kernels stay on the calling thread below [`PAR_MIN_ELEMS`] elements.

use rayon::prelude::*;
use std::mem::MaybeUninit;

mod keep_warm;
mod spin_bands;
pub(crate) use keep_warm::rearm;
pub use keep_warm::KeepWarm;
pub(crate) use spin_bands::{abandon_on_panic, spin_bands, spin_until};

/// Below this many elements an elementwise or reduction kernel runs on the calling thread.
pub const PAR_MIN_ELEMS: usize = 1 << 16;

/// Whether work of `elems` elements is worth splitting across threads (and if so, the
/// [`KeepWarm`] of this thread, if any, has its spinners started again where they gave up).
#[inline]
pub fn worth_parallel(elems: usize) -> bool {
    let worth = elems >= PAR_MIN_ELEMS && rayon::current_num_threads() > 1;
    if worth {
        rearm();
    }
    worth
}

/// [`worth_parallel`] for work whose elements each cost about `cost` times a copied element's
/// (a transcendental function and a few multiply-adds: about 8): such work pays for the split
/// at fewer elements.
#[inline]
pub fn worth_parallel_costly(elems: usize, cost: usize) -> bool {
    worth_parallel(elems.saturating_mul(cost))
}

/// Whether this process may run on more cores than the calling rayon pool's threads use: then
/// a thread that mostly waits (for communication) does not take a core from the kernels.
pub fn spare_core() -> bool {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores > rayon::current_num_threads()
}

/// Chunk length that gives each thread a few pieces (for load balance) of at least
/// `PAR_MIN_ELEMS / 4` elements, rounded to a multiple of `align`.
pub fn chunk_len(elems: usize, align: usize) -> usize {
    let pieces = rayon::current_num_threads() * 4;
    let len = elems.div_ceil(pieces).max(PAR_MIN_ELEMS / 4);
    len.div_ceil(align.max(1)) * align.max(1)
}

/// [`chunk_len`] for work whose elements each cost about `cost` copied elements' time.
pub fn chunk_len_costly(elems: usize, align: usize, cost: usize) -> usize {
    let pieces = rayon::current_num_threads() * 4;
    let len = elems.div_ceil(pieces).max((PAR_MIN_ELEMS / 4).div_ceil(cost.max(1)));
    len.div_ceil(align.max(1)) * align.max(1)
}

/// Builds a vector of `len` elements by filling chunks of it, in parallel when large.
/// `fill(start, chunk)` must initialise every element of `chunk`, which begins at `start`.
pub(crate) fn build_vec<U, F>(len: usize, align: usize, fill: F) -> Vec<U>
where
    U: Send,
    F: Fn(usize, &mut [MaybeUninit<U>]) + Sync,
{
    let mut out = Vec::with_capacity(len);
    fill_uninit(&mut out.spare_capacity_mut()[..len], align, fill);
    // SAFETY: `fill` initialised all `len` elements (the contract above).
    unsafe { out.set_len(len) };
    out
}

/// A vector of `len` copies of `value`, written by the pool's threads when large. A zeroed
/// buffer from the caching allocator is a reused block cleared by one `memset` on the calling
/// thread, which for an output the size of a language model's logits was a serial pass the
/// other threads waited through; kernels that accumulate into a zeroed output take it from
/// here instead.
pub(crate) fn filled<U: Copy + Send + Sync>(len: usize, value: U) -> Vec<U> {
    build_vec(len, 1, |_, chunk| {
        for e in chunk {
            e.write(value);
        }
    })
}

/// Fills `dst` chunk by chunk (chunks a multiple of `align` long), in parallel when large:
/// `fill(start, chunk)` gets each chunk and the index of its first element.
pub(crate) fn fill_uninit<U, F>(dst: &mut [MaybeUninit<U>], align: usize, fill: F)
where
    U: Send,
    F: Fn(usize, &mut [MaybeUninit<U>]) + Sync,
{
    if worth_parallel(dst.len()) {
        let chunk = chunk_len(dst.len(), align);
        dst.par_chunks_mut(chunk).enumerate().for_each(|(i, c)| fill(i * chunk, c));
    } else {
        fill(0, dst);
    }
}
