//! One CUDA device: its context and stream, the loaded kernel functions, the caching memory
//! pool and (lazily) a cuBLAS handle; or, with `TESSERA_CUDA_EMULATOR=1`, the host emulator
//! standing in for device 0 (see [`super::emulator`]). Devices live in a process-wide registry
//! and are never dropped, so buffers can always return their blocks to the pool.

use super::emulator::{self, HostMemory};
use super::module_cache;
use super::pool::{Pool, PoolStats, RawAllocator};
use super::source::KernelModule;
use crate::{Error, Result};
use cudarc::cublas::CudaBlas;
use cudarc::driver::{result, sys, CudaContext, CudaFunction, CudaStream, DriverError};
use cudarc::nvrtc::Ptx;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// Converts a driver error into this crate's error, naming the call.
pub(crate) fn driver(op: &'static str) -> impl Fn(DriverError) -> Error {
    move |e| Error::Cuda { op, msg: format!("{e:?}") }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The number of CUDA devices, or why there are none usable (1 under the host emulator). Never
/// panics: it checks that the driver library loads before calling into it (cudarc panics
/// otherwise).
pub fn device_count() -> Result<usize> {
    if emulator::enabled() {
        return Ok(1);
    }
    static DRIVER: OnceLock<bool> = OnceLock::new();
    // SAFETY: only probes for the shared library by name.
    if !*DRIVER.get_or_init(|| unsafe { sys::is_culib_present() }) {
        return Err(Error::CudaUnavailable("no CUDA driver: libcuda.so cannot be loaded".into()));
    }
    match CudaContext::device_count() {
        Ok(n) if n > 0 => Ok(n as usize),
        Ok(_) => Err(Error::CudaUnavailable("the CUDA driver reports no devices".into())),
        Err(e) => Err(Error::CudaUnavailable(format!("the CUDA driver failed to initialise: {e:?}"))),
    }
}

struct DriverAlloc(Arc<CudaContext>);

impl RawAllocator for DriverAlloc {
    fn alloc(&mut self, bytes: usize) -> Result<u64> {
        self.0.bind_to_thread().map_err(driver("bind context"))?;
        // SAFETY: the context is current; the block is freed only through `free`.
        unsafe { result::malloc_sync(bytes) }.map_err(|e| {
            if e.0 != sys::cudaError_enum::CUDA_ERROR_OUT_OF_MEMORY {
                return driver("cuMemAlloc")(e);
            }
            let (free, total) = result::mem_get_info().unwrap_or((0, 0));
            Error::OutOfDeviceMemory { device: self.0.ordinal(), requested: bytes, free, total }
        })
    }
    fn free(&mut self, ptr: u64) {
        if self.0.bind_to_thread().is_ok() {
            // SAFETY: ptr came from `alloc` and is no longer referenced by any buffer.
            let _ = unsafe { result::free_sync(ptr) };
        }
    }
}

/// Device memory: the driver's, or host memory under the emulator.
enum Memory {
    Driver(DriverAlloc),
    Host(HostMemory),
}

impl RawAllocator for Memory {
    fn alloc(&mut self, bytes: usize) -> Result<u64> {
        match self {
            Memory::Driver(d) => d.alloc(bytes),
            Memory::Host(h) => h.alloc(bytes),
        }
    }
    fn free(&mut self, ptr: u64) {
        match self {
            Memory::Driver(d) => d.free(ptr),
            Memory::Host(h) => h.free(ptr),
        }
    }
}

/// What runs a device's work: the CUDA driver, or the host emulator.
enum Backend {
    Driver(Driver),
    Emulated(emulator::Modules),
}

/// A device of the CUDA driver.
struct Driver {
    ctx: Arc<CudaContext>,
    stream: Arc<CudaStream>,
    functions: Mutex<HashMap<String, CudaFunction>>,
    modules: Mutex<HashMap<&'static str, Arc<cudarc::driver::CudaModule>>>,
    blas: Mutex<Option<CudaBlas>>,
}

/// A CUDA device ready for kernels.
pub struct CudaDevice {
    ordinal: usize,
    name: String,
    arch: String,
    pool: Mutex<Pool<Memory>>,
    backend: Backend,
}

impl std::fmt::Debug for CudaDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CudaDevice({}: {}, {})", self.ordinal, self.name, self.arch)
    }
}

impl CudaDevice {
    /// The device `ordinal`, opened on first use. Errors (never panics) without a driver or when
    /// the ordinal is out of range.
    pub fn get(ordinal: usize) -> Result<Arc<CudaDevice>> {
        static REGISTRY: OnceLock<Mutex<HashMap<usize, Arc<CudaDevice>>>> = OnceLock::new();
        let mut reg = lock(REGISTRY.get_or_init(Default::default));
        if let Some(d) = reg.get(&ordinal) {
            return Ok(d.clone());
        }
        let count = device_count()?;
        if ordinal >= count {
            return Err(Error::CudaUnavailable(format!(
                "no CUDA device {ordinal}: this machine has {count} (ordinals 0..{count})"
            )));
        }
        if emulator::enabled() {
            let dev = Arc::new(CudaDevice {
                ordinal,
                name: "host emulator".into(),
                arch: "host".into(),
                pool: Mutex::new(Pool::new(Memory::Host(HostMemory::default()))),
                backend: Backend::Emulated(emulator::Modules::default()),
            });
            reg.insert(ordinal, dev.clone());
            return Ok(dev);
        }
        let ctx = CudaContext::new(ordinal).map_err(driver("cuCtxCreate"))?;
        let (major, minor) = ctx.compute_capability().map_err(driver("compute capability"))?;
        let stream = ctx.new_stream().map_err(driver("cuStreamCreate"))?;
        let dev = Arc::new(CudaDevice {
            ordinal,
            name: ctx.name().unwrap_or_else(|_| "unknown GPU".into()),
            arch: format!("sm_{major}{minor}"),
            pool: Mutex::new(Pool::new(Memory::Driver(DriverAlloc(ctx.clone())))),
            backend: Backend::Driver(Driver {
                ctx,
                stream,
                functions: Mutex::default(),
                modules: Mutex::default(),
                blas: Mutex::new(None),
            }),
        });
        reg.insert(ordinal, dev.clone());
        Ok(dev)
    }

    /// The ordinal.
    pub fn ordinal(&self) -> usize {
        self.ordinal
    }

    /// The GPU's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The architecture kernels are compiled for (`sm_90`; `host` under the emulator).
    pub fn arch(&self) -> &str {
        &self.arch
    }

    /// Whether this is the host emulator (`TESSERA_CUDA_EMULATOR=1`) rather than a GPU.
    pub fn is_emulated(&self) -> bool {
        matches!(self.backend, Backend::Emulated(_))
    }

    /// The host emulator's kernel modules, when this device is the emulator.
    pub(crate) fn emulator(&self) -> Option<&emulator::Modules> {
        match &self.backend {
            Backend::Emulated(m) => Some(m),
            Backend::Driver(_) => None,
        }
    }

    fn on_driver(&self, op: &'static str) -> Result<&Driver> {
        match &self.backend {
            Backend::Driver(d) => Ok(d),
            Backend::Emulated(_) => Err(Error::CudaUnavailable(format!(
                "{op}: the host emulator ({}=1) has no CUDA driver behind it",
                emulator::EMULATOR_VAR
            ))),
        }
    }

    /// The stream every op of this device runs on (an error under the emulator, which has none).
    pub fn stream(&self) -> Result<&Arc<CudaStream>> {
        Ok(&self.on_driver("stream")?.stream)
    }

    /// Makes the device's context current on this thread (raw driver calls need it, and so do
    /// libraries that take the device's pointers and stream, such as NCCL).
    pub fn bind(&self) -> Result<()> {
        match &self.backend {
            Backend::Driver(d) => d.ctx.bind_to_thread().map_err(driver("bind context")),
            Backend::Emulated(_) => Ok(()),
        }
    }

    /// Waits for all queued work; reports asynchronous kernel errors. The emulator's work is
    /// done when its calls return.
    pub fn synchronize(&self) -> Result<()> {
        match &self.backend {
            Backend::Driver(d) => {
                self.bind()?;
                d.stream.synchronize().map_err(driver("cuStreamSynchronize"))
            }
            Backend::Emulated(_) => Ok(()),
        }
    }

    /// The memory pool's counters.
    pub fn pool_stats(&self) -> PoolStats {
        lock(&self.pool).stats()
    }

    /// Frees the pool's cached blocks (memory held by live tensors stays).
    pub fn empty_cache(&self) -> Result<()> {
        self.synchronize()?;
        lock(&self.pool).release_cached();
        Ok(())
    }

    pub(crate) fn alloc(&self, bytes: usize) -> Result<(u64, usize)> {
        lock(&self.pool).take(bytes)
    }

    pub(crate) fn release(&self, ptr: u64, size: usize) {
        lock(&self.pool).give(ptr, size)
    }

    /// The kernel `name` of `module`, compiling and loading the module on first use.
    pub(crate) fn function(&self, module: &KernelModule, name: &str) -> Result<CudaFunction> {
        let d = self.on_driver("cuModuleGetFunction")?;
        if let Some(f) = lock(&d.functions).get(name) {
            return Ok(f.clone());
        }
        let loaded = {
            let mut modules = lock(&d.modules);
            match modules.get(module.name) {
                Some(m) => m.clone(),
                None => {
                    let cubin = module_cache::cubin(module, &self.arch)?;
                    let m = d.ctx.load_module(Ptx::from_binary(cubin.to_vec())).map_err(driver("cuModuleLoadData"))?;
                    modules.insert(module.name, m.clone());
                    m
                }
            }
        };
        let f = loaded.load_function(name).map_err(|e| Error::Cuda {
            op: "cuModuleGetFunction",
            msg: format!("kernel {name} in module {}: {e:?}", module.name),
        })?;
        lock(&d.functions).insert(name.to_string(), f.clone());
        Ok(f)
    }

    /// Runs `f` with this device's cuBLAS handle, created on first use (an error, not a panic,
    /// when the cuBLAS library is missing).
    pub(crate) fn with_blas<R>(&self, f: impl FnOnce(&CudaBlas) -> Result<R>) -> Result<R> {
        let d = self.on_driver("cuBLAS")?;
        let mut guard = lock(&d.blas);
        if guard.is_none() {
            // SAFETY: only probes for the shared libraries by name.
            let present = unsafe { cudarc::cublas::sys::is_culib_present() };
            if !present {
                return Err(Error::CudaUnavailable("the cuBLAS library (libcublas.so) cannot be loaded".into()));
            }
            self.bind()?;
            let blas = CudaBlas::new(d.stream.clone())
                .map_err(|e| Error::Cuda { op: "cublasCreate", msg: format!("{e:?}") })?;
            *guard = Some(blas);
        }
        f(guard.as_ref().expect("created above"))
    }
}
