//! Streaming atomic writes: a temporary file beside the target, renamed over it when complete.

use crate::error::{Error, Result};
use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};

/// A file being written: readers of `path` see the old file (or none) until
/// [`AtomicFile::commit`] renames the finished temporary file over it. Dropped without a
/// commit, the temporary file is removed.
///
/// ```
/// use std::io::Write;
/// let path = std::env::temp_dir().join(format!("embed-atomic-doc-{}", std::process::id()));
/// let mut f = tessera_embed::format::AtomicFile::create(&path)?;
/// f.writer().write_all(b"hello")?;
/// f.commit()?;
/// assert_eq!(std::fs::read(&path)?, b"hello");
/// # std::fs::remove_file(&path)?;
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct AtomicFile {
    path: PathBuf,
    tmp: PathBuf,
    out: Option<BufWriter<File>>,
}

impl AtomicFile {
    /// Starts writing `path` (its folder must exist).
    pub fn create(path: &Path) -> Result<AtomicFile> {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".into());
        let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
        let file = File::create(&tmp).map_err(|e| Error::io(path, e))?;
        Ok(AtomicFile { path: path.to_path_buf(), tmp, out: Some(BufWriter::with_capacity(1 << 20, file)) })
    }

    /// Where to write the contents.
    pub fn writer(&mut self) -> &mut BufWriter<File> {
        self.out.as_mut().expect("the writer lives until commit")
    }

    /// Flushes, syncs and renames the temporary file over the target.
    pub fn commit(mut self) -> Result<()> {
        let out = self.out.take().expect("commit runs once");
        let done = out
            .into_inner()
            .map_err(|e| e.into_error())
            .and_then(|f| f.sync_all())
            .and_then(|()| std::fs::rename(&self.tmp, &self.path));
        done.map_err(|e| Error::io(&self.path, e))
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        // After a commit the temporary file is gone (renamed); otherwise remove what was written.
        let _ = std::fs::remove_file(&self.tmp);
    }
}
