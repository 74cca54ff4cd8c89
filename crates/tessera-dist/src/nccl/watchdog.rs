//! The NCCL member's watchdog: a thread that follows every collective queued on the GPU and ends
//! the communicator when one cannot finish, so that a lost rank makes the others fail instead
//! of waiting inside NCCL for ever.
//!
//! NCCL's kernels spin until every rank has taken part, so when a process dies the others' next
//! collective never completes, and their host threads block in the first stream synchronisation
//! after it. The watchdog wakes every [`WatchConfig::poll`] and fails the communicator when:
//!
//! - NCCL reports an asynchronous error (`ncclCommGetAsyncError`, e.g. a peer's connection
//!   closed);
//! - the oldest collective in flight has run longer than [`WatchConfig::timeout`];
//! - a collective has been overdue for [`WatchConfig::stale_after`] and some rank's heartbeat
//!   file (jobs joined through a rendezvous file) has not changed for as long: that rank is named
//!   as lost.
//!
//! Failing means: the message is printed, NCCL's communicator is aborted (which ends its kernels,
//! so the blocked synchronisation returns), and every later call of this member returns
//! [`Error::Aborted`] with the message. If no call has taken that error [`WatchConfig::grace`]
//! later (the host thread is stuck somewhere the abort did not reach), the process exits with
//! status 1, as PyTorch's NCCL watchdog tears its process down: a job must end, not hang.

use crate::Error;
use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

/// Whether a collective queued on the GPU has finished (a CUDA event recorded after it).
pub(crate) trait Completion: Send {
    /// `Ok(true)` once finished, `Ok(false)` while running, `Err` with CUDA's message.
    fn finished(&self) -> Result<bool, String>;
}

/// The watchdog's timings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct WatchConfig {
    /// How often the watchdog looks.
    pub(crate) poll: Duration,
    /// The longest a collective may run.
    pub(crate) timeout: Duration,
    /// How long a collective may be overdue while some rank's heartbeat stands still before that
    /// rank is taken for lost (and how often, at most a fifth of this, a rank writes its own).
    pub(crate) stale_after: Duration,
    /// How long after failing the process is given to return the error before it exits.
    pub(crate) grace: Duration,
}

impl Default for WatchConfig {
    /// Poll every second; a collective may run 10 minutes (PyTorch's default), a rank whose
    /// heartbeat stands still for 30 seconds while a collective is overdue is lost, and the
    /// process exits 15 seconds after a failure nobody took: a dead rank ends the job in under a
    /// minute.
    fn default() -> Self {
        WatchConfig {
            poll: Duration::from_secs(1),
            timeout: Duration::from_secs(600),
            stale_after: Duration::from_secs(30),
            grace: Duration::from_secs(15),
        }
    }
}

impl WatchConfig {
    /// The defaults, with the collective timeout from `TESSERA_NCCL_TIMEOUT` (seconds) where it
    /// is set to a positive number.
    pub(crate) fn from_env() -> WatchConfig {
        let set = std::env::var("TESSERA_NCCL_TIMEOUT").ok();
        let timeout = set.as_deref().and_then(parse_timeout).unwrap_or(WatchConfig::default().timeout);
        WatchConfig { timeout, ..WatchConfig::default() }
    }

    /// How long a collective runs before the heartbeats are looked at.
    fn overdue(&self) -> Duration {
        (self.poll * 5).min(self.timeout)
    }
}

/// `TESSERA_NCCL_TIMEOUT`'s value as a duration: a positive number of seconds, else `None`.
fn parse_timeout(seconds: &str) -> Option<Duration> {
    let s = seconds.trim().parse::<f64>().ok()?;
    (s.is_finite() && s > 0.0).then(|| Duration::from_secs_f64(s))
}

/// Files through which the ranks of a rendezvous job show that they are alive: one per rank
/// beside the rendezvous file, rewritten while the rank runs.
#[derive(Debug)]
pub(crate) struct Heartbeats {
    rank: usize,
    world: usize,
    stem: PathBuf,
    written: Option<Instant>,
    /// Per rank: the modification time last seen, and when this process saw it change.
    seen: Vec<Option<(Option<SystemTime>, Instant)>>,
}

impl Heartbeats {
    /// The heartbeats of a job whose rendezvous file is `rendezvous`.
    pub(crate) fn new(rendezvous: &std::path::Path, rank: usize, world: usize) -> Heartbeats {
        Heartbeats { rank, world, stem: rendezvous.to_path_buf(), written: None, seen: vec![None; world] }
    }

    /// Rank `rank`'s heartbeat file.
    pub(crate) fn file(&self, rank: usize) -> PathBuf {
        let mut name = self.stem.clone().into_os_string();
        name.push(format!(".alive.{rank}"));
        PathBuf::from(name)
    }

    /// Rewrites this rank's file when `every` has passed since the last time.
    fn beat(&mut self, every: Duration) {
        if self.written.is_some_and(|t| t.elapsed() < every) {
            return;
        }
        // A file system that refuses the write leaves the peers unable to name this rank when
        // it is lost, nothing worse: the collective timeout still ends the job.
        let _ = std::fs::write(self.file(self.rank), format!("pid {}\n", std::process::id()));
        self.written = Some(Instant::now());
    }

    /// The ranks whose file has not changed (or not existed) for `stale_after`, as seen from
    /// here, with how long. The first look at a rank only starts its clock, so that clocks of
    /// other machines never enter.
    fn stale(&mut self, stale_after: Duration) -> Vec<(usize, Duration)> {
        let now = Instant::now();
        let mut lost = Vec::new();
        for r in (0..self.world).filter(|&r| r != self.rank) {
            let modified = std::fs::metadata(self.file(r)).and_then(|m| m.modified()).ok();
            let seen = &mut self.seen[r];
            match seen {
                Some((last, since)) if *last == modified => {
                    let still = now - *since;
                    if still >= stale_after {
                        lost.push((r, still));
                    }
                }
                _ => *seen = Some((modified, now)),
            }
        }
        lost
    }

    /// Removes this rank's file (a clean end).
    fn remove(&self) {
        let _ = std::fs::remove_file(self.file(self.rank));
    }
}

/// One collective in flight.
struct Pending {
    seq: u64,
    op: &'static str,
    bytes: usize,
    since: Instant,
    done: Box<dyn Completion>,
}

#[derive(Default)]
struct State {
    pending: VecDeque<Pending>,
    launched: u64,
    failure: Option<String>,
    /// Whether a caller has been handed the failure.
    taken: bool,
    stopped: bool,
}

/// What the watchdog asks of NCCL; `None` in the tests, which have no NCCL.
pub(crate) struct NcclHooks {
    /// NCCL's asynchronous error, if any (`None` too when the handle is busy).
    pub(crate) async_error: Box<dyn FnMut() -> Option<String> + Send>,
    /// Aborts the communicator; `false` when it could not be done now (handle busy).
    pub(crate) abort: Box<dyn FnMut() -> bool + Send>,
}

/// The record of one member's collectives, shared by its callers and its watchdog thread.
#[derive(Default)]
pub(crate) struct Watch {
    state: Mutex<State>,
    wake: Condvar,
}

impl Watch {
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The failure, as the error every call returns from now on.
    pub(crate) fn check(&self) -> crate::Result<()> {
        let mut s = self.state();
        match &s.failure {
            Some(msg) => {
                let e = Error::Aborted(msg.clone());
                s.taken = true;
                Err(e)
            }
            None => Ok(()),
        }
    }

    /// Records a collective just queued, finished when `done` says so.
    pub(crate) fn launched(&self, op: &'static str, bytes: usize, done: Box<dyn Completion>) {
        let mut s = self.state();
        s.launched += 1;
        let seq = s.launched;
        s.pending.push_back(Pending { seq, op, bytes, since: Instant::now(), done });
    }

    /// Starts the watchdog thread of this record; it stops when the returned guard is dropped.
    pub(crate) fn spawn(
        self: &Arc<Self>,
        config: WatchConfig,
        heartbeats: Option<Heartbeats>,
        hooks: Option<NcclHooks>,
        on_thread: impl FnOnce() + Send + 'static,
    ) -> Watchdog {
        let watch = self.clone();
        let thread = std::thread::Builder::new()
            .name("tessera-nccl-watchdog".into())
            .spawn(move || {
                on_thread();
                watch.run(config, heartbeats, hooks)
            })
            .ok();
        Watchdog { watch: self.clone(), thread }
    }

    fn run(&self, config: WatchConfig, mut heartbeats: Option<Heartbeats>, mut hooks: Option<NcclHooks>) {
        let mut failed_at: Option<Instant> = None;
        let mut aborted = false;
        loop {
            if self.state().stopped {
                if let Some(h) = &heartbeats {
                    h.remove();
                }
                return;
            }
            if failed_at.is_none() {
                // The file I/O and NCCL's query run outside the state's lock, which every
                // collective's launch takes.
                if let Some(h) = heartbeats.as_mut() {
                    h.beat(config.stale_after / 5);
                }
                let oldest = retire_finished(&mut self.state());
                let async_error = hooks.as_mut().and_then(|h| (h.async_error)());
                if let Some(msg) = find_failure(oldest, &config, heartbeats.as_mut(), async_error) {
                    say(&format!("{msg}; aborting the NCCL communicator"));
                    self.state().failure = Some(msg);
                    failed_at = Some(Instant::now());
                }
            }
            if failed_at.is_some() && !aborted {
                aborted = hooks.as_mut().is_none_or(|h| (h.abort)());
            }
            if let Some(at) = failed_at {
                let s = self.state();
                if !s.taken && at.elapsed() >= config.grace {
                    say(&format!(
                        "{}; the process did not return within {:?} of the abort, exiting",
                        s.failure.as_deref().unwrap_or_default(),
                        config.grace
                    ));
                    std::process::exit(1);
                }
            }
            let s = self.state();
            if !s.stopped {
                let _ = self.wake.wait_timeout(s, config.poll);
            }
        }
    }
}

/// Writes `msg` as an error line on standard error (ignoring a closed one).
fn say(msg: &str) {
    let _ = std::io::Write::write_all(&mut std::io::stderr(), format!("error: {msg}\n").as_bytes());
}

/// The oldest collective still running, as the watchdog reports it.
struct Oldest {
    what: String,
    age: Duration,
}

/// Drops the finished collectives from the record; the oldest one still running, or the
/// failure of one that CUDA reports failed.
fn retire_finished(s: &mut State) -> Result<Option<Oldest>, String> {
    while let Some(p) = s.pending.front() {
        match p.done.finished() {
            Ok(true) => {
                s.pending.pop_front();
            }
            Ok(false) => break,
            Err(e) => return Err(format!("{} #{} failed on the GPU: {e}", p.op, p.seq)),
        }
    }
    Ok(s.pending.front().map(|p| {
        let age = p.since.elapsed();
        let what = format!("{} #{} ({} bytes) has not finished after {:.1} s", p.op, p.seq, p.bytes, age.as_secs_f64());
        Oldest { what, age }
    }))
}

/// The first sign of failure: a collective that CUDA reports failed, NCCL's asynchronous error,
/// an overdue collective while a rank's heartbeat stands still, or a collective past the
/// timeout.
fn find_failure(
    oldest: Result<Option<Oldest>, String>,
    config: &WatchConfig,
    heartbeats: Option<&mut Heartbeats>,
    async_error: Option<String>,
) -> Option<String> {
    let oldest = match oldest {
        Err(failed) => return Some(failed),
        Ok(oldest) => oldest,
    };
    if let Some(e) = async_error {
        return Some(format!("NCCL reports an asynchronous error: {e}"));
    }
    let Oldest { what, age } = oldest?;
    if age < config.overdue() {
        return None;
    }
    if let Some(h) = heartbeats {
        let lost = h.stale(config.stale_after);
        if !lost.is_empty() {
            let names: Vec<String> = lost
                .iter()
                .map(|(r, d)| {
                    format!("rank {r} (its heartbeat {} unchanged for {:.1} s)", h.file(*r).display(), d.as_secs_f64())
                })
                .collect();
            return Some(format!("{what}: lost {}", names.join(", ")));
        }
    }
    (age >= config.timeout).then(|| {
        format!("{what}, past the timeout of {:?} (TESSERA_NCCL_TIMEOUT): a rank stopped taking part", config.timeout)
    })
}

/// The running watchdog thread; dropping it stops the thread (and removes this rank's
/// heartbeat file).
pub(crate) struct Watchdog {
    watch: Arc<Watch>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.watch.state().stopped = true;
        self.watch.wake.notify_all();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests;
