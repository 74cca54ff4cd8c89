//! When and how CPU kernels use more than one thread.
//!
//! Spawning work on rayon costs a few microseconds, which is more than a whole elementwise op on
//! a [32, 128] tensor, so kernels stay on the calling thread below [`PAR_MIN_ELEMS`] elements.

use rayon::prelude::*;
use std::cell::RefCell;
use std::mem::MaybeUninit;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Below this many elements an elementwise or reduction kernel runs on the calling thread.
pub const PAR_MIN_ELEMS: usize = 1 << 16;

/// Whether work of `elems` elements is worth splitting across threads.
#[inline]
pub fn worth_parallel(elems: usize) -> bool {
    elems >= PAR_MIN_ELEMS && rayon::current_num_threads() > 1
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

/// Keeps the other threads of the current rayon pool spinning for work while it lives, so that
/// the many short parallel kernels of a training step do not each pay for waking a sleeping
/// thread (a futex call on the caller's side and a context switch on the woken one: on a 2-vCPU
/// VM this cost as much as the second thread saved on an LSTM step). OpenMP runtimes keep their
/// threads spinning the same way between parallel regions.
///
/// Create it on a thread of the pool that runs the step (e.g. inside `pool.install`), for the
/// span of the hot loop: the other threads then burn their CPU while it lives. Outside a rayon
/// pool, or in a pool of one thread, it does nothing. The trainer holds one per training step and
/// per evaluation batch.
///
/// ```
/// let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().unwrap();
/// let total: u64 = pool.install(|| {
///     let _warm = tessera_kernels::cpu::par::KeepWarm::new();
///     (0..1000u64).map(|i| rayon::join(|| i, || 1).0).sum()
/// });
/// assert_eq!(total, 499_500);
/// ```
#[must_use = "the other threads stop spinning when this is dropped"]
pub struct KeepWarm {
    stop: Option<Arc<AtomicBool>>,
}

impl KeepWarm {
    /// Sets every other thread of the current pool spinning (see [`KeepWarm`]).
    pub fn new() -> KeepWarm {
        let Some(me) = rayon::current_thread_index() else { return KeepWarm { stop: None } };
        if rayon::current_num_threads() < 2 {
            return KeepWarm { stop: None };
        }
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        rayon::spawn_broadcast(move |ctx| {
            if ctx.index() != me {
                spin(flag.clone());
            }
        });
        KeepWarm { stop: Some(stop) }
    }
}

impl Default for KeepWarm {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for KeepWarm {
    fn drop(&mut self) {
        if let Some(stop) = &self.stop {
            stop.store(true, Ordering::Release);
        }
    }
}

thread_local! {
    /// The stop flag the spinner at the bottom of this thread's stack watches, if one runs.
    static SPINNING: RefCell<Option<Arc<AtomicBool>>> = const { RefCell::new(None) };
}

/// Runs pending jobs (this thread's, stolen or injected) until `flag` is set. A spinner that
/// starts while another runs lower on the same thread (inside a job the lower one took) hands
/// its flag down and returns at once: spinning there would hold that job's frame until the new
/// flag is set, and the job may be what the flag's owner waits for.
fn spin(flag: Arc<AtomicBool>) {
    if SPINNING.with(|s| s.borrow_mut().replace(flag).is_some()) {
        return;
    }
    let mut idle = 0u32;
    while SPINNING.with(|s| s.borrow().as_ref().is_some_and(|f| !f.load(Ordering::Acquire))) {
        if rayon::yield_now() == Some(rayon::Yield::Executed) {
            idle = 0;
        } else {
            idle = idle.wrapping_add(1);
            // Now and then the CPU goes to any other runnable thread (another process of a
            // distributed run on the same cores); with none, this returns at once.
            if idle % 64 == 0 {
                std::thread::yield_now();
            } else {
                std::hint::spin_loop();
            }
        }
    }
    SPINNING.with(|s| s.borrow_mut().take());
}
