//! The host emulator: a CUDA device that runs on the CPU, for checking the CUDA backend's own code
//! (launch shapes, argument packing, buffer handling, the kernels and the cuBLAS parameters) on
//! machines without a GPU. `TESSERA_CUDA_EMULATOR=1` makes device 0 an emulated device: its
//! memory is host memory, each kernel module is built by the system C++ compiler
//! (`kernels/host_emulation.h` runs each launch's blocks with their threads as fibers that meet
//! at barriers and shuffles), and matmul runs cuBLAS's strided-batched GEMM parameters on the
//! host. It is slow (one epoch of `tessera train lm` on 4,000 lines took 53 s on the emulated
//! device against 2 s on the CPU, on a 2-vCPU Zen 4), and it has no streams, so NCCL refuses it.

use crate::cuda::launch::Shape3;
use crate::cuda::module_cache::{cache_dir, fnv1a, write_atomic};
use crate::cuda::pool::RawAllocator;
use crate::cuda::source::{KernelModule, COMMON_HEADER};
use crate::{Error, Result};
use libloading::Library;
use std::collections::HashMap;
use std::ffi::c_void;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

mod gemm;
pub(crate) use gemm::Gemm;

/// The environment variable that turns the emulator on (`1`).
pub const EMULATOR_VAR: &str = "TESSERA_CUDA_EMULATOR";

/// The emulator's runtime, which every host build of a kernel module includes.
pub const RUNTIME_HEADER: &str = include_str!("../../../kernels/host_emulation.h");

/// Whether `TESSERA_CUDA_EMULATOR=1`.
pub fn enabled() -> bool {
    std::env::var_os(EMULATOR_VAR).is_some_and(|v| v == "1")
}

fn emulator_error(msg: String) -> Error {
    Error::Cuda { op: "host emulator", msg }
}

/// Host memory standing in for device memory, 256-byte aligned as cudaMalloc's is.
#[derive(Default)]
pub(crate) struct HostMemory {
    blocks: HashMap<u64, std::alloc::Layout>,
}

impl RawAllocator for HostMemory {
    fn alloc(&mut self, bytes: usize) -> Result<u64> {
        let layout = std::alloc::Layout::from_size_align(bytes.max(1), 256)
            .map_err(|_| emulator_error(format!("no layout for {bytes} bytes")))?;
        // SAFETY: the layout's size is at least 1.
        let ptr = unsafe { std::alloc::alloc(layout) };
        if ptr.is_null() {
            return Err(Error::OutOfDeviceMemory { device: 0, requested: bytes, free: 0, total: 0 });
        }
        self.blocks.insert(ptr as u64, layout);
        Ok(ptr as u64)
    }

    fn free(&mut self, ptr: u64) {
        if let Some(layout) = self.blocks.remove(&ptr) {
            // SAFETY: `ptr` came from `alloc` with this layout and is freed once.
            unsafe { std::alloc::dealloc(ptr as *mut u8, layout) };
        }
    }
}

/// In which order the emulator takes a block's threads: thread 0 first, or the last first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ThreadOrder {
    /// Thread 0 runs ahead of the others up to its first barrier.
    FirstFirst,
    /// The last thread runs ahead.
    LastFirst,
}

/// Runs `kernel_call` as every thread of a launch of `shape` of `lib`'s kernels, in the thread
/// order opposite to this OS thread's previous launch: a test or a training step launches in a
/// fixed sequence, so each run sees the same orders, and a missing barrier shows whichever
/// thread it lets read too early.
pub(crate) fn run_launch(lib: &Library, shape: Shape3, kernel_call: &dyn Fn()) -> std::result::Result<(), String> {
    thread_local! {
        static LAUNCHES: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
    }
    let n = LAUNCHES.with(|c| c.replace(c.get() + 1));
    let order = if n.is_multiple_of(2) { ThreadOrder::FirstFirst } else { ThreadOrder::LastFirst };
    run_launch_in(order, lib, shape, kernel_call)
}

/// [`run_launch`] in the given thread order. One launch runs at a time in the process: the
/// static locals of the kernels' inline functions (the block reductions' shared memory) may be
/// one object across all loaded modules (GCC makes them unique symbols).
pub(crate) fn run_launch_in(
    order: ThreadOrder,
    lib: &Library,
    shape: Shape3,
    kernel_call: &dyn Fn(),
) -> std::result::Result<(), String> {
    type LaunchFn = unsafe extern "C" fn(u32, u32, i32, extern "C" fn(*mut c_void), *mut c_void, *mut u8, u64) -> i32;
    extern "C" fn thread(call: *mut c_void) {
        // SAFETY: `call` is the `&&dyn Fn()` that `run_launch_in` passed, alive for the whole
        // launch.
        unsafe { (*(call as *const &dyn Fn()))() }
    }
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _running = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    // SAFETY: every host build defines `ts_host_launch` with this signature.
    let run: LaunchFn = unsafe { *lib.get::<LaunchFn>(b"ts_host_launch").map_err(|e| e.to_string())? };
    let mut error = [0u8; 512];
    let call = &kernel_call as *const &dyn Fn() as *mut c_void;
    let reverse = (order == ThreadOrder::LastFirst) as i32;
    // SAFETY: the emulator calls `thread` with `call` on fibers of this thread only, before it
    // returns; `error` has the length passed.
    let failed = unsafe { run(shape.grid, shape.block, reverse, thread, call, error.as_mut_ptr(), error.len() as u64) };
    if failed == 0 {
        return Ok(());
    }
    let message = std::ffi::CStr::from_bytes_until_nul(&error).map(|m| m.to_string_lossy().into_owned());
    Err(format!("a launch of {} blocks of {} threads: {}", shape.grid, shape.block, message.unwrap_or_default()))
}

/// What [`compile`] says when the machine has no host C++ compiler at all.
pub(crate) const NO_COMPILER: &str = "no host C++ compiler (g++ or c++) was found";

/// Runs the host C++ compiler (`g++`, else `c++`) with `args`; its output when it succeeds, else
/// its messages.
fn host_compiler(args: &[&std::ffi::OsStr]) -> std::result::Result<std::process::Output, String> {
    let mut last = String::from(NO_COMPILER);
    for cxx in ["g++", "c++"] {
        match std::process::Command::new(cxx).args(args).output() {
            Ok(o) if o.status.success() => return Ok(o),
            Ok(o) => last = format!("{cxx} failed: {}", String::from_utf8_lossy(&o.stderr)),
            Err(_) => continue,
        }
    }
    Err(last)
}

/// The host compiler's flags for a kernel module (then `-I` the folder of `common.cuh`).
const COMPILE_FLAGS: [&str; 9] =
    ["-O1", "-std=c++17", "-shared", "-fPIC", "-DTS_HOST_EMULATION", "-Wno-unknown-pragmas", "-x", "c++", "-I"];

/// Builds `src` (a kernel module, which includes `common.cuh` from `include`) with the host C++
/// compiler into the shared library `out`; the compiler's messages on failure.
pub(crate) fn compile(src: &Path, include: &Path, out: &Path) -> std::result::Result<(), String> {
    let mut args: Vec<&std::ffi::OsStr> = COMPILE_FLAGS.iter().map(std::ffi::OsStr::new).collect();
    args.extend([include.as_os_str(), src.as_os_str(), "-o".as_ref(), out.as_os_str()]);
    host_compiler(&args).map(drop)
}

/// The names of the kernels in a preprocessed module: every `extern "C" void NAME(` but the
/// emulator's own.
fn kernel_names(preprocessed: &str) -> Vec<String> {
    const MARK: &str = "extern \"C\" void ";
    let mut names = Vec::new();
    for (at, _) in preprocessed.match_indices(MARK) {
        let rest = &preprocessed[at + MARK.len()..];
        let name: String = rest.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect();
        if !name.is_empty() && !name.starts_with("ts_host") && !names.contains(&name) {
            names.push(name);
        }
    }
    names
}

/// C++ that gives every kernel `NAME` a `ts_thunk_NAME(void** params)`, which calls it with the
/// arguments `params` point at: the driver's convention, which [`super::launch::Args`] packs.
fn thunks(names: &[String]) -> String {
    let mut s = String::from(
        "\n#include <utility>\n\
         template <typename... A, std::size_t... I>\n\
         static void ts_call(void (*f)(A...), void** p, std::index_sequence<I...>) { f(*(A*)p[I]...); }\n\
         template <typename... A> static void ts_thunk(void (*f)(A...), void** p) {\n\
         \x20   ts_call(f, p, std::index_sequence_for<A...>{});\n}\n",
    );
    for n in names {
        s.push_str(&format!("extern \"C\" void ts_thunk_{n}(void** p) {{ ts_thunk({n}, p); }}\n"));
    }
    s
}

/// The emulated device's kernel modules, built on first use in a folder of this process and kept
/// in the kernel cache (beside the cubins, keyed by a hash of the sources and flags), so that
/// later processes load them at once.
#[derive(Default)]
pub(crate) struct Modules {
    libs: Mutex<HashMap<&'static str, &'static Library>>,
}

impl Modules {
    fn folder() -> Result<&'static PathBuf> {
        static FOLDER: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
        let made = FOLDER.get_or_init(|| {
            let dir = std::env::temp_dir().join(format!("tessera-cuda-emulator-{}", std::process::id()));
            let write = |name: &str, text: &str| std::fs::write(dir.join(name), text);
            std::fs::create_dir_all(&dir)
                .and_then(|_| write("common.cuh", COMMON_HEADER))
                .and_then(|_| write("host_emulation.h", RUNTIME_HEADER))
                .map(|_| dir.clone())
                .map_err(|e| format!("{}: {e}", dir.display()))
        });
        made.as_ref().map_err(|e| emulator_error(e.clone()))
    }

    fn module(&self, module: &KernelModule) -> Result<&'static Library> {
        let mut libs = self.libs.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(lib) = libs.get(module.name) {
            return Ok(lib);
        }
        let key = fnv1a(&[
            module.source.as_bytes(),
            COMMON_HEADER.as_bytes(),
            RUNTIME_HEADER.as_bytes(),
            COMPILE_FLAGS.join(" ").as_bytes(),
        ]);
        let cached = cache_dir().map(|d| d.join(format!("{}-host-{key:016x}.so", module.name)));
        let built = match &cached {
            Some(path) if path.is_file() => path.clone(),
            _ => Self::build(module, cached.as_deref())?,
        };
        let failed = |e: String| emulator_error(format!("loading the host build of {}.cu: {e}", module.name));
        // SAFETY: a library built from the crate's own kernel sources, with no initialisers of
        // note; it stays loaded for the life of the process.
        let lib: &'static Library =
            Box::leak(Box::new(unsafe { Library::new(&built) }.map_err(|e| failed(e.to_string()))?));
        libs.insert(module.name, lib);
        Ok(lib)
    }

    /// Builds `module` with a thunk per kernel; its path (`cache`, when given and writable).
    fn build(module: &KernelModule, cache: Option<&Path>) -> Result<PathBuf> {
        let dir = Self::folder()?;
        let src = dir.join(format!("{}.cu", module.name));
        let failed = |e: String| emulator_error(format!("building {}.cu: {e}", module.name));
        std::fs::write(&src, module.source).map_err(|e| failed(e.to_string()))?;
        let flags = ["-E", "-std=c++17", "-DTS_HOST_EMULATION", "-x", "c++", "-I"].map(std::ffi::OsStr::new);
        let preprocessed =
            host_compiler(&[&flags[..], &[dir.as_os_str(), src.as_os_str()]].concat()).map_err(failed)?;
        let names = kernel_names(&String::from_utf8_lossy(&preprocessed.stdout));
        if names.is_empty() {
            return Err(failed("the preprocessed source declares no kernels".into()));
        }
        std::fs::write(&src, format!("{}{}", module.source, thunks(&names))).map_err(|e| failed(e.to_string()))?;
        let out = dir.join(format!("{}.so", module.name));
        compile(&src, dir, &out).map_err(failed)?;
        match cache.filter(|path| std::fs::read(&out).and_then(|bytes| write_atomic(path, &bytes)).is_ok()) {
            Some(kept) => {
                let _ = (std::fs::remove_file(&out), std::fs::remove_file(&src));
                Ok(kept.to_path_buf())
            }
            None => Ok(out),
        }
    }

    /// Runs `kernel` of `module` over `shape` with the driver-style `params`.
    pub(crate) fn launch(
        &self,
        module: &KernelModule,
        kernel: &str,
        shape: Shape3,
        params: &[*mut c_void],
    ) -> Result<()> {
        type Thunk = unsafe extern "C" fn(*const *mut c_void);
        let lib = self.module(module)?;
        let name = format!("ts_thunk_{kernel}");
        // SAFETY: every thunk has the signature `Thunk`.
        let thunk: Thunk = *unsafe { lib.get::<Thunk>(name.as_bytes()) }.map_err(|e| Error::Cuda {
            op: "cuModuleGetFunction",
            msg: format!("kernel {kernel} in module {}: {e}", module.name),
        })?;
        // SAFETY: `params` point at the kernel's arguments, laid out as its C signature expects,
        // alive until the launch returns; device pointers among them are host addresses.
        run_launch(lib, shape, &|| unsafe { thunk(params.as_ptr()) })
            .map_err(|msg| Error::Cuda { op: "cuLaunchKernel", msg: format!("{kernel}: {msg}") })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_names_skip_the_emulators_own_functions() {
        let text = "extern \"C\" void ts_host_switch(void**, void*);\n\
                    extern \"C\" void unary_exp_f32(u64 n) {}\nextern \"C\" void unary_exp_f32(u64 n);\n\
                    extern \"C\" int ts_host_launch(unsigned grid);\nextern \"C\" void fill_u8(u64 n) {}";
        assert_eq!(kernel_names(text), ["unary_exp_f32", "fill_u8"]);
    }

    #[test]
    fn host_memory_is_aligned_and_returned() {
        let mut mem = HostMemory::default();
        let ptrs: Vec<u64> = [1, 300, 0, 1 << 20].iter().map(|&b| mem.alloc(b).unwrap()).collect();
        assert!(ptrs.iter().all(|p| p % 256 == 0));
        for p in ptrs {
            mem.free(p);
        }
        assert!(mem.blocks.is_empty());
    }
}
