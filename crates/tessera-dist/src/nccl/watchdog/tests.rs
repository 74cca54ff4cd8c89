//! The watchdog without NCCL or a GPU: collectives are fakes that finish when told, and the
//! heartbeats are files in a temporary folder.

use super::*;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// A collective that finishes when its flag is set (or fails, with `broken`).
struct Fake {
    done: Arc<AtomicBool>,
    broken: bool,
}

impl Completion for Fake {
    fn finished(&self) -> Result<bool, String> {
        if self.broken {
            return Err("CUDA_ERROR_LAUNCH_FAILED".into());
        }
        Ok(self.done.load(Ordering::SeqCst))
    }
}

fn fake(done: &Arc<AtomicBool>) -> Box<dyn Completion> {
    Box::new(Fake { done: done.clone(), broken: false })
}

/// Fast timings for the tests: the heartbeats looked at after 100 ms, a grace long enough that
/// no test process exits.
fn quick(timeout_ms: u64, stale_ms: u64) -> WatchConfig {
    WatchConfig {
        poll: Duration::from_millis(20),
        timeout: Duration::from_millis(timeout_ms),
        stale_after: Duration::from_millis(stale_ms),
        grace: Duration::from_secs(600),
    }
}

/// Hooks that count the aborts and report `async_error` when set.
fn counting(aborts: &Arc<AtomicUsize>, async_error: Option<&'static str>) -> NcclHooks {
    let aborts = aborts.clone();
    NcclHooks {
        async_error: Box::new(move || async_error.map(String::from)),
        abort: Box::new(move || {
            aborts.fetch_add(1, Ordering::SeqCst);
            true
        }),
    }
}

/// Polls `watch` until it fails (the error's message) or `limit` passes (`None`).
fn failure_within(watch: &Watch, limit: Duration) -> Option<String> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Err(e) = watch.check() {
            return Some(e.to_string());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    None
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("tessera-watchdog-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn collectives_that_finish_leave_the_communicator_sound() {
    let watch = Arc::<Watch>::default();
    let aborts = Arc::new(AtomicUsize::new(0));
    let _dog = watch.spawn(quick(150, 60_000), None, Some(counting(&aborts, None)), || {});
    for _ in 0..5 {
        let done = Arc::new(AtomicBool::new(false));
        watch.launched("ncclAllReduce", 64, fake(&done));
        std::thread::sleep(Duration::from_millis(30));
        done.store(true, Ordering::SeqCst);
    }
    assert_eq!(failure_within(&watch, Duration::from_millis(400)), None);
    assert_eq!(aborts.load(Ordering::SeqCst), 0);
    assert!(watch.state().pending.is_empty(), "finished collectives leave the record");
}

#[test]
fn a_collective_past_the_timeout_aborts_and_every_later_call_says_why() {
    let watch = Arc::<Watch>::default();
    let aborts = Arc::new(AtomicUsize::new(0));
    let _dog = watch.spawn(quick(200, 60_000), None, Some(counting(&aborts, None)), || {});
    let finished = Arc::new(AtomicBool::new(true));
    watch.launched("ncclBroadcast", 8, fake(&finished));
    let never = Arc::new(AtomicBool::new(false));
    watch.launched("ncclAllReduce", 4096, fake(&never));
    let msg = failure_within(&watch, Duration::from_secs(5)).expect("the watchdog fails the communicator");
    assert!(msg.contains("ncclAllReduce #2 (4096 bytes) has not finished"), "{msg}");
    assert!(msg.contains("past the timeout of 200ms"), "{msg}");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(aborts.load(Ordering::SeqCst), 1, "aborted once");
    assert!(matches!(watch.check(), Err(Error::Aborted(m)) if m.contains("ncclAllReduce #2")));
}

#[test]
fn cuda_and_nccl_errors_fail_the_communicator_at_once() {
    let watch = Arc::<Watch>::default();
    let aborts = Arc::new(AtomicUsize::new(0));
    let _dog = watch.spawn(quick(60_000, 60_000), None, Some(counting(&aborts, None)), || {});
    watch.launched("ncclAllGather", 16, Box::new(Fake { done: Arc::default(), broken: true }));
    let msg = failure_within(&watch, Duration::from_secs(2)).expect("a failed event is a failure");
    assert!(msg.contains("ncclAllGather #1 failed on the GPU: CUDA_ERROR_LAUNCH_FAILED"), "{msg}");

    let watch = Arc::<Watch>::default();
    let remote = Some("remote process exited or there was a network error (ncclRemoteError)");
    let _dog = watch.spawn(quick(60_000, 60_000), None, Some(counting(&aborts, remote)), || {});
    let msg = failure_within(&watch, Duration::from_secs(2)).expect("NCCL's asynchronous error is a failure");
    assert!(msg.contains("asynchronous error: remote process exited"), "{msg}");
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(aborts.load(Ordering::SeqCst), 2);
}

#[test]
fn a_rank_whose_heartbeat_stops_is_named_as_lost() {
    let dir = scratch("lost");
    let rendezvous = dir.join("job.nccl");
    // Three ranks: this one (0), rank 1 alive (its own watchdog beating), rank 2 dead (its
    // file written once, long ago as far as anyone here can tell).
    let alive = Arc::<Watch>::default();
    let _alive_dog = alive.spawn(quick(60_000, 300), Some(Heartbeats::new(&rendezvous, 1, 3)), None, || {});
    std::fs::write(Heartbeats::new(&rendezvous, 2, 3).file(2), "pid 1\n").unwrap();

    let watch = Arc::<Watch>::default();
    let aborts = Arc::new(AtomicUsize::new(0));
    let dog =
        watch.spawn(quick(60_000, 300), Some(Heartbeats::new(&rendezvous, 0, 3)), Some(counting(&aborts, None)), || {});
    let never = Arc::new(AtomicBool::new(false));
    watch.launched("ncclAllReduce", 100, fake(&never));
    let msg = failure_within(&watch, Duration::from_secs(5)).expect("a dead rank is found");
    assert!(msg.contains("lost rank 2 (its heartbeat"), "{msg}");
    assert!(msg.contains("job.nccl.alive.2"), "{msg}");
    assert!(!msg.contains("rank 1"), "rank 1 is alive: {msg}");

    // This rank's own file goes when its member ends.
    assert!(dir.join("job.nccl.alive.0").exists());
    drop(dog);
    assert!(!dir.join("job.nccl.alive.0").exists(), "a clean end removes the heartbeat");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn live_heartbeats_let_a_slow_collective_run() {
    let dir = scratch("slow");
    let rendezvous = dir.join("job.nccl");
    let peer = Arc::<Watch>::default();
    // A standstill of 1.5 s counts: file systems whose times step by a second still see beats.
    let _peer_dog = peer.spawn(quick(60_000, 1500), Some(Heartbeats::new(&rendezvous, 1, 2)), None, || {});
    let watch = Arc::<Watch>::default();
    let _dog = watch.spawn(quick(60_000, 1500), Some(Heartbeats::new(&rendezvous, 0, 2)), None, || {});
    let slow = Arc::new(AtomicBool::new(false));
    watch.launched("ncclAllReduce", 100, fake(&slow));
    assert_eq!(failure_within(&watch, Duration::from_millis(2500)), None, "a live peer is waited for");
    slow.store(true, Ordering::SeqCst);
    let _ = std::fs::remove_dir_all(&dir);
}

/// The child of [`a_failure_nobody_takes_ends_the_process`]: a collective that never finishes,
/// and nobody who asks; the watchdog must end the process. Does nothing unless the parent runs it.
#[test]
fn stuck_process_child() {
    if std::env::var_os("TESSERA_WATCHDOG_CHILD").is_none() {
        return;
    }
    let watch = Arc::<Watch>::default();
    let config = WatchConfig { grace: Duration::from_millis(200), ..quick(100, 60_000) };
    let _dog = watch.spawn(config, None, None, || {});
    watch.launched("ncclAllReduce", 1, fake(&Arc::default()));
    std::thread::sleep(Duration::from_secs(30));
    unreachable!("the watchdog exits the process first");
}

#[test]
fn a_failure_nobody_takes_ends_the_process() {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["nccl::watchdog::tests::stuck_process_child", "--exact", "--nocapture", "--test-threads=1"])
        .env("TESSERA_WATCHDOG_CHILD", "1")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("ncclAllReduce #1 (1 bytes) has not finished"), "{stderr}");
    assert!(stderr.contains("did not return within 200ms of the abort, exiting"), "{stderr}");
}

#[test]
fn the_timeout_is_a_positive_number_of_seconds() {
    assert_eq!(parse_timeout("90"), Some(Duration::from_secs(90)));
    assert_eq!(parse_timeout(" 0.5 "), Some(Duration::from_millis(500)));
    for bad in ["0", "-3", "ten", "", "inf", "NaN"] {
        assert_eq!(parse_timeout(bad), None, "{bad:?}");
    }
}

#[test]
fn by_default_a_dead_rank_ends_the_job_within_a_minute() {
    // Overdue, then the heartbeat's standstill, then the grace before the process exits.
    let c = WatchConfig::default();
    assert!(c.overdue() + c.stale_after + c.poll * 2 + c.grace < Duration::from_secs(60));
}
