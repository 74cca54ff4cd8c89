//! The lock file that makes a run folder belong to one process at a time.

use crate::{Error, Result};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The lock file's name inside a run folder.
pub const LOCK_FILE: &str = "run.lock";

/// Holds a run folder for this process: `run.lock` with the process id, created atomically and
/// removed when the lock is dropped. A lock left by a process that no longer runs (a killed run)
/// is taken over.
#[derive(Debug)]
pub struct RunLock {
    file: PathBuf,
}

impl RunLock {
    /// Locks `dir` (which must exist), or fails at once naming the process that holds it.
    pub fn acquire(dir: &Path) -> Result<RunLock> {
        let file = dir.join(LOCK_FILE);
        for _ in 0..2 {
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&file) {
                Ok(mut f) => {
                    writeln!(f, "{}", std::process::id()).map_err(|e| Error::io(&file, e))?;
                    return Ok(RunLock { file });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if let Some(pid) = holder(&file).filter(|&pid| process_runs(pid)) {
                        return Err(Error::RunFolder {
                            path: dir.into(),
                            msg: format!(
                                "in use by another run (process {pid}, see {LOCK_FILE}); wait for it to end or \
                                 choose another folder"
                            ),
                        });
                    }
                    // Left by a run that was killed: take it over.
                    std::fs::remove_file(&file).map_err(|e| Error::io(&file, e))?;
                }
                Err(e) => return Err(Error::io(&file, e)),
            }
        }
        Err(Error::RunFolder {
            path: dir.into(),
            msg: format!("{LOCK_FILE} keeps coming back: another run is starting"),
        })
    }

    /// Whether `dir` is locked by a process that still runs (read only; for checks made before
    /// any work, the lock itself is taken by [`RunLock::acquire`]).
    pub fn holder_of(dir: &Path) -> Option<u32> {
        holder(&dir.join(LOCK_FILE)).filter(|&pid| process_runs(pid) && pid != std::process::id())
    }
}

impl Drop for RunLock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.file);
    }
}

/// The process id written in a lock file (`None` when it cannot be read: being written).
fn holder(file: &Path) -> Option<u32> {
    std::fs::read_to_string(file).ok()?.trim().parse().ok()
}

/// Whether process `pid` is running. Where that cannot be told (no `/proc`), it is assumed to
/// run: a stale lock must then be removed by hand, which the error message names.
fn process_runs(pid: u32) -> bool {
    let proc = Path::new("/proc");
    !proc.join("self").exists() || proc.join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_fails_naming_the_holder_and_a_stale_one_is_taken_over() {
        let dir = std::env::temp_dir().join(format!("tessera-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let lock = RunLock::acquire(&dir).unwrap();
        let e = RunLock::acquire(&dir).unwrap_err().to_string();
        assert!(e.contains(&format!("process {}", std::process::id())), "{e}");
        drop(lock);
        assert!(!dir.join(LOCK_FILE).exists());
        // A pid above Linux's maximum (2^22) never runs.
        std::fs::write(dir.join(LOCK_FILE), "4194305\n").unwrap();
        assert_eq!(RunLock::holder_of(&dir), None);
        drop(RunLock::acquire(&dir).unwrap());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
