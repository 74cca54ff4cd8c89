//! NVRTC compilation of a kernel module for one GPU architecture: the code path shared by the
//! runtime (through the module cache) and by `cargo xtask kernels` (the `compile-kernels` binary).

use super::source::{KernelModule, COMMON_HEADER};
use crate::{Error, Result};
use cudarc::nvrtc::sys;
use std::ffi::{c_char, CStr, CString};

/// Whether the NVRTC library can be loaded (looking it up never panics).
pub fn nvrtc_available() -> bool {
    // SAFETY: only probes for the shared library by name.
    unsafe { sys::is_culib_present() }
}

/// NVRTC's version as (major, minor), or an error when it cannot be loaded.
pub fn nvrtc_version() -> Result<(i32, i32)> {
    require_nvrtc()?;
    let (mut major, mut minor) = (0, 0);
    // SAFETY: NVRTC is present (checked above); the out-pointers are valid.
    let status = unsafe { sys::nvrtcVersion(&mut major, &mut minor) };
    check(status, "nvrtcVersion")?;
    Ok((major, minor))
}

fn require_nvrtc() -> Result<()> {
    if nvrtc_available() {
        Ok(())
    } else {
        Err(Error::CudaUnavailable(
            "the NVRTC library (libnvrtc.so) cannot be loaded: install the CUDA toolkit or the \
             nvidia-cuda-nvrtc wheel and put its lib folder on LD_LIBRARY_PATH"
                .into(),
        ))
    }
}

fn check(status: sys::nvrtcResult, what: &str) -> Result<()> {
    if status == sys::nvrtcResult::NVRTC_SUCCESS {
        Ok(())
    } else {
        Err(Error::Cuda { op: "nvrtc", msg: format!("{what} failed: {status:?}") })
    }
}

/// The options every module is compiled with for `arch` (e.g. `sm_90`). Part of the cache key.
pub fn options(arch: &str, verbose: bool) -> Vec<String> {
    let mut o = vec![format!("--gpu-architecture={arch}"), "--std=c++17".into(), "--restrict".into()];
    if verbose {
        o.push("--ptxas-options=-v".into());
    }
    o
}

/// A compiled module: a CUBIN for a real architecture and the compiler's log.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The CUBIN image, loadable with `cuModuleLoadData`.
    pub cubin: Vec<u8>,
    /// NVRTC's log (with `--ptxas-options=-v`, the per-kernel resource lines).
    pub log: String,
}

/// Compiles `module` for the real architecture `arch` (`sm_80`, `sm_90`, ...). A compile error
/// is [`Error::Compile`] carrying NVRTC's log.
pub fn compile(module: &KernelModule, arch: &str, verbose: bool) -> Result<Compiled> {
    require_nvrtc()?;
    let src = CString::new(module.source).map_err(|_| nul_error(module))?;
    let name = CString::new(format!("{}.cu", module.name)).map_err(|_| nul_error(module))?;
    let header = CString::new(COMMON_HEADER).map_err(|_| nul_error(module))?;
    let header_name = c"common.cuh";
    let headers = [header.as_ptr()];
    let include_names = [header_name.as_ptr()];
    let mut prog: sys::nvrtcProgram = std::ptr::null_mut();
    // SAFETY: every pointer refers to a live NUL-terminated string for the duration of the call.
    let status = unsafe {
        sys::nvrtcCreateProgram(&mut prog, src.as_ptr(), name.as_ptr(), 1, headers.as_ptr(), include_names.as_ptr())
    };
    check(status, "nvrtcCreateProgram")?;
    let opts: Vec<CString> =
        options(arch, verbose).into_iter().map(|o| CString::new(o).expect("options have no NUL")).collect();
    let opt_ptrs: Vec<*const c_char> = opts.iter().map(|o| o.as_ptr()).collect();
    // SAFETY: prog was created above; the option pointers live until the end of this function.
    let compiled = unsafe { sys::nvrtcCompileProgram(prog, opt_ptrs.len() as i32, opt_ptrs.as_ptr()) };
    let log = program_log(prog);
    let result = if compiled != sys::nvrtcResult::NVRTC_SUCCESS {
        Err(Error::Compile { module: module.name.into(), arch: arch.into(), log: log.clone() })
    } else {
        cubin(prog).map(|cubin| Compiled { cubin, log })
    };
    // SAFETY: prog is live and destroyed once.
    unsafe { sys::nvrtcDestroyProgram(&mut prog) };
    result
}

fn nul_error(module: &KernelModule) -> Error {
    Error::Cuda { op: "nvrtc", msg: format!("kernel module {} contains a NUL byte", module.name) }
}

fn program_log(prog: sys::nvrtcProgram) -> String {
    let mut size = 0usize;
    // SAFETY: prog is a live program; the buffer has the size NVRTC asked for.
    unsafe {
        if sys::nvrtcGetProgramLogSize(prog, &mut size) != sys::nvrtcResult::NVRTC_SUCCESS || size == 0 {
            return String::new();
        }
        let mut buf = vec![0 as c_char; size];
        if sys::nvrtcGetProgramLog(prog, buf.as_mut_ptr()) != sys::nvrtcResult::NVRTC_SUCCESS {
            return String::new();
        }
        CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned()
    }
}

fn cubin(prog: sys::nvrtcProgram) -> Result<Vec<u8>> {
    let mut size = 0usize;
    // SAFETY: prog compiled successfully; the buffer has the size NVRTC reported.
    unsafe {
        check(sys::nvrtcGetCUBINSize(prog, &mut size), "nvrtcGetCUBINSize")?;
        let mut buf = vec![0u8; size];
        check(sys::nvrtcGetCUBIN(prog, buf.as_mut_ptr() as *mut c_char), "nvrtcGetCUBIN")?;
        Ok(buf)
    }
}

/// Resource use of one kernel, read from ptxas's verbose log.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KernelResources {
    /// The kernel (`extern "C"` name).
    pub kernel: String,
    /// Registers per thread.
    pub registers: u32,
    /// Static shared memory per block, bytes.
    pub shared_bytes: u32,
    /// Spill stores, bytes.
    pub spill_stores: u32,
    /// Spill loads, bytes.
    pub spill_loads: u32,
}

/// Parses ptxas `-v` output (`Compiling entry function 'k' for 'sm_90'`, `N bytes spill
/// stores, M bytes spill loads`, `Used R registers, ... S bytes smem`) into one row per kernel.
pub fn parse_ptxas_log(log: &str) -> Vec<KernelResources> {
    let mut rows: Vec<KernelResources> = Vec::new();
    for line in log.lines() {
        if let Some(rest) = line.split("entry function '").nth(1) {
            let name = rest.split('\'').next().unwrap_or_default();
            rows.push(KernelResources { kernel: name.to_string(), ..Default::default() });
            continue;
        }
        let Some(row) = rows.last_mut() else { continue };
        if line.contains("spill stores") {
            row.spill_stores = number_before(line, "bytes spill stores");
            row.spill_loads = number_before(line, "bytes spill loads");
        }
        if line.contains("Used") && line.contains("registers") {
            row.registers = number_before(line, "registers");
            row.shared_bytes = number_before(line, "bytes smem");
        }
    }
    rows
}

fn number_before(line: &str, marker: &str) -> u32 {
    line.find(marker)
        .and_then(|at| line[..at].split(|c: char| !c.is_ascii_digit()).rfind(|s| !s.is_empty()))
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_ptxas_verbose_output() {
        let log = "ptxas info    : Compiling entry function 'unary_exp_f32' for 'sm_90'\n\
                   ptxas info    : Function properties for unary_exp_f32\n\
                   ptxas         .    0 bytes stack frame, 8 bytes spill stores, 4 bytes spill loads\n\
                   ptxas info    : Used 18 registers, 1024 bytes smem, 544 bytes cmem[0]\n\
                   ptxas info    : Compiling entry function 'k2' for 'sm_90'\n\
                   ptxas info    : Used 7 registers, 380 bytes cmem[0]\n";
        let rows = parse_ptxas_log(log);
        assert_eq!(rows.len(), 2);
        assert_eq!(
            rows[0],
            KernelResources {
                kernel: "unary_exp_f32".into(),
                registers: 18,
                shared_bytes: 1024,
                spill_stores: 8,
                spill_loads: 4
            }
        );
        assert_eq!((rows[1].registers, rows[1].shared_bytes, rows[1].spill_stores), (7, 0, 0));
    }

    #[test]
    fn options_name_the_architecture() {
        assert!(options("sm_80", true).contains(&"--gpu-architecture=sm_80".to_string()));
        assert!(options("sm_80", true).contains(&"--ptxas-options=-v".to_string()));
    }
}
