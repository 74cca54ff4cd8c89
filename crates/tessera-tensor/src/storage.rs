//! Device buffers, and the dispatch from tensor ops to each device's kernels.
//!
//! This is the one place that matches on devices: a backend adds its arms here and every tensor
//! op works on it.

use crate::{Device, Error, Result};
use tessera_core::{DType, Layout, Shape};
use tessera_kernels::cpu::{self, CpuBuffer};
use tessera_kernels::ops::{BinaryOp, CmpOp, ReduceOp, UnaryOp};

/// A buffer of elements on one device.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Storage {
    /// Host memory.
    Cpu(CpuBuffer),
}

fn same_device(op: &'static str, a: &Storage, b: &Storage) -> Result<()> {
    if a.device() != b.device() {
        return Err(Error::DeviceMismatch { op, lhs: a.device(), rhs: b.device() });
    }
    Ok(())
}

impl Storage {
    /// The device the data lives on.
    pub fn device(&self) -> Device {
        match self {
            Storage::Cpu(_) => Device::Cpu,
        }
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            Storage::Cpu(b) => b.dtype(),
        }
    }

    /// Number of elements in the buffer.
    pub fn len(&self) -> usize {
        match self {
            Storage::Cpu(b) => b.len(),
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
        }
    }

    pub(crate) fn full(device: &Device, dtype: DType, len: usize, value: f64) -> Result<Storage> {
        match device {
            Device::Cpu => Ok(Storage::Cpu(cpu::full(dtype, len, value))),
        }
    }

    pub(crate) fn unary(&self, op: UnaryOp, l: &Layout) -> Result<Storage> {
        match self {
            Storage::Cpu(b) => Ok(Storage::Cpu(cpu::unary(op, b, l)?)),
        }
    }

    pub(crate) fn binary(&self, op: BinaryOp, l: &Layout, rhs: &Storage, rl: &Layout) -> Result<(Storage, Shape)> {
        same_device(op.name(), self, rhs)?;
        match (self, rhs) {
            (Storage::Cpu(a), Storage::Cpu(b)) => {
                let (out, shape) = cpu::binary(op, a, l, b, rl)?;
                Ok((Storage::Cpu(out), shape))
            }
        }
    }

    pub(crate) fn compare(&self, op: CmpOp, l: &Layout, rhs: &Storage, rl: &Layout) -> Result<(Storage, Shape)> {
        same_device(op.name(), self, rhs)?;
        match (self, rhs) {
            (Storage::Cpu(a), Storage::Cpu(b)) => {
                let (out, shape) = cpu::compare(op, a, l, b, rl)?;
                Ok((Storage::Cpu(out), shape))
            }
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
        }
    }

    pub(crate) fn reduce(&self, op: ReduceOp, l: &Layout, dims: &[usize], keepdim: bool) -> Result<(Storage, Shape)> {
        match self {
            Storage::Cpu(b) => {
                let (out, shape) = cpu::reduce(op, b, l, dims, keepdim)?;
                Ok((Storage::Cpu(out), shape))
            }
        }
    }

    pub(crate) fn var(&self, l: &Layout, dims: &[usize], keepdim: bool, correction: usize) -> Result<(Storage, Shape)> {
        match self {
            Storage::Cpu(b) => {
                let (out, shape) = cpu::var(b, l, dims, keepdim, correction)?;
                Ok((Storage::Cpu(out), shape))
            }
        }
    }

    pub(crate) fn arg_reduce(&self, l: &Layout, dim: usize, keepdim: bool, greater: bool) -> Result<(Storage, Shape)> {
        match self {
            Storage::Cpu(b) => {
                let (out, shape) = cpu::arg_reduce(b, l, dim, keepdim, greater)?;
                Ok((Storage::Cpu(out), shape))
            }
        }
    }

    pub(crate) fn softmax(&self, l: &Layout, dim: usize, log: bool) -> Result<Storage> {
        match self {
            Storage::Cpu(b) => {
                Ok(Storage::Cpu(if log { cpu::log_softmax(b, l, dim)? } else { cpu::softmax(b, l, dim)? }))
            }
        }
    }

    pub(crate) fn matmul(&self, l: &Layout, rhs: &Storage, rl: &Layout) -> Result<(Storage, Shape)> {
        same_device("matmul", self, rhs)?;
        match (self, rhs) {
            (Storage::Cpu(a), Storage::Cpu(b)) => {
                let (out, shape) = cpu::matmul(a, l, b, rl)?;
                Ok((Storage::Cpu(out), shape))
            }
        }
    }

    pub(crate) fn copy_strided(&self, l: &Layout) -> Storage {
        match self {
            Storage::Cpu(b) => Storage::Cpu(cpu::copy_strided(b, l)),
        }
    }

    pub(crate) fn cast(&self, l: &Layout, dtype: DType) -> Storage {
        match self {
            Storage::Cpu(b) => Storage::Cpu(cpu::cast(b, l, dtype)),
        }
    }

    pub(crate) fn cat(parts: &[(&Storage, &Layout)], dim: usize) -> Result<(Storage, Shape)> {
        let first = parts[0].0;
        let mut cpu_parts = Vec::with_capacity(parts.len());
        for &(s, l) in parts {
            same_device("cat", first, s)?;
            match s {
                Storage::Cpu(b) => cpu_parts.push((b, l)),
            }
        }
        let (out, shape) = cpu::cat(&cpu_parts, dim)?;
        Ok((Storage::Cpu(out), shape))
    }

    pub(crate) fn index_select(&self, l: &Layout, dim: usize, idx: &Storage, il: &Layout) -> Result<(Storage, Shape)> {
        same_device("index_select", self, idx)?;
        match (self, idx) {
            (Storage::Cpu(b), Storage::Cpu(i)) => {
                let (out, shape) = cpu::index_select(b, l, dim, i, il)?;
                Ok((Storage::Cpu(out), shape))
            }
        }
    }

    pub(crate) fn gather(&self, l: &Layout, dim: usize, idx: &Storage, il: &Layout) -> Result<(Storage, Shape)> {
        same_device("gather", self, idx)?;
        match (self, idx) {
            (Storage::Cpu(b), Storage::Cpu(i)) => {
                let (out, shape) = cpu::gather(b, l, dim, i, il)?;
                Ok((Storage::Cpu(out), shape))
            }
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
        }
    }
}
