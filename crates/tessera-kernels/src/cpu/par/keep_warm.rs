//! [`KeepWarm`]: the pool's other threads spin for work between the kernels of a training step.

use std::cell::RefCell;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a spinner looks for work and finds none before it gives up and lets its thread sleep.
/// Besides letting a long serial stretch of the caller go without a core burnt beside it, this
/// bounds the one case where spinning would stall the pool: a spin job that a thread picks up
/// while it waits inside a join (the job was queued while the thread was busy) sits on top of
/// that join's frame, and the join's caller may be waiting for exactly that frame to return.
/// Long next to the gaps between a training step's kernels (0.5 ms made the steps wait for
/// wakes again in some A/B runs), short next to a step.
const IDLE_LIMIT: Duration = Duration::from_millis(5);

/// Keeps the other threads of the current rayon pool spinning for work while it lives, so that
/// the many short parallel kernels of a training step do not each pay for waking a sleeping
/// thread (a futex call on the caller's side and a context switch on the woken one: on a 2-vCPU
/// VM this cost as much as the second thread saved on an LSTM step). OpenMP runtimes keep their
/// threads spinning the same way between parallel regions.
///
/// Create it on a thread of the pool that runs the step (e.g. inside `pool.install`), for the
/// span of the hot loop. A spinner that finds no work for 5 ms goes back to sleep,
/// and the next parallel kernel started on this thread while the guard lives starts it again;
/// so the other threads spin through the short gaps between kernels and sleep through long
/// ones. Outside a rayon pool, or in a pool of one thread, it does nothing. The trainer holds one
/// per training step and per evaluation batch.
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
    warm: Option<Arc<Warm>>,
    /// The guard this one nests in, restored as the thread's own when this one drops.
    outer: Option<Arc<Warm>>,
}

/// One guard's shared state.
struct Warm {
    stop: AtomicBool,
    /// Spin jobs queued or running for this guard (a thread counted once).
    armed: AtomicUsize,
    /// The pool's threads other than the owner's.
    others: usize,
    owner: usize,
}

thread_local! {
    /// On the owner's thread: its innermost live guard.
    static OWNED: RefCell<Option<Arc<Warm>>> = const { RefCell::new(None) };
    /// On a spinning thread: the guard the spinner at the bottom of its stack serves.
    static SPINNING: RefCell<Option<Arc<Warm>>> = const { RefCell::new(None) };
}

impl KeepWarm {
    /// Sets every other thread of the current pool spinning (see [`KeepWarm`]).
    pub fn new() -> KeepWarm {
        let Some(owner) = rayon::current_thread_index() else { return KeepWarm { warm: None, outer: None } };
        let threads = rayon::current_num_threads();
        if threads < 2 {
            return KeepWarm { warm: None, outer: None };
        }
        let warm =
            Arc::new(Warm { stop: AtomicBool::new(false), armed: AtomicUsize::new(0), others: threads - 1, owner });
        broadcast(&warm);
        let outer = OWNED.with(|o| o.borrow_mut().replace(warm.clone()));
        KeepWarm { warm: Some(warm), outer }
    }
}

impl Default for KeepWarm {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for KeepWarm {
    fn drop(&mut self) {
        if let Some(warm) = &self.warm {
            warm.stop.store(true, Ordering::Release);
            OWNED.with(|o| *o.borrow_mut() = self.outer.take());
        }
    }
}

/// Queues one spin job on every other thread of the pool for `warm`.
fn broadcast(warm: &Arc<Warm>) {
    warm.armed.fetch_add(warm.others, Ordering::AcqRel);
    let w = warm.clone();
    rayon::spawn_broadcast(move |ctx| {
        if ctx.index() != w.owner {
            spin(w.clone());
        }
    });
}

/// On the owner's thread, before a parallel kernel: starts again the spinners of its live guard
/// that gave up (each costs the wake that [`KeepWarm`] otherwise saves, once per long gap).
pub(crate) fn rearm() {
    OWNED.with(|o| {
        if let Some(warm) = o.borrow().as_ref() {
            if warm.armed.load(Ordering::Acquire) < warm.others && !warm.stop.load(Ordering::Acquire) {
                broadcast(warm);
            }
        }
    });
}

/// Runs pending jobs (this thread's, stolen or injected) until `warm` stops or no work has come
/// for [`IDLE_LIMIT`]. A spin job that starts while a spinner runs lower on the same thread
/// (inside a job the lower one took) hands its guard down and returns at once: spinning there
/// would hold that job's frame, which the guard's owner may be waiting for.
fn spin(warm: Arc<Warm>) {
    let handed = SPINNING.with(|s| s.borrow_mut().replace(warm.clone()));
    if let Some(old) = handed {
        // The lower spinner serves `warm` now (this job's count), and leaves `old`.
        old.armed.fetch_sub(1, Ordering::AcqRel);
        return;
    }
    let mut idle = 0u32;
    let mut idle_since = Instant::now();
    loop {
        let serving = SPINNING.with(|s| s.borrow().clone());
        let Some(serving) = serving else { break };
        if serving.stop.load(Ordering::Acquire) {
            break;
        }
        if rayon::yield_now() == Some(rayon::Yield::Executed) {
            idle = 0;
            continue;
        }
        idle = idle.wrapping_add(1);
        if idle == 1 {
            idle_since = Instant::now();
        }
        if idle.is_multiple_of(64) {
            if idle_since.elapsed() >= IDLE_LIMIT {
                break;
            }
            // Now and then the CPU goes to any other runnable thread (another process of a
            // distributed run on the same cores); with none, this returns at once.
            std::thread::yield_now();
        } else {
            std::hint::spin_loop();
        }
    }
    if let Some(served) = SPINNING.with(|s| s.borrow_mut().take()) {
        served.armed.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pool(threads: usize) -> rayon::ThreadPool {
        rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap()
    }

    #[test]
    fn a_spinner_without_work_gives_up_though_its_guard_lives() {
        // What unblocks a spin job taken inside a join: it returns on its own.
        let warm = Arc::new(Warm { stop: AtomicBool::new(false), armed: AtomicUsize::new(1), others: 1, owner: 1 });
        let start = Instant::now();
        pool(2).install(|| spin(warm.clone()));
        assert!(start.elapsed() < Duration::from_secs(5), "returned after {:?}", start.elapsed());
        assert!(start.elapsed() >= IDLE_LIMIT);
        assert_eq!(warm.armed.load(Ordering::SeqCst), 0, "a spinner that leaves is no longer counted");
    }

    #[test]
    fn a_spin_job_taken_inside_a_join_does_not_hold_up_the_join() {
        // The hang of `train lm` on two threads, made to happen: thread B runs half of the
        // owner's join (B0, started before any guard) and, inside it, a join of its own whose
        // second half (B1) the owner steals; the owner makes a guard meanwhile, so B, waiting
        // for B1, picks up the spin job on top of B0's frame; the owner then waits for B0 with
        // the guard alive. Before spinners gave up when idle, B spun there for ever.
        use std::sync::atomic::AtomicU8;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let stage = AtomicU8::new(0);
            let done = pool(2).install(|| {
                let mut guard = None;
                rayon::join(
                    || {
                        while stage.load(Ordering::SeqCst) < 1 {
                            std::hint::spin_loop();
                        }
                        guard = Some(KeepWarm::new());
                        // Steal B1 from B's deque.
                        while stage.load(Ordering::SeqCst) < 2 {
                            rayon::yield_now();
                        }
                    },
                    || {
                        rayon::join(
                            || {
                                stage.store(1, Ordering::SeqCst);
                                while stage.load(Ordering::SeqCst) < 2 {
                                    std::hint::spin_loop();
                                }
                            },
                            || {
                                stage.store(2, Ordering::SeqCst);
                                // Still running when B looks for it, so that B waits.
                                std::thread::sleep(Duration::from_millis(50));
                            },
                        )
                    },
                );
                drop(guard);
                true
            });
            let _ = tx.send(done);
        });
        assert_eq!(rx.recv_timeout(Duration::from_secs(30)), Ok(true), "the join finished");
    }

    #[test]
    fn parallel_kernels_restart_the_spinners_that_gave_up() {
        pool(2).install(|| {
            let guard = KeepWarm::new();
            let warm = guard.warm.clone().expect("a pool of two keeps one thread warm");
            let wait_for = |armed: usize| {
                let start = Instant::now();
                while warm.armed.load(Ordering::SeqCst) != armed {
                    assert!(
                        start.elapsed() < Duration::from_secs(5),
                        "armed stayed {}",
                        warm.armed.load(Ordering::SeqCst)
                    );
                    std::thread::sleep(Duration::from_micros(100));
                }
            };
            wait_for(1);
            // Nothing to do for longer than the limit: the spinner leaves.
            std::thread::sleep(IDLE_LIMIT * 20);
            wait_for(0);
            assert!(crate::cpu::par::worth_parallel(1 << 20));
            wait_for(1);
            // Repeated kernels queue no more spin jobs than there are threads to spin.
            for _ in 0..100 {
                assert!(crate::cpu::par::worth_parallel(1 << 20));
            }
            assert_eq!(warm.armed.load(Ordering::SeqCst), 1);
            drop(guard);
            wait_for(0);
        });
    }
}
