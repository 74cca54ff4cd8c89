//! Fuzz inputs: two files in one input, scratch files for readers that take paths, and the
//! name an input is saved under.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// Packs two files into one input: `a`'s length (u32, little-endian), `a`, then `b`.
pub fn join2(a: &[u8], b: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(4 + a.len() + b.len());
    out.extend((a.len() as u32).to_le_bytes());
    out.extend(a);
    out.extend(b);
    out
}

/// Unpacks [`join2`]'s two files from any bytes: a length past the end takes everything, and an
/// input shorter than the length field is the first file alone.
pub fn split2(data: &[u8]) -> (&[u8], &[u8]) {
    let Some((len, rest)) = data.split_first_chunk::<4>() else { return (data, &[]) };
    let len = (u32::from_le_bytes(*len) as usize).min(rest.len());
    rest.split_at(len)
}

/// The name a failing input is saved under: its 64-bit FNV-1a hash in hex.
pub fn hash_hex(data: &[u8]) -> String {
    let hash = data.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| (h ^ b as u64).wrapping_mul(0x0100_0000_01b3));
    format!("{hash:016x}")
}

/// Where scratch folders go ([`fast_temp_dir`] unless [`set_scratch_root`] said).
static SCRATCH_ROOT: OnceLock<PathBuf> = OnceLock::new();

/// Puts this process's scratch folders under `dir` (a worker uses its state folder, which the
/// runner removes even when the worker dies). Only the first call counts.
pub fn set_scratch_root(dir: &Path) {
    let _ = SCRATCH_ROOT.set(dir.to_path_buf());
}

/// A temporary folder in memory (`/dev/shm`) where there is one, else the system's: the readers
/// under test write files atomically, and an `fsync` on a disk costs more than the parse.
pub fn fast_temp_dir() -> PathBuf {
    let shm = Path::new("/dev/shm");
    let writable = std::fs::metadata(shm).is_ok_and(|m| m.is_dir() && !m.permissions().readonly());
    if writable {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// A thread's scratch folder, removed when the thread ends.
struct ScratchDir(PathBuf);

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

thread_local! {
    static SCRATCH: RefCell<Option<ScratchDir>> = const { RefCell::new(None) };
}

/// This thread's scratch folder (created on first use), so that parallel tests do not share
/// files.
pub fn scratch_dir() -> std::io::Result<PathBuf> {
    SCRATCH.with(|s| {
        let mut s = s.borrow_mut();
        if let Some(dir) = s.as_ref() {
            return Ok(dir.0.clone());
        }
        static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let root = SCRATCH_ROOT.get().cloned().unwrap_or_else(fast_temp_dir);
        let dir = root.join(format!("tessera-fuzz-scratch-{}-{n}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        *s = Some(ScratchDir(dir.clone()));
        Ok(dir)
    })
}

/// Removes this thread's scratch folder now (the main thread's is not dropped at exit).
pub fn remove_scratch_dir() {
    SCRATCH.with(|s| drop(s.borrow_mut().take()));
}

/// Writes `bytes` to the file `name` in this thread's scratch folder and returns its path.
pub fn scratch_file(name: &str, bytes: &[u8]) -> std::io::Result<PathBuf> {
    let path = scratch_dir()?.join(name);
    std::fs::write(&path, bytes)?;
    Ok(path)
}

/// Writes `files` (name, bytes) into the folder `name` of this thread's scratch folder and
/// returns the folder's path: a model folder or a run folder as the readers find them.
pub fn scratch_folder(name: &str, files: &[(&str, &[u8])]) -> std::io::Result<PathBuf> {
    let dir = scratch_dir()?.join(name);
    std::fs::create_dir_all(&dir)?;
    for (file, bytes) in files {
        std::fs::write(dir.join(file), bytes)?;
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn two_files_round_trip_and_any_bytes_split() {
        assert_eq!(split2(&join2(b"abc", b"de")), (&b"abc"[..], &b"de"[..]));
        assert_eq!(split2(&join2(b"", b"")), (&b""[..], &b""[..]));
        assert_eq!(split2(b"ab"), (&b"ab"[..], &b""[..]));
        assert_eq!(split2(&[255, 255, 255, 255, 1, 2]), (&[1u8, 2][..], &b""[..]));
        assert_eq!(hash_hex(b""), "cbf29ce484222325");
    }

    #[test]
    fn scratch_files_live_in_a_folder_per_thread() {
        let here = scratch_file("a", b"1").unwrap();
        let there = std::thread::spawn(|| scratch_file("a", b"2").unwrap()).join().unwrap();
        assert_ne!(here.parent(), there.parent());
        assert!(!there.exists(), "a thread's folder goes with it");
        assert_eq!(std::fs::read(&here).unwrap(), b"1");
        remove_scratch_dir();
        assert!(!here.exists());
    }
}
