//! File helpers: reading text with precise UTF-8 errors, and atomic writes.

use std::io::{Read, Write};
use std::path::Path;

use crate::error::{Error, Result};

/// Checks that `bytes` are UTF-8 and turns them into a `String`.
///
/// On failure the error names `source_name` and the line and byte offset of the first invalid
/// byte.
///
/// ```
/// let err = tessera_text::io::utf8_from_bytes(b"ok\na\xff".to_vec(), "input.txt").unwrap_err();
/// assert_eq!(err.to_string(), "`input.txt` is not valid UTF-8 at line 2, byte offset 4");
/// ```
pub fn utf8_from_bytes(bytes: Vec<u8>, source_name: &str) -> Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let line = e.as_bytes()[..offset].iter().filter(|b| **b == b'\n').count() + 1;
        Error::InvalidUtf8 { source_name: source_name.to_string(), line, offset }
    })
}

/// Reads a UTF-8 text file; invalid UTF-8 is an error naming the file, line and byte offset.
pub fn read_text(path: impl AsRef<Path>) -> Result<String> {
    let path = path.as_ref();
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    utf8_from_bytes(bytes, &path.display().to_string())
}

/// Reads all of standard input as UTF-8 text.
pub fn read_stdin_text() -> Result<String> {
    let mut bytes = Vec::new();
    std::io::stdin().read_to_end(&mut bytes).map_err(|e| Error::io("<stdin>", e))?;
    utf8_from_bytes(bytes, "<stdin>")
}

/// Writes `contents` to `path` atomically: a temporary file in the same folder, then a rename.
pub fn write_atomic(path: impl AsRef<Path>, contents: &[u8]) -> Result<()> {
    let path = path.as_ref();
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_else(|| "out".to_string());
    let tmp = dir.join(format!(".{name}.tmp{}", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(contents)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if let Err(e) = result {
        let _ = std::fs::remove_file(&tmp);
        return Err(Error::io(path, e));
    }
    Ok(())
}
