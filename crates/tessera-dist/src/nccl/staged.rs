//! Host buffers through NCCL: the [`Transport`] of a job joined without MPI, whose small
//! collectives (losses, counts, flags, descriptions) are copied to the GPU, reduced there and
//! copied back.

use super::{ffi, Nccl};
use crate::backend::{check_gather, Buf, ReduceOp, Transport};
use crate::{Error, Result};
use cudarc::driver::result as driver;
use std::sync::Arc;
use tessera_kernels::cuda::CudaBuffer;
use tessera_tensor::DType;

/// The [`Transport`] of [`Communicator::nccl_rendezvous`](crate::Communicator::nccl_rendezvous).
#[derive(Debug)]
pub(crate) struct Staged(pub(crate) Arc<Nccl>);

/// A host buffer as its bytes, NCCL's element type and its element count.
fn raw(buf: Buf<'_>) -> (&mut [u8], ffi::ncclDataType_t, usize) {
    fn bytes<E>(v: &mut [E]) -> &mut [u8] {
        // SAFETY: f32, f64, u64 and u8 have no padding and every byte pattern of them is valid.
        unsafe { std::slice::from_raw_parts_mut(v.as_mut_ptr().cast(), std::mem::size_of_val(v)) }
    }
    let (count, dtype) = (buf.len(), nccl_type(&buf));
    let bytes = match buf {
        Buf::F32(v) => bytes(v),
        Buf::F64(v) => bytes(v),
        Buf::U64(v) => bytes(v),
        Buf::U8(v) => bytes(v),
    };
    (bytes, dtype, count)
}

fn nccl_type(buf: &Buf<'_>) -> ffi::ncclDataType_t {
    use ffi::ncclDataType_t as T;
    match buf {
        Buf::F32(_) => T::ncclFloat32,
        Buf::F64(_) => T::ncclFloat64,
        Buf::U64(_) => T::ncclUint64,
        Buf::U8(_) => T::ncclUint8,
    }
}

impl Staged {
    /// Device room for `bytes` bytes (at least one, so that the pointer is a real block).
    fn scratch(&self, bytes: usize) -> Result<CudaBuffer> {
        Ok(CudaBuffer::alloc(self.0.device(), DType::U8, bytes.max(1)).map_err(tessera_tensor::Error::from)?)
    }

    /// Copies `host` to `dev`'s memory (queued on the stream).
    fn upload(&self, dev: &CudaBuffer, host: &[u8]) -> Result<()> {
        let stream = self.0.device().stream().map_err(tessera_tensor::Error::from)?.cu_stream();
        // SAFETY: `dev` holds at least `host.len()` bytes; the stream is synchronised (in
        // `download`) before `host` can change.
        unsafe { driver::memcpy_htod_async(dev.ptr(), host, stream) }.map_err(cuda("cuMemcpyHtoD"))
    }

    /// Copies `dev`'s first `host.len()` bytes back and waits for the stream.
    fn download(&self, host: &mut [u8], dev: &CudaBuffer) -> Result<()> {
        let stream = self.0.device().stream().map_err(tessera_tensor::Error::from)?.cu_stream();
        // SAFETY: as in `upload`; the synchronisation below ends the copy before `host` is read.
        unsafe { driver::memcpy_dtoh_async(host, dev.ptr(), stream) }.map_err(cuda("cuMemcpyDtoH"))?;
        self.0.device().synchronize().map_err(tessera_tensor::Error::from)?;
        // A synchronisation the watchdog ended by aborting NCCL returns with nothing reduced.
        self.0.check()
    }

    /// Runs `collective` on a device copy of `buf` and copies the result back into it.
    fn in_place(
        &self,
        buf: Buf<'_>,
        collective: impl FnOnce(u64, usize, ffi::ncclDataType_t) -> Result<()>,
    ) -> Result<()> {
        let (host, dtype, count) = raw(buf);
        if count == 0 {
            return Ok(());
        }
        let dev = self.scratch(host.len())?;
        self.upload(&dev, host)?;
        collective(dev.ptr(), count, dtype)?;
        self.download(host, &dev)
    }
}

fn cuda(op: &'static str) -> impl Fn(cudarc::driver::DriverError) -> Error {
    move |e| Error::Nccl { op, msg: format!("{e:?}") }
}

impl Transport for Staged {
    fn rank(&self) -> usize {
        self.0.rank()
    }

    fn world(&self) -> usize {
        self.0.world()
    }

    fn all_reduce(&self, buf: Buf<'_>, op: ReduceOp) -> Result<()> {
        // SAFETY: `in_place` passes a device block holding `count` elements of `dtype`, kept
        // until its download has synchronised the stream.
        self.in_place(buf, |ptr, count, dtype| unsafe { self.0.all_reduce_raw(ptr, count, dtype, op) })
    }

    fn broadcast(&self, buf: Buf<'_>, root: usize) -> Result<()> {
        // SAFETY: as in `all_reduce`.
        self.in_place(buf, |ptr, count, dtype| unsafe { self.0.broadcast_raw(ptr, count, dtype, root) })
    }

    fn all_gather(&self, local: Buf<'_>, recv: Buf<'_>) -> Result<()> {
        check_gather(&local, &recv, self.world())?;
        let ((send, dtype, count), (out, out_dtype, _)) = (raw(local), raw(recv));
        if dtype != out_dtype {
            return Err(Error::Types { op: "all_gather" });
        }
        if count == 0 {
            return Ok(());
        }
        let (dev_send, dev_out) = (self.scratch(send.len())?, self.scratch(out.len())?);
        self.upload(&dev_send, send)?;
        // SAFETY: the two blocks hold count and world × count elements until the download.
        unsafe { self.0.all_gather_raw(dev_send.ptr(), dev_out.ptr(), count, dtype) }?;
        self.download(out, &dev_out)
    }

    fn barrier(&self) -> Result<()> {
        // A collective every rank must enter, waited for on the host.
        self.all_reduce(Buf::U8(&mut [0]), ReduceOp::Max)
    }

    fn abort(&self, code: i32) -> ! {
        self.0.abort();
        std::process::exit(code)
    }
}
