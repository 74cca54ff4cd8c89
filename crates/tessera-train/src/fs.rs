//! Writing files so that a crash never leaves a half-written one: write a temporary file beside
//! the target, flush it to disk, then rename it over the target.

use crate::{Error, Result};
use std::path::Path;

/// Writes `bytes` to `path` atomically: readers see the old file or the new one, never a part
/// (the same mechanism as state dicts: a temporary file beside it, synced, then renamed).
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    tessera_nn::state_dict::write_atomic(path, bytes).map_err(|e| match e {
        tessera_nn::Error::Io { path, source } => Error::Io { path, source },
        other => Error::Nn(other),
    })
}

/// Creates `dir` and its parents.
pub fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = std::env::temp_dir().join(format!("tessera-fs-test-{}", std::process::id()));
        create_dir(&dir).unwrap();
        let p = dir.join("a.json");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn missing_directory_is_an_error_naming_the_path() {
        let e = write_atomic(Path::new("/nonexistent-dir-xyz/a.json"), b"x").unwrap_err();
        assert!(e.to_string().starts_with("/nonexistent-dir-xyz/a.json: "), "{e}");
    }
}
