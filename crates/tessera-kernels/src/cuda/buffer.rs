//! Device buffers: a pooled block of device memory holding `len` elements of one dtype.
//!
//! One type for every dtype (the dtype is a tag, as the kernels are chosen by name at run time):
//! a block from the pool can then serve any dtype. Buffers are immutable once written and shared
//! by reference count; dropping the last reference returns the block to its device's pool.

use super::device::{driver, CudaDevice};
use crate::cpu::{CpuBuffer, CpuElem};
use crate::Result;
use cudarc::driver::result;
use std::sync::Arc;
use tessera_core::{bf16, f16, DType};

struct Block {
    device: Arc<CudaDevice>,
    ptr: u64,
    size: usize,
}

impl Drop for Block {
    fn drop(&mut self) {
        self.device.release(self.ptr, self.size);
    }
}

/// `len` elements of `dtype` on a CUDA device.
#[derive(Clone)]
pub struct CudaBuffer {
    block: Arc<Block>,
    dtype: DType,
    len: usize,
}

impl std::fmt::Debug for CudaBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "CudaBuffer({} x {} on cuda:{})", self.len, self.dtype, self.block.device.ordinal())
    }
}

/// Two buffers are equal when they are the same device memory (contents are not compared: that
/// would need a copy to the host).
impl PartialEq for CudaBuffer {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.block, &other.block) && self.dtype == other.dtype && self.len == other.len
    }
}

impl CudaBuffer {
    /// Uninitialised room for `len` elements of `dtype` (kernels write every element).
    pub fn alloc(device: &Arc<CudaDevice>, dtype: DType, len: usize) -> Result<CudaBuffer> {
        let (ptr, size) = device.alloc(len * dtype.size_in_bytes())?;
        Ok(CudaBuffer { block: Arc::new(Block { device: device.clone(), ptr, size }), dtype, len })
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.dtype
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The device the memory is on.
    pub fn device(&self) -> &Arc<CudaDevice> {
        &self.block.device
    }

    /// The device address of element 0.
    pub fn ptr(&self) -> u64 {
        self.block.ptr
    }

    /// Bytes of payload.
    pub fn bytes(&self) -> usize {
        self.len * self.dtype.size_in_bytes()
    }

    /// Copies a host buffer to `device`.
    pub fn from_cpu(device: &Arc<CudaDevice>, buf: &CpuBuffer) -> Result<CudaBuffer> {
        let out = CudaBuffer::alloc(device, buf.dtype(), buf.len())?;
        if out.len == 0 {
            return Ok(out);
        }
        if device.is_emulated() {
            // SAFETY: the block holds `bytes()` bytes of host memory, disjoint from `buf`.
            crate::dispatch!(buf, v => unsafe {
                std::ptr::copy_nonoverlapping(v.as_ptr().cast::<u8>(), out.ptr() as *mut u8, out.bytes())
            });
            return Ok(out);
        }
        device.bind()?;
        let stream = device.stream()?.cu_stream();
        fn upload<T>(dst: u64, src: &[T], stream: cudarc::driver::sys::CUstream) -> Result<()> {
            // SAFETY: dst holds at least size_of_val(src) bytes; the stream is synchronised below
            // before `src` can be dropped.
            unsafe { result::memcpy_htod_async(dst, src, stream) }.map_err(driver("cuMemcpyHtoD"))
        }
        crate::dispatch!(buf, v => upload(out.ptr(), v, stream))?;
        device.synchronize()?;
        Ok(out)
    }

    /// Copies the whole buffer to the host.
    pub fn to_cpu(&self) -> Result<CpuBuffer> {
        fn download<T: CpuElem + Default + Clone>(b: &CudaBuffer) -> Result<CpuBuffer> {
            let mut host = vec![T::default(); b.len];
            if b.len > 0 && b.device().is_emulated() {
                // SAFETY: the block holds `len` elements of T in host memory, disjoint from `host`.
                unsafe { std::ptr::copy_nonoverlapping(b.ptr() as *const T, host.as_mut_ptr(), b.len) };
            } else if b.len > 0 {
                let dev = b.device();
                dev.bind()?;
                // SAFETY: the buffer holds `len` elements of T; the stream is synchronised before
                // `host` is read.
                unsafe { result::memcpy_dtoh_async(&mut host, b.ptr(), dev.stream()?.cu_stream()) }
                    .map_err(driver("cuMemcpyDtoH"))?;
                dev.synchronize()?;
            }
            Ok(T::wrap(host))
        }
        crate::cpu::reserve_output("to_cpu", self.dtype, self.len)?;
        match self.dtype {
            DType::F32 => download::<f32>(self),
            DType::F64 => download::<f64>(self),
            DType::F16 => download::<f16>(self),
            DType::BF16 => download::<bf16>(self),
            DType::U8 => download::<u8>(self),
            DType::U32 => download::<u32>(self),
            DType::I64 => download::<i64>(self),
        }
    }
}

/// Checks that every buffer has the dtype its plan was checked for (a mismatch is a bug in the
/// caller: the plan was made for other operands).
pub(crate) fn expect_dtype(op: &'static str, expected: DType, bufs: &[&CudaBuffer]) -> Result<()> {
    match bufs.iter().find(|b| b.dtype() != expected) {
        Some(b) => Err(crate::Error::PlanMismatch { op, expected, got: b.dtype() }),
        None => Ok(()),
    }
}
