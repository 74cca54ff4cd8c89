//! [`spin_bands`]: a parallel for-each over a few large bands whose caller waits spinning.
//!
//! With `par_iter().for_each`, a caller that finishes its band before another thread finishes its
//! own waits in rayon's join, which after a few rounds puts the thread to sleep; the other
//! thread's last write then has to wake it. On a 2-vCPU VM that wake took 7 to 45 µs, measured
//! around the GPT step's row-banded products (120 to 550 µs each, about 50 a step).

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// Runs `band(i)` for every `i` in `0..count`, on the pool's threads: each takes the next band
/// nobody has taken, and the calling thread, once out of bands, spins until every band is done.
/// One thread alone (the others busy elsewhere) takes them all. A band that panics ends the
/// call with its panic.
pub(crate) fn spin_bands(count: usize, band: impl Fn(usize) + Sync) {
    let threads = rayon::current_num_threads().min(count);
    if threads < 2 {
        (0..count).for_each(band);
        return;
    }
    let (next, finished, abandoned) = (AtomicUsize::new(0), AtomicUsize::new(0), AtomicBool::new(false));
    let work = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= count {
            break;
        }
        abandon_on_panic(&abandoned, || band(i));
        finished.fetch_add(1, Ordering::Release);
    };
    super::rearm();
    rayon::scope(|s| {
        for _ in 1..threads {
            s.spawn(|_| work());
        }
        work();
        spin_until(&finished, count, &abandoned);
    });
}

/// Runs `f`, setting `abandoned` if it panics, so that threads waiting for its work stop waiting.
pub(crate) fn abandon_on_panic<R>(abandoned: &AtomicBool, f: impl FnOnce() -> R) -> R {
    /// Sets its flag when dropped, which happens only while `f` unwinds (it is forgotten after
    /// `f` returns).
    struct Guard<'a>(&'a AtomicBool);
    impl Drop for Guard<'_> {
        fn drop(&mut self) {
            self.0.store(true, Ordering::Release);
        }
    }
    let guard = Guard(abandoned);
    let result = f();
    std::mem::forget(guard);
    result
}

/// Waits until `count` reaches `target` (true) or `abandoned` is set (false): spinning, as the
/// wait is one band at most, and yielding the core now and then in case the pool has more
/// threads than the machine cores.
pub(crate) fn spin_until(count: &AtomicUsize, target: usize, abandoned: &AtomicBool) -> bool {
    let mut spins = 0u32;
    while count.load(Ordering::Acquire) < target {
        if abandoned.load(Ordering::Acquire) {
            return false;
        }
        spins = spins.wrapping_add(1);
        if spins.is_multiple_of(4096) {
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every band runs once on pools of 1 to 3 threads, for fewer, as many and more bands than
    /// threads.
    #[test]
    fn every_band_runs_once() {
        for threads in [1, 2, 3] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            for count in [0, 1, 2, 5] {
                let runs: Vec<AtomicUsize> = (0..count).map(|_| AtomicUsize::new(0)).collect();
                pool.install(|| {
                    spin_bands(count, |i| {
                        runs[i].fetch_add(1, Ordering::SeqCst);
                    })
                });
                assert!(runs.iter().all(|r| r.load(Ordering::SeqCst) == 1), "{count} bands on {threads} threads");
            }
        }
    }

    /// A band's panic reaches the caller, where the caller would otherwise spin for ever.
    #[test]
    fn a_bands_panic_reaches_the_caller() {
        for threads in [1, 2] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let outcome = pool.install(|| {
                std::panic::catch_unwind(|| {
                    spin_bands(2, |i| {
                        if i == 1 {
                            panic!("band failed");
                        }
                    })
                })
            });
            let message = outcome.expect_err("the panic reaches the caller");
            assert_eq!(message.downcast_ref::<&str>(), Some(&"band failed"), "{threads} threads");
        }
    }
}
