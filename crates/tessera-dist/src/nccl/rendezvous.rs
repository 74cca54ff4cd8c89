//! Handing NCCL's id to every rank through a file, for jobs started without MPI: rank 0 writes
//! it (to a temporary name, then renamed, so a reader never sees half a file), the others wait
//! for it, and rank 0 removes it once every rank has joined.

use super::ID_BYTES;
use crate::{Error, Result};
use std::path::Path;
use std::time::{Duration, Instant};

/// The first line of a rendezvous file.
const MAGIC: &str = "tessera nccl rendezvous 1";

fn error(path: &Path, msg: String) -> Error {
    Error::Rendezvous { path: path.to_path_buf(), msg }
}

/// Writes `id` for a job of `world` processes to `path` (replacing what is there).
pub(crate) fn publish(path: &Path, id: &[u8; ID_BYTES], world: usize) -> Result<()> {
    let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
    let tmp = path.with_file_name(format!(
        ".{}.{}.tmp",
        path.file_name().map_or("rendezvous".into(), |n| n.to_string_lossy()),
        std::process::id()
    ));
    let write = || -> std::io::Result<()> {
        std::fs::write(&tmp, format!("{MAGIC}\nworld {world}\nid {hex}\n"))?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        error(path, format!("could not be written: {e}"))
    })
}

/// Waits up to `timeout` for rank 0's file at `path` and reads the id in it, checking that it
/// was written for a job of `world` processes.
pub(crate) fn wait_for(path: &Path, world: usize, timeout: Duration) -> Result<[u8; ID_BYTES]> {
    let start = Instant::now();
    loop {
        match std::fs::read_to_string(path) {
            Ok(text) => return parse(path, &text, world),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if start.elapsed() >= timeout {
                    return Err(error(
                        path,
                        format!("not written by rank 0 within {timeout:?}: is rank 0 running, with the same file?"),
                    ));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => return Err(error(path, format!("could not be read: {e}"))),
        }
    }
}

/// The id in a rendezvous file's `text`.
fn parse(path: &Path, text: &str, world: usize) -> Result<[u8; ID_BYTES]> {
    let mut lines = text.lines();
    if lines.next() != Some(MAGIC) {
        return Err(error(path, format!("is not a rendezvous file (its first line is not {MAGIC:?})")));
    }
    let written = lines.next().and_then(|l| l.strip_prefix("world ")).and_then(|w| w.parse::<usize>().ok());
    if written != Some(world) {
        let what = written.map_or("no world size".into(), |w| format!("a world of {w}"));
        return Err(error(
            path,
            format!("was written for {what}, this job has {world} processes: a file left by another job?"),
        ));
    }
    let hex = lines.next().and_then(|l| l.strip_prefix("id ")).unwrap_or("");
    let mut id = [0u8; ID_BYTES];
    let digit = |c: u8| (c as char).to_digit(16);
    let ok = hex.len() == 2 * ID_BYTES
        && id.iter_mut().zip(hex.as_bytes().chunks(2)).all(|(b, pair)| match (digit(pair[0]), digit(pair[1])) {
            (Some(hi), Some(lo)) => {
                *b = (hi * 16 + lo) as u8;
                true
            }
            _ => false,
        });
    if !ok {
        return Err(error(path, format!("holds no {ID_BYTES}-byte id in hex")));
    }
    Ok(id)
}

/// Removes the file once every rank has read it (a missing file is fine).
pub(crate) fn remove(path: &Path) -> Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(error(path, format!("could not be removed: {e}"))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id() -> [u8; ID_BYTES] {
        std::array::from_fn(|i| (i * 37 % 256) as u8)
    }

    #[test]
    fn ranks_read_the_id_rank_0_publishes_later() -> Result<()> {
        let dir = std::env::temp_dir().join(format!("tessera-rendezvous-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("job");
        let readers: Vec<_> = (0..3)
            .map(|_| {
                let path = path.clone();
                std::thread::spawn(move || wait_for(&path, 4, Duration::from_secs(30)))
            })
            .collect();
        std::thread::sleep(Duration::from_millis(100));
        publish(&path, &id(), 4)?;
        for r in readers {
            assert_eq!(r.join().unwrap()?, id());
        }
        remove(&path)?;
        assert!(!path.exists());
        remove(&path)?;
        let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().collect();
        assert!(leftovers.is_empty(), "no temporary file left: {leftovers:?}");
        std::fs::remove_dir(&dir).unwrap();
        Ok(())
    }

    #[test]
    fn wrong_files_and_timeouts_are_errors_naming_the_file() -> Result<()> {
        let dir = std::env::temp_dir().join(format!("tessera-rendezvous-bad-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("job");
        let e = wait_for(&path, 2, Duration::from_millis(50)).unwrap_err().to_string();
        assert!(e.contains("job") && e.contains("not written by rank 0"), "{e}");
        publish(&path, &id(), 3)?;
        let e = wait_for(&path, 2, Duration::from_secs(1)).unwrap_err().to_string();
        assert!(e.contains("a world of 3, this job has 2"), "{e}");
        std::fs::write(&path, format!("{MAGIC}\nworld 2\nid 12zz\n")).unwrap();
        let e = wait_for(&path, 2, Duration::from_secs(1)).unwrap_err().to_string();
        assert!(e.contains("128-byte id"), "{e}");
        std::fs::write(&path, "hello\n").unwrap();
        let e = wait_for(&path, 2, Duration::from_secs(1)).unwrap_err().to_string();
        assert!(e.contains("not a rendezvous file"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
        Ok(())
    }
}
