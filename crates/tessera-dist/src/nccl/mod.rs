//! The NCCL backend (feature `cuda`): collectives on GPU memory where it lies, queued on the
//! device's one stream, so that they run after the kernels that wrote their buffers and before
//! those that read them next, without a host round trip. NCCL is loaded at run time, as the
//! rest of CUDA is; a machine without it gets [`Error::Nccl`](crate::Error::Nccl) when a
//! communicator tries to join, not a failed build.
//!
//! Every process of a job calls [`Nccl::join`] with the same 128-byte id, made by rank 0 with
//! [`unique_id`] and handed out over MPI ([`Communicator::with_nccl`]) or a rendezvous file
//! ([`Communicator::nccl_rendezvous`](crate::Communicator::nccl_rendezvous)).
//!
//! [`Communicator::with_nccl`]: crate::Communicator::with_nccl

mod communicator;
mod rendezvous;
mod staged;
mod watchdog;

pub(crate) use communicator::in_place_on_device;
use rendezvous::{publish, remove, wait_for};
use staged::Staged;
use watchdog::{Completion, Heartbeats, NcclHooks, Watch, WatchConfig, Watchdog};

use crate::backend::ReduceOp;
use crate::{Error, Result};
use cudarc::nccl::sys as ffi;
use std::ffi::{c_int, c_void, CStr};
use std::sync::{Arc, Mutex, MutexGuard};
use tessera_kernels::cuda::{CudaBuffer, CudaDevice};
use tessera_tensor::DType;

/// The length of NCCL's unique id.
pub(crate) const ID_BYTES: usize = 128;

/// Checks that the NCCL library can be loaded (cudarc's loader would panic otherwise).
fn ensure_loaded() -> Result<()> {
    // SAFETY: only tries to open the library by its candidate names.
    if unsafe { ffi::is_culib_present() } {
        return Ok(());
    }
    Err(Error::NcclUnavailable(
        "no NCCL library found: put the folder holding libnccl.so on LD_LIBRARY_PATH (a pip-installed \
         libnccl.so.2, from nvidia-nccl-cu13, needs a libnccl.so link beside it)"
            .into(),
    ))
}

/// An NCCL status as this crate's error, with NCCL's own message.
fn check(op: &'static str, status: ffi::ncclResult_t) -> Result<()> {
    if status == ffi::ncclResult_t::ncclSuccess {
        return Ok(());
    }
    // SAFETY: ncclGetErrorString returns a static string for any status.
    let msg = unsafe { CStr::from_ptr(ffi::ncclGetErrorString(status)) };
    Err(Error::Nccl { op, msg: format!("{} ({status:?})", msg.to_string_lossy()) })
}

/// A fresh unique id (rank 0 makes it; every rank joins with it).
pub(crate) fn unique_id() -> Result<[u8; ID_BYTES]> {
    ensure_loaded()?;
    let mut id = std::mem::MaybeUninit::<ffi::ncclUniqueId>::uninit();
    // SAFETY: NCCL writes the whole id on success.
    check("ncclGetUniqueId", unsafe { ffi::ncclGetUniqueId(id.as_mut_ptr()) })
        .map_err(|e| Error::NcclUnavailable(e.to_string()))?;
    // SAFETY: written above.
    let id = unsafe { id.assume_init() };
    Ok(id.internal.map(|c| c as u8))
}

/// NCCL's element type for `dtype`.
fn nccl_dtype(dtype: DType) -> ffi::ncclDataType_t {
    use ffi::ncclDataType_t as T;
    match dtype {
        DType::F32 => T::ncclFloat32,
        DType::F64 => T::ncclFloat64,
        DType::F16 => T::ncclFloat16,
        DType::BF16 => T::ncclBfloat16,
        DType::U8 => T::ncclUint8,
        DType::U32 => T::ncclUint32,
        DType::I64 => T::ncclInt64,
    }
}

fn nccl_op(op: ReduceOp) -> ffi::ncclRedOp_t {
    match op {
        ReduceOp::Sum => ffi::ncclRedOp_t::ncclSum,
        ReduceOp::Max => ffi::ncclRedOp_t::ncclMax,
    }
}

/// An NCCL communicator handle, destroyed when dropped.
struct Handle(ffi::ncclComm_t);

// SAFETY: an NCCL communicator may be used from any thread, one call at a time: `Nccl` only
// reaches it through its mutex.
unsafe impl Send for Handle {}

impl Drop for Handle {
    fn drop(&mut self) {
        if self.0.is_null() {
            return; // aborted: NCCL freed it then
        }
        // SAFETY: the handle came from ncclCommInitRank and is destroyed once. Its status is
        // ignored: nothing can be done about a failure while dropping.
        unsafe {
            ffi::ncclCommDestroy(self.0);
        }
    }
}

impl Completion for cudarc::driver::CudaEvent {
    fn finished(&self) -> std::result::Result<bool, String> {
        self.try_is_complete().map_err(|e| format!("{e:?}"))
    }
}

/// This process's member of an NCCL communicator on one GPU, followed by a watchdog.
pub(crate) struct Nccl {
    // Declared first so that it is dropped (its thread joined) before the handle.
    _watchdog: Watchdog,
    watch: Arc<Watch>,
    handle: Arc<Mutex<Handle>>,
    device: Arc<CudaDevice>,
    rank: usize,
    world: usize,
}

impl std::fmt::Debug for Nccl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Nccl {{ rank: {}, world: {}, device: cuda:{} }}", self.rank, self.world, self.device.ordinal())
    }
}

impl Nccl {
    /// Joins the communicator of `world` processes that `id` names, as `rank`, on `device`.
    /// Blocks until every rank has joined. Its watchdog (see [`WatchConfig`]) follows the
    /// collectives from then on, and writes and reads `heartbeats` when given.
    pub(crate) fn join(
        id: &[u8; ID_BYTES],
        rank: usize,
        world: usize,
        device: Arc<CudaDevice>,
        heartbeats: Option<Heartbeats>,
    ) -> Result<Nccl> {
        ensure_loaded()?;
        crate::backend::check_root(rank, world)?;
        // A device without a stream (the host emulator) cannot take part.
        device.stream().map_err(tessera_tensor::Error::from)?;
        device.bind().map_err(tessera_tensor::Error::from)?;
        let id = ffi::ncclUniqueId { internal: id.map(|b| b as std::ffi::c_char) };
        let mut comm: ffi::ncclComm_t = std::ptr::null_mut();
        let (n, r) = (to_c_int(world)?, to_c_int(rank)?);
        // SAFETY: `comm` receives the new handle; the id is passed by value.
        check("ncclCommInitRank", unsafe { ffi::ncclCommInitRank(&mut comm, n, id, r) })?;
        let handle = Arc::new(Mutex::new(Handle(comm)));
        let watch = Arc::<Watch>::default();
        let on_thread = {
            let device = device.clone();
            // The abort and the events' release need the device's context on that thread.
            move || drop(device.bind())
        };
        let watchdog = watch.spawn(WatchConfig::from_env(), heartbeats, Some(hooks(&handle)), on_thread);
        Ok(Nccl { _watchdog: watchdog, watch, handle, device, rank, world })
    }

    pub(crate) fn rank(&self) -> usize {
        self.rank
    }

    pub(crate) fn world(&self) -> usize {
        self.world
    }

    /// The device this member's collectives run on.
    pub(crate) fn device(&self) -> &Arc<CudaDevice> {
        &self.device
    }

    /// The handle, locked, with the device's context current on this thread; the watchdog's
    /// failure once it has failed the communicator.
    fn lock(&self) -> Result<MutexGuard<'_, Handle>> {
        self.watch.check()?;
        self.device.bind().map_err(tessera_tensor::Error::from)?;
        Ok(self.handle.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The watchdog's failure, if it has failed the communicator.
    pub(crate) fn check(&self) -> Result<()> {
        self.watch.check()
    }

    /// Hands a collective just queued (`status` the call's) to the watchdog, to follow
    /// through an event recorded after it on the stream.
    fn launched(&self, op: &'static str, bytes: usize, status: ffi::ncclResult_t) -> Result<()> {
        check(op, status)?;
        let stream = self.device.stream().map_err(tessera_tensor::Error::from)?;
        let event = stream.record_event(None).map_err(|e| Error::Nccl { op, msg: format!("{e:?}") })?;
        self.watch.launched(op, bytes, Box::new(event));
        Ok(())
    }

    fn stream(&self) -> Result<ffi::cudaStream_t> {
        Ok(self.device.stream().map_err(tessera_tensor::Error::from)?.cu_stream() as ffi::cudaStream_t)
    }

    /// A buffer on another GPU than this member's is an error (NCCL would read foreign memory).
    fn check_device(&self, op: &'static str, buf: &CudaBuffer) -> Result<()> {
        if buf.device().ordinal() != self.device.ordinal() {
            return Err(Error::Nccl {
                op,
                msg: format!(
                    "a buffer on cuda:{} given to the communicator of cuda:{}",
                    buf.device().ordinal(),
                    self.device.ordinal()
                ),
            });
        }
        Ok(())
    }

    /// Reduces `buf` over the ranks with `op`, in place (queued on the device's stream).
    pub(crate) fn all_reduce(&self, buf: &mut CudaBuffer, op: ReduceOp) -> Result<()> {
        self.check_device("ncclAllReduce", buf)?;
        // SAFETY: `buf` holds `len` elements of its dtype on this communicator's device.
        unsafe { self.all_reduce_raw(buf.ptr(), buf.len(), nccl_dtype(buf.dtype()), op) }
    }

    /// [`all_reduce`](Nccl::all_reduce) of `count` elements of `dtype` at device address `ptr`.
    ///
    /// # Safety
    /// `ptr` must hold `count` elements of `dtype` on this member's device, and stay allocated
    /// until the stream has run the collective.
    unsafe fn all_reduce_raw(&self, ptr: u64, count: usize, dtype: ffi::ncclDataType_t, op: ReduceOp) -> Result<()> {
        let h = self.lock()?;
        let ptr = ptr as *mut c_void;
        let stream = self.stream()?;
        // In place is allowed (send = receive); the stream orders it after the buffer's writers.
        // SAFETY: the caller's promise about `ptr`; `h` is a live handle.
        let status = unsafe { ffi::ncclAllReduce(ptr, ptr, count, dtype, nccl_op(op), h.0, stream) };
        self.launched("ncclAllReduce", count * dtype_bytes(dtype), status)
    }

    /// Overwrites `buf` with `root`'s, in place.
    pub(crate) fn broadcast(&self, buf: &mut CudaBuffer, root: usize) -> Result<()> {
        self.check_device("ncclBroadcast", buf)?;
        // SAFETY: as in `all_reduce`.
        unsafe { self.broadcast_raw(buf.ptr(), buf.len(), nccl_dtype(buf.dtype()), root) }
    }

    /// [`broadcast`](Nccl::broadcast) at a device address.
    ///
    /// # Safety
    /// As [`all_reduce_raw`](Nccl::all_reduce_raw).
    unsafe fn broadcast_raw(&self, ptr: u64, count: usize, dtype: ffi::ncclDataType_t, root: usize) -> Result<()> {
        crate::backend::check_root(root, self.world)?;
        let h = self.lock()?;
        let ptr = ptr as *mut c_void;
        let root = to_c_int(root)?;
        let stream = self.stream()?;
        // SAFETY: the caller's promise about `ptr`; `h` is a live handle.
        let status = unsafe { ffi::ncclBroadcast(ptr, ptr, count, dtype, root, h.0, stream) };
        self.launched("ncclBroadcast", count * dtype_bytes(dtype), status)
    }

    /// Every rank's `local` into `recv` (world times as long, same dtype), in rank order.
    pub(crate) fn all_gather(&self, local: &CudaBuffer, recv: &mut CudaBuffer) -> Result<()> {
        self.check_device("ncclAllGather", local)?;
        self.check_device("ncclAllGather", recv)?;
        if local.dtype() != recv.dtype() {
            return Err(Error::Types { op: "all_gather" });
        }
        if local.len() * self.world != recv.len() {
            let (expected, actual) = (local.len() * self.world, recv.len());
            return Err(Error::Length { op: "all_gather", expected, actual });
        }
        // SAFETY: `recv` holds world × len elements; the buffers are distinct allocations.
        unsafe { self.all_gather_raw(local.ptr(), recv.ptr(), local.len(), nccl_dtype(local.dtype())) }
    }

    /// [`all_gather`](Nccl::all_gather) at device addresses.
    ///
    /// # Safety
    /// `send` must hold `count` elements of `dtype`, and `recv` world times as many, distinct,
    /// on this member's device, until the stream has run the collective.
    unsafe fn all_gather_raw(&self, send: u64, recv: u64, count: usize, dtype: ffi::ncclDataType_t) -> Result<()> {
        let h = self.lock()?;
        let (send, recv) = (send as *const c_void, recv as *mut c_void);
        let stream = self.stream()?;
        // SAFETY: the caller's promise about the buffers; `h` is a live handle.
        let status = unsafe { ffi::ncclAllGather(send, recv, count, dtype, h.0, stream) };
        self.launched("ncclAllGather", count * self.world * dtype_bytes(dtype), status)
    }

    /// Ends this member's part at once (a failing rank, before it exits): NCCL's abort.
    pub(crate) fn abort(&self) {
        if self.device.bind().is_ok() {
            abort_handle(&mut self.handle.lock().unwrap_or_else(|e| e.into_inner()));
        }
    }
}

/// Aborts a live handle (freeing it; the null left behind tells `Drop`).
fn abort_handle(h: &mut Handle) {
    if !h.0.is_null() {
        // SAFETY: a live handle, aborted once.
        unsafe {
            ffi::ncclCommAbort(h.0);
        }
        h.0 = std::ptr::null_mut();
    }
}

/// The watchdog's view of `handle`: NCCL's asynchronous error, and the abort. Both only try the
/// lock, so that the watchdog never waits behind a caller stuck inside NCCL (it then tries again
/// at its next look, and in the end exits the process).
fn hooks(handle: &Arc<Mutex<Handle>>) -> NcclHooks {
    let (h1, h2) = (handle.clone(), handle.clone());
    NcclHooks {
        async_error: Box::new(move || {
            let h = h1.try_lock().ok()?;
            if h.0.is_null() {
                return None;
            }
            let mut status = ffi::ncclResult_t::ncclSuccess;
            // SAFETY: a live handle, and a place for the status.
            let call = unsafe { ffi::ncclCommGetAsyncError(h.0, &mut status) };
            check("ncclCommGetAsyncError", call)
                .and_then(|_| check("an earlier collective", status))
                .err()
                .map(|e| e.to_string())
        }),
        abort: Box::new(move || match h2.try_lock() {
            Ok(mut h) => {
                abort_handle(&mut h);
                true
            }
            Err(_) => false,
        }),
    }
}

/// The size of one element of NCCL's type `dtype`.
fn dtype_bytes(dtype: ffi::ncclDataType_t) -> usize {
    use ffi::ncclDataType_t as T;
    match dtype {
        T::ncclFloat64 | T::ncclInt64 | T::ncclUint64 => 8,
        T::ncclFloat32 | T::ncclInt32 | T::ncclUint32 => 4,
        T::ncclFloat16 | T::ncclBfloat16 => 2,
        _ => 1,
    }
}

fn to_c_int(v: usize) -> Result<c_int> {
    c_int::try_from(v).map_err(|_| Error::TooLong { op: "NCCL", len: v, max: c_int::MAX as usize })
}
