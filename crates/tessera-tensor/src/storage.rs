//! Device buffers, and the dispatch from tensor ops to each device's kernels.
//!
//! This is the one place that matches on devices: a backend adds its arms here and every tensor
//! op works on it.

use crate::{Device, Error, Result};
use tessera_core::{DType, Layout, Shape};
use tessera_kernels::cpu::{self, CpuBuffer};
use tessera_kernels::cuda::{self, CudaBuffer};
use tessera_kernels::ops::{BinaryOp, CmpOp, ReduceOp, UnaryOp};

/// A buffer of elements on one device.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Storage {
    /// Host memory.
    Cpu(CpuBuffer),
    /// CUDA device memory (shared by reference count; equal when it is the same memory).
    Cuda(CudaBuffer),
}

fn same_device(op: &'static str, a: &Storage, b: &Storage) -> Result<()> {
    if a.device() != b.device() {
        return Err(Error::DeviceMismatch { op, lhs: a.device(), rhs: b.device() });
    }
    Ok(())
}

fn mismatch(op: &'static str, a: &Storage, b: &Storage) -> Error {
    Error::DeviceMismatch { op, lhs: a.device(), rhs: b.device() }
}

impl Storage {
    /// The device the data lives on.
    pub fn device(&self) -> Device {
        match self {
            Storage::Cpu(_) => Device::Cpu,
            Storage::Cuda(b) => Device::Cuda(b.device().ordinal()),
        }
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            Storage::Cpu(b) => b.dtype(),
            Storage::Cuda(b) => b.dtype(),
        }
    }

    /// Number of elements in the buffer.
    pub fn len(&self) -> usize {
        match self {
            Storage::Cpu(b) => b.len(),
            Storage::Cuda(b) => b.len(),
        }
    }

    /// Whether the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The CPU buffer, if the data is on the CPU.
    pub fn as_cpu(&self) -> Option<&CpuBuffer> {
        match self {
            Storage::Cpu(b) => Some(b),
            _ => None,
        }
    }

    /// The CUDA buffer, if the data is on a GPU.
    pub fn as_cuda(&self) -> Option<&CudaBuffer> {
        match self {
            Storage::Cuda(b) => Some(b),
            _ => None,
        }
    }

    /// The elements selected by `l`, contiguous, in host memory (copied from the device if needed).
    pub(crate) fn to_cpu_buffer(&self, l: &Layout) -> Result<CpuBuffer> {
        match self {
            Storage::Cpu(b) => Ok(cpu::copy_strided(b, l)),
            Storage::Cuda(b) => Ok(cuda::copy_strided(b, l)?.to_cpu()?),
        }
    }

    /// The elements selected by `l`, contiguous, on `device`.
    pub(crate) fn to_device(&self, l: &Layout, device: &Device) -> Result<Storage> {
        match (self, device) {
            (Storage::Cpu(b), Device::Cpu) => Ok(Storage::Cpu(cpu::copy_strided(b, l))),
            (Storage::Cuda(b), Device::Cuda(o)) if b.device().ordinal() == *o => {
                Ok(Storage::Cuda(cuda::copy_strided(b, l)?))
            }
            (_, Device::Cuda(o)) => {
                let host = self.to_cpu_buffer(l)?;
                Ok(Storage::Cuda(CudaBuffer::from_cpu(&Device::cuda_device(*o)?, &host)?))
            }
            (_, Device::Cpu) => Ok(Storage::Cpu(self.to_cpu_buffer(l)?)),
        }
    }

    /// Wraps a host buffer as storage on `device` (uploading it for CUDA).
    pub(crate) fn from_cpu(device: &Device, buf: CpuBuffer) -> Result<Storage> {
        match device {
            Device::Cpu => Ok(Storage::Cpu(buf)),
            Device::Cuda(o) => Ok(Storage::Cuda(CudaBuffer::from_cpu(&Device::cuda_device(*o)?, &buf)?)),
        }
    }

    pub(crate) fn full(device: &Device, dtype: DType, len: usize, value: f64) -> Result<Storage> {
        match device {
            Device::Cpu => Ok(Storage::Cpu(cpu::full(dtype, len, value))),
            Device::Cuda(o) => Ok(Storage::Cuda(cuda::full(&Device::cuda_device(*o)?, dtype, len, value)?)),
        }
    }

    pub(crate) fn unary(&self, op: UnaryOp, l: &Layout) -> Result<Storage> {
        match self {
            Storage::Cpu(b) => Ok(Storage::Cpu(cpu::unary(op, b, l)?)),
            Storage::Cuda(b) => Ok(Storage::Cuda(cuda::unary(op, b, l)?)),
        }
    }

    pub(crate) fn binary(&self, op: BinaryOp, l: &Layout, rhs: &Storage, rl: &Layout) -> Result<(Storage, Shape)> {
        same_device(op.name(), self, rhs)?;
        match (self, rhs) {
            (Storage::Cpu(a), Storage::Cpu(b)) => {
                let (out, shape) = cpu::binary(op, a, l, b, rl)?;
                Ok((Storage::Cpu(out), shape))
            }
            (Storage::Cuda(a), Storage::Cuda(b)) => {
                let (out, shape) = cuda::binary(op, a, l, b, rl)?;
                Ok((Storage::Cuda(out), shape))
            }
            _ => Err(mismatch(op.name(), self, rhs)),
        }
    }

    pub(crate) fn compare(&self, op: CmpOp, l: &Layout, rhs: &Storage, rl: &Layout) -> Result<(Storage, Shape)> {
        same_device(op.name(), self, rhs)?;
        match (self, rhs) {
            (Storage::Cpu(a), Storage::Cpu(b)) => {
                let (out, shape) = cpu::compare(op, a, l, b, rl)?;
                Ok((Storage::Cpu(out), shape))
            }
            (Storage::Cuda(a), Storage::Cuda(b)) => {
                let (out, shape) = cuda::compare(op, a, l, b, rl)?;
                Ok((Storage::Cuda(out), shape))
            }
            _ => Err(mismatch(op.name(), self, rhs)),
        }
    }

    pub(crate) fn where_cond(
        &self,
        l: &Layout,
        t: &Storage,
        tl: &Layout,
        f: &Storage,
        fl: &Layout,
    ) -> Result<(Storage, Shape)> {
        same_device("where", self, t)?;
        same_device("where", self, f)?;
        match (self, t, f) {
            (Storage::Cpu(m), Storage::Cpu(t), Storage::Cpu(f)) => {
                let (out, shape) = cpu::where_cond(m, l, t, tl, f, fl)?;
                Ok((Storage::Cpu(out), shape))
            }
            (Storage::Cuda(m), Storage::Cuda(t), Storage::Cuda(f)) => {
                let (out, shape) = cuda::where_cond(m, l, t, tl, f, fl)?;
                Ok((Storage::Cuda(out), shape))
            }
            _ => Err(mismatch("where", self, t)),
        }
    }

    pub(crate) fn reduce(&self, op: ReduceOp, l: &Layout, dims: &[usize], keepdim: bool) -> Result<(Storage, Shape)> {
        match self {
            Storage::Cpu(b) => {
                let (out, shape) = cpu::reduce(op, b, l, dims, keepdim)?;
                Ok((Storage::Cpu(out), shape))
            }
            Storage::Cuda(b) => {
                let (out, shape) = cuda::reduce(op, b, l, dims, keepdim)?;
                Ok((Storage::Cuda(out), shape))
            }
        }
    }

    pub(crate) fn var(&self, l: &Layout, dims: &[usize], keepdim: bool, correction: usize) -> Result<(Storage, Shape)> {
        match self {
            Storage::Cpu(b) => {
                let (out, shape) = cpu::var(b, l, dims, keepdim, correction)?;
                Ok((Storage::Cpu(out), shape))
            }
            Storage::Cuda(b) => {
                let (out, shape) = cuda::var(b, l, dims, keepdim, correction)?;
                Ok((Storage::Cuda(out), shape))
            }
        }
    }

    pub(crate) fn arg_reduce(&self, l: &Layout, dim: usize, keepdim: bool, greater: bool) -> Result<(Storage, Shape)> {
        match self {
            Storage::Cpu(b) => {
                let (out, shape) = cpu::arg_reduce(b, l, dim, keepdim, greater)?;
                Ok((Storage::Cpu(out), shape))
            }
            Storage::Cuda(b) => {
                let (out, shape) = cuda::arg_reduce(b, l, dim, keepdim, greater)?;
                Ok((Storage::Cuda(out), shape))
            }
        }
    }

    pub(crate) fn softmax(&self, l: &Layout, dim: usize, log: bool) -> Result<Storage> {
        match self {
            Storage::Cpu(b) => {
                Ok(Storage::Cpu(if log { cpu::log_softmax(b, l, dim)? } else { cpu::softmax(b, l, dim)? }))
            }
            Storage::Cuda(b) => {
                Ok(Storage::Cuda(if log { cuda::log_softmax(b, l, dim)? } else { cuda::softmax(b, l, dim)? }))
            }
        }
    }

    pub(crate) fn logsumexp(&self, l: &Layout) -> Result<Storage> {
        match self {
            Storage::Cpu(b) => Ok(Storage::Cpu(cpu::logsumexp(b, l)?)),
            Storage::Cuda(b) => Ok(Storage::Cuda(cuda::logsumexp(b, l)?)),
        }
    }

    /// See [`crate::Tensor::cross_entropy_backward`].
    pub(crate) fn cross_entropy_backward(
        &self,
        l: &Layout,
        lse: (&Storage, &Layout),
        target: (&Storage, &Layout),
        scale: (&Storage, &Layout),
        smoothing: f64,
    ) -> Result<Storage> {
        const OP: &str = "cross_entropy_backward";
        for other in [lse.0, target.0, scale.0] {
            same_device(OP, self, other)?;
        }
        match (self, lse.0, target.0, scale.0) {
            (Storage::Cpu(x), Storage::Cpu(m), Storage::Cpu(t), Storage::Cpu(s)) => Ok(Storage::Cpu(
                cpu::cross_entropy_backward((x, l), (m, lse.1), (t, target.1), (s, scale.1), smoothing)?,
            )),
            (Storage::Cuda(x), Storage::Cuda(m), Storage::Cuda(t), Storage::Cuda(s)) => Ok(Storage::Cuda(
                cuda::cross_entropy_backward((x, l), (m, lse.1), (t, target.1), (s, scale.1), smoothing)?,
            )),
            _ => Err(mismatch(OP, self, lse.0)),
        }
    }

    pub(crate) fn matmul_bias(
        &self,
        l: &Layout,
        rhs: (&Storage, &Layout),
        bias: (&Storage, &Layout),
    ) -> Result<(Storage, Shape)> {
        same_device("matmul_bias", self, rhs.0)?;
        same_device("matmul_bias", self, bias.0)?;
        match (self, rhs.0, bias.0) {
            (Storage::Cpu(a), Storage::Cpu(b), Storage::Cpu(c)) => {
                let (out, shape) = cpu::matmul_bias(a, l, b, rhs.1, c, bias.1)?;
                Ok((Storage::Cpu(out), shape))
            }
            (Storage::Cuda(a), Storage::Cuda(b), Storage::Cuda(c)) => {
                let (out, shape) = cuda::matmul_bias(a, l, b, rhs.1, c, bias.1)?;
                Ok((Storage::Cuda(out), shape))
            }
            _ => Err(mismatch("matmul_bias", self, rhs.0)),
        }
    }

    pub(crate) fn matmul(&self, l: &Layout, rhs: &Storage, rl: &Layout) -> Result<(Storage, Shape)> {
        same_device("matmul", self, rhs)?;
        match (self, rhs) {
            (Storage::Cpu(a), Storage::Cpu(b)) => {
                let (out, shape) = cpu::matmul(a, l, b, rl)?;
                Ok((Storage::Cpu(out), shape))
            }
            (Storage::Cuda(a), Storage::Cuda(b)) => {
                let (out, shape) = cuda::matmul(a, l, b, rl)?;
                Ok((Storage::Cuda(out), shape))
            }
            _ => Err(mismatch("matmul", self, rhs)),
        }
    }

    /// The fused LSTM cell forward (see [`crate::Tensor::lstm_cell`]): `(h, c, acts)`.
    pub(crate) fn lstm_cell(
        &self,
        l: &Layout,
        h: &Storage,
        hl: &Layout,
        c_prev: &Storage,
        cl: &Layout,
    ) -> Result<(Storage, Storage, Storage)> {
        same_device("lstm_cell", self, h)?;
        same_device("lstm_cell", self, c_prev)?;
        match (self, h, c_prev) {
            (Storage::Cpu(x), Storage::Cpu(h), Storage::Cpu(c)) => {
                let (h, c, acts) = cpu::lstm_cell(x, l, h, hl, c, cl)?;
                Ok((Storage::Cpu(h), Storage::Cpu(c), Storage::Cpu(acts)))
            }
            (Storage::Cuda(x), Storage::Cuda(h), Storage::Cuda(c)) => {
                let (h, c, acts) = cuda::lstm_cell(x, l, h, hl, c, cl)?;
                Ok((Storage::Cuda(h), Storage::Cuda(c), Storage::Cuda(acts)))
            }
            _ => Err(mismatch("lstm_cell", self, h)),
        }
    }

    /// The fused LSTM cell backward (see [`crate::Tensor::lstm_cell_backward`]):
    /// `(d_gates, dc_prev)`. `self` holds the forward's activated gates.
    pub(crate) fn lstm_cell_backward(
        &self,
        al: &Layout,
        c_prev: &Storage,
        cpl: &Layout,
        c: &Storage,
        cl: &Layout,
        dh: &Storage,
        dhl: &Layout,
        dc: &Storage,
        dcl: &Layout,
    ) -> Result<(Storage, Storage)> {
        const OP: &str = "lstm_cell_backward";
        for other in [c_prev, c, dh, dc] {
            same_device(OP, self, other)?;
        }
        match (self, c_prev, c, dh, dc) {
            (Storage::Cpu(a), Storage::Cpu(cp), Storage::Cpu(c), Storage::Cpu(dh), Storage::Cpu(dc)) => {
                let (dg, dcp) = cpu::lstm_cell_backward(a, al, cp, cpl, c, cl, dh, dhl, dc, dcl)?;
                Ok((Storage::Cpu(dg), Storage::Cpu(dcp)))
            }
            (Storage::Cuda(a), Storage::Cuda(cp), Storage::Cuda(c), Storage::Cuda(dh), Storage::Cuda(dc)) => {
                let (dg, dcp) = cuda::lstm_cell_backward(a, al, cp, cpl, c, cl, dh, dhl, dc, dcl)?;
                Ok((Storage::Cuda(dg), Storage::Cuda(dcp)))
            }
            _ => Err(mismatch(OP, self, c_prev)),
        }
    }

    pub(crate) fn copy_strided(&self, l: &Layout) -> Result<Storage> {
        match self {
            Storage::Cpu(b) => Ok(Storage::Cpu(cpu::copy_strided(b, l))),
            Storage::Cuda(b) => Ok(Storage::Cuda(cuda::copy_strided(b, l)?)),
        }
    }

    pub(crate) fn cast(&self, l: &Layout, dtype: DType) -> Result<Storage> {
        match self {
            Storage::Cpu(b) => Ok(Storage::Cpu(cpu::cast(b, l, dtype))),
            Storage::Cuda(b) => Ok(Storage::Cuda(cuda::cast(b, l, dtype)?)),
        }
    }

    pub(crate) fn cat(parts: &[(&Storage, &Layout)], dim: usize) -> Result<(Storage, Shape)> {
        let first = parts[0].0;
        for &(s, _) in parts {
            same_device("cat", first, s)?;
        }
        match first {
            Storage::Cpu(_) => {
                let bufs: Vec<_> = parts.iter().filter_map(|&(s, l)| s.as_cpu().map(|b| (b, l))).collect();
                let (out, shape) = cpu::cat(&bufs, dim)?;
                Ok((Storage::Cpu(out), shape))
            }
            Storage::Cuda(_) => {
                let bufs: Vec<_> = parts.iter().filter_map(|&(s, l)| s.as_cuda().map(|b| (b, l))).collect();
                let (out, shape) = cuda::cat(&bufs, dim)?;
                Ok((Storage::Cuda(out), shape))
            }
        }
    }

    pub(crate) fn index_select(&self, l: &Layout, dim: usize, idx: &Storage, il: &Layout) -> Result<(Storage, Shape)> {
        same_device("index_select", self, idx)?;
        match (self, idx) {
            (Storage::Cpu(b), Storage::Cpu(i)) => {
                let (out, shape) = cpu::index_select(b, l, dim, i, il)?;
                Ok((Storage::Cpu(out), shape))
            }
            (Storage::Cuda(b), Storage::Cuda(i)) => {
                let (out, shape) = cuda::index_select(b, l, dim, i, il)?;
                Ok((Storage::Cuda(out), shape))
            }
            _ => Err(mismatch("index_select", self, idx)),
        }
    }

    pub(crate) fn gather(&self, l: &Layout, dim: usize, idx: &Storage, il: &Layout) -> Result<(Storage, Shape)> {
        same_device("gather", self, idx)?;
        match (self, idx) {
            (Storage::Cpu(b), Storage::Cpu(i)) => {
                let (out, shape) = cpu::gather(b, l, dim, i, il)?;
                Ok((Storage::Cpu(out), shape))
            }
            (Storage::Cuda(b), Storage::Cuda(i)) => {
                let (out, shape) = cuda::gather(b, l, dim, i, il)?;
                Ok((Storage::Cuda(out), shape))
            }
            _ => Err(mismatch("gather", self, idx)),
        }
    }

    pub(crate) fn scatter_add(
        &self,
        l: &Layout,
        dim: usize,
        idx: &Storage,
        il: &Layout,
        src: &Storage,
        sl: &Layout,
    ) -> Result<Storage> {
        same_device("scatter_add", self, idx)?;
        same_device("scatter_add", self, src)?;
        match (self, idx, src) {
            (Storage::Cpu(b), Storage::Cpu(i), Storage::Cpu(s)) => {
                Ok(Storage::Cpu(cpu::scatter_add(b, l, dim, i, il, s, sl)?))
            }
            (Storage::Cuda(b), Storage::Cuda(i), Storage::Cuda(s)) => {
                Ok(Storage::Cuda(cuda::scatter_add(b, l, dim, i, il, s, sl)?))
            }
            _ => Err(mismatch("scatter_add", self, idx)),
        }
    }
}
