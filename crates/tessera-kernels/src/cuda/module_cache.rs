//! Compiled kernel modules, cached per (module, architecture): in memory for the life of the
//! process and on disk across processes. The disk key is a hash of the module source, the shared
//! header, the NVRTC options, the architecture and NVRTC's version; files are written to a temp
//! name and renamed, so a reader never sees half a file. The directory is
//! `$TESSERA_KERNEL_CACHE` (`off` or empty disables the disk cache), else
//! `$XDG_CACHE_HOME/tessera/kernels`, else `$HOME/.cache/tessera/kernels`.

use super::compile::{compile, nvrtc_version, options};
use super::source::{KernelModule, COMMON_HEADER};
use crate::Result;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

/// FNV-1a, 64 bits: stable across Rust versions and platforms (unlike `DefaultHasher`).
pub(crate) fn fnv1a(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for &b in *part {
            h ^= b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        // Separate the parts so that ("ab", "c") and ("a", "bc") differ.
        h ^= 0xff;
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The disk-cache key of `module` compiled for `arch` with `opts` by NVRTC `version`.
pub fn cache_key(module: &KernelModule, arch: &str, opts: &[String], version: (i32, i32)) -> String {
    let version = format!("{}.{}", version.0, version.1);
    let joined = opts.join("\u{1}");
    let h = fnv1a(&[
        module.source.as_bytes(),
        COMMON_HEADER.as_bytes(),
        joined.as_bytes(),
        arch.as_bytes(),
        version.as_bytes(),
    ]);
    format!("{h:016x}")
}

/// The disk cache directory, or `None` when disabled or when no home is known.
pub fn cache_dir() -> Option<PathBuf> {
    match std::env::var_os("TESSERA_KERNEL_CACHE") {
        Some(v) if v.is_empty() || v == "off" => None,
        Some(v) => Some(PathBuf::from(v)),
        None => std::env::var_os("XDG_CACHE_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .map(|base| base.join("tessera").join("kernels")),
    }
}

/// The file a module's cubin is cached in.
pub fn cache_file(dir: &Path, module: &KernelModule, arch: &str, key: &str) -> PathBuf {
    dir.join(format!("{}-{arch}-{key}.cubin", module.name))
}

/// Writes `bytes` to `path` atomically: a temp file in the same directory, then a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let tmp = dir.join(format!(
        ".{}.{}.{nanos}.tmp",
        path.file_name().and_then(|n| n.to_str()).unwrap_or("kernel"),
        std::process::id()
    ));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

type MemoryCache = Mutex<HashMap<(&'static str, String), Arc<Vec<u8>>>>;

fn memory() -> &'static MemoryCache {
    static CACHE: OnceLock<MemoryCache> = OnceLock::new();
    CACHE.get_or_init(Default::default)
}

/// The cubin of `module` for `arch`: from memory, else from disk, else compiled now (and stored
/// in both). A compile failure is an error carrying NVRTC's log.
pub fn cubin(module: &KernelModule, arch: &str) -> Result<Arc<Vec<u8>>> {
    let mem_key = (module.name, arch.to_string());
    if let Some(hit) = memory().lock().unwrap_or_else(|e| e.into_inner()).get(&mem_key) {
        return Ok(hit.clone());
    }
    let version = nvrtc_version()?;
    let key = cache_key(module, arch, &options(arch, false), version);
    let file = cache_dir().map(|d| cache_file(&d, module, arch, &key));
    let image = match file.as_ref().and_then(|f| std::fs::read(f).ok()).filter(|b| !b.is_empty()) {
        Some(bytes) => bytes,
        None => {
            let compiled = compile(module, arch, false)?;
            if let Some(f) = &file {
                // A cache that cannot be written only costs a recompile next time.
                let _ = write_atomic(f, &compiled.cubin);
            }
            compiled.cubin
        }
    };
    let image = Arc::new(image);
    memory().lock().unwrap_or_else(|e| e.into_inner()).insert(mem_key, image.clone());
    Ok(image)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cuda::source::{MODULES, UNARY};

    #[test]
    fn key_depends_on_source_options_arch_and_version() {
        let opts = options("sm_90", false);
        let k = cache_key(&UNARY, "sm_90", &opts, (13, 5));
        assert_eq!(k.len(), 16);
        assert_eq!(k, cache_key(&UNARY, "sm_90", &opts, (13, 5)), "stable");
        assert_ne!(k, cache_key(&UNARY, "sm_80", &opts, (13, 5)));
        assert_ne!(k, cache_key(&UNARY, "sm_90", &options("sm_90", true), (13, 5)));
        assert_ne!(k, cache_key(&UNARY, "sm_90", &opts, (13, 0)));
        let edited = KernelModule { name: "unary", source: "// edited\n" };
        assert_ne!(k, cache_key(&edited, "sm_90", &opts, (13, 5)));
        let keys: std::collections::HashSet<_> =
            MODULES.iter().map(|m| cache_key(m, "sm_90", &opts, (13, 5))).collect();
        assert_eq!(keys.len(), MODULES.len());
    }

    #[test]
    fn disk_cache_round_trip_is_atomic() {
        let dir = std::env::temp_dir().join(format!("tessera-kernel-cache-test-{}", std::process::id()));
        let key = cache_key(&UNARY, "sm_80", &options("sm_80", false), (13, 5));
        let file = cache_file(&dir, &UNARY, "sm_80", &key);
        let image: Vec<u8> = (0..=255u8).cycle().take(10_000).collect();
        write_atomic(&file, &image).unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), image);
        write_atomic(&file, b"second").unwrap();
        assert_eq!(std::fs::read(&file).unwrap(), b"second");
        let leftovers: Vec<_> = std::fs::read_dir(&dir).unwrap().filter_map(|e| e.ok()).collect();
        assert_eq!(leftovers.len(), 1, "no temp files left behind");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn cache_dir_follows_the_environment() {
        // Only reads the variable set by the caller's environment; never mutates it (tests run in
        // parallel threads). The default, when unset, lives under a home or XDG cache dir.
        match std::env::var_os("TESSERA_KERNEL_CACHE") {
            Some(v) if v.is_empty() || v == "off" => assert!(cache_dir().is_none()),
            Some(v) => assert_eq!(cache_dir(), Some(PathBuf::from(v))),
            None => {
                if let Some(d) = cache_dir() {
                    assert!(d.ends_with("tessera/kernels"));
                }
            }
        }
    }
}
