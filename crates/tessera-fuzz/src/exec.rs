//! Running one input in-process: panics are caught (with their message, place and backtrace),
//! and each run is timed in wall-clock and CPU time. A watchdog thread ends a worker whose run
//! goes past the time limit, which no in-process check could interrupt.

use crate::sys;
use crate::targets::Target;
use std::backtrace::Backtrace;
use std::cell::Cell;
use std::panic::{catch_unwind, AssertUnwindSafe, PanicHookInfo};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

/// The most CPU time one input may take.
pub const CPU_LIMIT: Duration = Duration::from_secs(1);

/// The most wall-clock time one input may take, however loaded the machine (a run that sleeps
/// or waits forever uses no CPU).
pub const WALL_LIMIT: Duration = Duration::from_secs(10);

/// A panic caught while running an input.
#[derive(Debug, Clone)]
pub struct PanicReport {
    /// The panic's message.
    pub message: String,
    /// Where it panicked (`file:line:column`).
    pub location: String,
    /// The backtrace, resolved.
    pub backtrace: String,
}

/// What running an input did.
#[derive(Debug, Clone)]
pub enum Verdict {
    /// It returned: the outcome's signature.
    Done(String),
    /// It panicked.
    Panic(PanicReport),
}

/// A run of one input.
#[derive(Debug, Clone)]
pub struct Execution {
    /// What it did.
    pub verdict: Verdict,
    /// Wall-clock time.
    pub wall: Duration,
    /// CPU time of the calling thread.
    pub cpu: Duration,
}

impl Execution {
    /// Whether it took longer than [`CPU_LIMIT`] of CPU (or [`WALL_LIMIT`] of wall-clock) time.
    pub fn too_slow(&self) -> bool {
        self.cpu > CPU_LIMIT || self.wall > WALL_LIMIT
    }
}

thread_local! {
    /// Whether this thread is running an input (its panics are then caught quietly).
    static IN_TARGET: Cell<bool> = const { Cell::new(false) };
    /// Wall-clock and CPU time the running input has spent in [`untimed`] sections.
    static UNTIMED: Cell<(Duration, Duration)> = const { Cell::new((Duration::ZERO, Duration::ZERO)) };
}

/// Runs `f` outside the running input's time limits: for a target's one-off set-up (a
/// dictionary built once per worker and kept in a `OnceLock`), which would otherwise be charged
/// to whichever input happens to run first. The watchdog pauses while `f` runs and [`execute`]
/// leaves its time out of the run's.
pub fn untimed<T>(f: impl FnOnce() -> T) -> T {
    let started = RUN_STARTED_MS.swap(0, Ordering::SeqCst);
    let (wall, cpu, process) = (Instant::now(), sys::thread_cpu_time(), sys::process_cpu_time());
    let out = f();
    let (wall, cpu) = (wall.elapsed(), sys::thread_cpu_time().saturating_sub(cpu));
    UNTIMED.with(|u| {
        let (w, c) = u.get();
        u.set((w + wall, c + cpu));
    });
    if started != 0 {
        // The run resumes as if it had begun later by the time spent here.
        let spent = sys::process_cpu_time().saturating_sub(process).as_micros() as u64;
        RUN_STARTED_CPU_US.fetch_add(spent, Ordering::SeqCst);
        RUN_STARTED_MS.store(started + wall.as_millis() as u64, Ordering::SeqCst);
    }
    out
}

/// The last panic caught by the hook (a panic in a helper thread is re-raised on the running
/// one, so this is not thread-local).
static LAST_PANIC: Mutex<Option<(String, Backtrace)>> = Mutex::new(None);

/// The panic's message.
fn payload_message(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "(a panic without a message)".to_string())
}

/// Installs (once) a panic hook that records panics while an input runs, with a backtrace, and
/// leaves every other panic to the previous hook (a test's own assertions print as usual).
pub fn install_panic_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info: &PanicHookInfo<'_>| {
            if !IN_TARGET.with(Cell::get) {
                return previous(info);
            }
            let location = info.location().map(|l| l.to_string()).unwrap_or_else(|| "(unknown place)".into());
            let mut last = LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner());
            *last = Some((location, Backtrace::force_capture()));
        }));
    });
}

/// Runs `input` through `target`, catching a panic.
pub fn execute(target: &Target, input: &[u8]) -> Execution {
    install_panic_hook();
    let (wall, cpu) = (Instant::now(), sys::thread_cpu_time());
    UNTIMED.with(|u| u.set((Duration::ZERO, Duration::ZERO)));
    watchdog_begin();
    IN_TARGET.with(|t| t.set(true));
    let result = catch_unwind(AssertUnwindSafe(|| (target.run)(input)));
    IN_TARGET.with(|t| t.set(false));
    watchdog_end();
    let (skip_wall, skip_cpu) = UNTIMED.with(Cell::get);
    let wall = wall.elapsed().saturating_sub(skip_wall);
    let cpu = sys::thread_cpu_time().saturating_sub(cpu).saturating_sub(skip_cpu);
    let verdict = match result {
        Ok(signature) => Verdict::Done(signature),
        Err(payload) => {
            let recorded = LAST_PANIC.lock().unwrap_or_else(|e| e.into_inner()).take();
            let (location, backtrace) = match recorded {
                Some((l, b)) => (l, b.to_string()),
                None => ("(another thread)".to_string(), String::new()),
            };
            Verdict::Panic(PanicReport { message: payload_message(payload.as_ref()), location, backtrace })
        }
    };
    Execution { verdict, wall, cpu }
}

/// When the current run began, in milliseconds since [`start_watchdog`] (0: no run).
static RUN_STARTED_MS: AtomicU64 = AtomicU64::new(0);

/// The process CPU time when the current run began, in microseconds.
static RUN_STARTED_CPU_US: AtomicU64 = AtomicU64::new(0);

/// The watchdog's clock origin.
static EPOCH: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

fn watchdog_begin() {
    if let Some(epoch) = EPOCH.get() {
        RUN_STARTED_CPU_US.store(sys::process_cpu_time().as_micros() as u64, Ordering::SeqCst);
        RUN_STARTED_MS.store(epoch.elapsed().as_millis() as u64 + 1, Ordering::SeqCst);
    }
}

fn watchdog_end() {
    RUN_STARTED_MS.store(0, Ordering::SeqCst);
}

/// Starts a thread that calls `on_timeout(wall, cpu)` when a run of [`execute`] passes
/// [`CPU_LIMIT`] of process CPU time or [`WALL_LIMIT`]; `on_timeout` must end the process. For
/// one fuzzing thread per process (a worker).
pub fn start_watchdog(on_timeout: fn(Duration, Duration) -> !) {
    let epoch = *EPOCH.get_or_init(Instant::now);
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_millis(50));
        let started = RUN_STARTED_MS.load(Ordering::SeqCst);
        if started == 0 {
            continue;
        }
        let wall = epoch.elapsed().saturating_sub(Duration::from_millis(started - 1));
        let cpu_start = Duration::from_micros(RUN_STARTED_CPU_US.load(Ordering::SeqCst));
        let cpu = sys::process_cpu_time().saturating_sub(cpu_start);
        // The run may have ended (and another begun) while these were read: check it is the same.
        if RUN_STARTED_MS.load(Ordering::SeqCst) == started && (cpu > CPU_LIMIT || wall > WALL_LIMIT) {
            on_timeout(wall, cpu);
        }
    });
}

/// Aborts the process after `limit` unless it has ended: a guard for test binaries, where a
/// run that never returns would otherwise hang the test.
pub fn abort_after(limit: Duration, what: &'static str) {
    std::thread::spawn(move || {
        std::thread::sleep(limit);
        eprintln!("tessera-fuzz: {what} still running after {} s: aborting", limit.as_secs());
        std::process::abort();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    fn busy(d: Duration) {
        let start = sys::thread_cpu_time();
        while sys::thread_cpu_time().saturating_sub(start) < d {
            std::hint::black_box(0u64);
        }
    }

    /// A target that spends 0.2 s of CPU in set-up and a little outside it: the run is charged
    /// only the little.
    #[test]
    fn untimed_set_up_is_left_out_of_the_run() {
        fn run(_: &[u8]) -> String {
            untimed(|| busy(Duration::from_millis(200)));
            busy(Duration::from_millis(5));
            "ok".into()
        }
        let target = Target { name: "t", about: "", run, tokens: &[], json: false, two_files: false };
        let ran = execute(&target, b"");
        assert!(ran.cpu >= Duration::from_millis(5) && ran.cpu < Duration::from_millis(100), "{:?}", ran.cpu);
        assert!(ran.wall < Duration::from_millis(150), "{:?}", ran.wall);
    }
}
