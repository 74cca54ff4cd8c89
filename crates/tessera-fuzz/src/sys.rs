//! The few operating-system calls the runner needs (Linux and other Unix systems through
//! `libc`): CPU clocks, and a cap on a worker's address space so that a huge allocation fails
//! fast instead of swapping.

use std::time::Duration;

/// The CPU time of the clock `clock`.
fn cpu_time(clock: libc::clockid_t) -> Duration {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: `ts` is a valid, writable timespec; the clock ids used here always exist.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    Duration::new(ts.tv_sec.max(0) as u64, ts.tv_nsec.clamp(0, 999_999_999) as u32)
}

/// CPU time the calling thread has used.
pub fn thread_cpu_time() -> Duration {
    cpu_time(libc::CLOCK_THREAD_CPUTIME_ID)
}

/// CPU time the whole process (every thread) has used.
pub fn process_cpu_time() -> Duration {
    cpu_time(libc::CLOCK_PROCESS_CPUTIME_ID)
}

/// Caps this process's address space at `bytes` (`RLIMIT_AS`): beyond it allocations fail,
/// which aborts the process at once rather than after the machine has run out of memory.
pub fn limit_address_space(bytes: u64) -> std::io::Result<()> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `limit` is a valid, writable rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    // The soft limit only, within the hard one: lowering it cannot fail for lack of privileges.
    limit.rlim_cur = (bytes as libc::rlim_t).min(limit.rlim_max);
    // SAFETY: `limit` is a valid rlimit; lowering a limit cannot break memory safety.
    if unsafe { libc::setrlimit(libc::RLIMIT_AS, &limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
