//! Device buffers, and the dispatch from tensor ops to each device's kernels.
//!
//! This is the one place that matches on devices, and every match is exhaustive (no wildcard
//! arm): a backend adds its variant here, the compiler lists every op it must serve, and every
//! tensor op works on it. Each op receives a plan its tensor built (see
//! `tessera_kernels::plan`), so both device halves see arguments already checked.

use crate::dispatch_log::note;
use crate::{Device, Error, Result};
use tessera_core::{DType, Layout};
use tessera_kernels::cpu::{self, CpuBuffer};
#[cfg(feature = "cuda")]
use tessera_kernels::cuda::{self, CudaBuffer};
use tessera_kernels::plan::{
    BinaryPlan, CatPlan, ComparePlan, CrossEntropyBackwardPlan, DropoutPlan, GatherPlan, IndexSelectPlan,
    LogSumExpPlan, MatmulPlan, ReducePlan, ScatterAddPlan, SoftmaxPlan, SumSquaresPlan, UnaryPlan, WherePlan,
};

/// A buffer of elements on one device.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Storage {
    /// Host memory.
    Cpu(CpuBuffer),
    /// CUDA device memory (shared by reference count; equal when it is the same memory).
    #[cfg(feature = "cuda")]
    Cuda(CudaBuffer),
}

/// The buffers of one op's operands, all on one device.
enum OnDevice<'a, const N: usize> {
    Cpu([&'a CpuBuffer; N]),
    #[cfg(feature = "cuda")]
    Cuda([&'a CudaBuffer; N]),
}

/// The operands' buffers, after checking that they share one device (an error naming `op` and
/// both devices otherwise).
fn on_one_device<'a, const N: usize>(op: &'static str, parts: [&'a Storage; N]) -> Result<OnDevice<'a, N>> {
    note(op, parts.iter().map(|p| p.dtype()));
    let first = parts[0].device();
    if let Some(other) = parts.iter().map(|p| p.device()).find(|d| *d != first) {
        return Err(Error::DeviceMismatch { op, lhs: first, rhs: other });
    }
    Ok(match parts[0] {
        Storage::Cpu(_) => OnDevice::Cpu(parts.map(|p| p.as_cpu().expect("one device, checked above"))),
        #[cfg(feature = "cuda")]
        Storage::Cuda(_) => OnDevice::Cuda(parts.map(|p| p.as_cuda().expect("one device, checked above"))),
    })
}

/// On the CPU, whose kernels copy a view that is not one dense range into a buffer of its own
/// before reading it: checks that the host can hold that copy. A broadcast view (`expand`) can
/// have far more elements than the storage behind it.
fn reserve_copy(op: &'static str, dtype: DType, view: &Layout) -> Result<()> {
    if view.contiguous_range().is_none() {
        cpu::reserve_output(op, dtype, view.elem_count())?;
    }
    Ok(())
}

/// [`on_one_device`] for an op whose output can be far larger than its inputs: on the CPU it
/// also checks that the host can hold an output of `elements` values of `dtype`
/// ([`cpu::reserve_output`]); CUDA allocations report their own failure.
fn on_one_device_sized<'a, const N: usize>(
    op: &'static str,
    parts: [&'a Storage; N],
    dtype: DType,
    elements: usize,
) -> Result<OnDevice<'a, N>> {
    let on = on_one_device(op, parts)?;
    match on {
        OnDevice::Cpu(_) => cpu::reserve_output(op, dtype, elements)?,
        #[cfg(feature = "cuda")]
        OnDevice::Cuda(_) => {}
    }
    Ok(on)
}

/// The CUDA device behind `Device::Cuda(ordinal)` (opened on first use).
#[cfg(feature = "cuda")]
fn cuda_device(ordinal: usize) -> Result<std::sync::Arc<cuda::CudaDevice>> {
    Ok(cuda::CudaDevice::get(ordinal)?)
}

/// Runs `$cpu` with the CPU or `$cuda` with the CUDA device of `$device` (an error when the
/// build has no CUDA support).
macro_rules! on_device {
    ($device:expr, cpu => $cpu:expr, cuda($dev:ident) => $cuda:expr) => {
        match $device {
            Device::Cpu => Storage::Cpu($cpu),
            #[cfg(feature = "cuda")]
            Device::Cuda(o) => {
                let $dev = crate::storage::cuda_device(*o)?;
                Storage::Cuda($cuda)
            }
            #[cfg(not(feature = "cuda"))]
            Device::Cuda(_) => return Err(crate::device::no_cuda_support()),
        }
    };
}

mod batch_norm;
mod conv;
mod creation;
mod gru;
mod lstm;
mod optim;
mod pooling;
mod transformer;

impl Storage {
    /// The device the data lives on.
    pub fn device(&self) -> Device {
        match self {
            Storage::Cpu(_) => Device::Cpu,
            #[cfg(feature = "cuda")]
            Storage::Cuda(b) => Device::Cuda(b.device().ordinal()),
        }
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        match self {
            Storage::Cpu(b) => b.dtype(),
            #[cfg(feature = "cuda")]
            Storage::Cuda(b) => b.dtype(),
        }
    }

    /// Number of elements in the buffer.
    pub fn len(&self) -> usize {
        match self {
            Storage::Cpu(b) => b.len(),
            #[cfg(feature = "cuda")]
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
            #[cfg(feature = "cuda")]
            Storage::Cuda(_) => None,
        }
    }

    /// The CUDA buffer, if the data is on a GPU.
    #[cfg(feature = "cuda")]
    pub fn as_cuda(&self) -> Option<&CudaBuffer> {
        match self {
            Storage::Cpu(_) => None,
            Storage::Cuda(b) => Some(b),
        }
    }

    /// The elements selected by `l`, contiguous, in host memory (copied from the device if needed).
    pub(crate) fn to_cpu_buffer(&self, l: &Layout) -> Result<CpuBuffer> {
        Ok(match self {
            Storage::Cpu(b) => {
                cpu::reserve_output("to_cpu", b.dtype(), l.elem_count())?;
                cpu::copy_strided(b, l)
            }
            #[cfg(feature = "cuda")]
            Storage::Cuda(b) => cuda::copy_strided(b, l)?.to_cpu()?,
        })
    }

    /// The elements selected by `l`, contiguous, on `device`.
    pub(crate) fn to_device(&self, l: &Layout, device: &Device) -> Result<Storage> {
        if self.device() == *device {
            return self.copy_strided(l);
        }
        Storage::from_cpu(device, self.to_cpu_buffer(l)?)
    }

    /// Wraps a host buffer as storage on `device` (uploading it for CUDA).
    pub(crate) fn from_cpu(device: &Device, buf: CpuBuffer) -> Result<Storage> {
        Ok(on_device!(device, cpu => buf, cuda(dev) => CudaBuffer::from_cpu(&dev, &buf)?))
    }

    /// The plan's dropout of this storage (its mask regenerated from the plan's counters).
    pub(crate) fn dropout(&self, plan: &DropoutPlan) -> Result<Storage> {
        Ok(match on_one_device("dropout", [self])? {
            OnDevice::Cpu([x]) => Storage::Cpu(cpu::dropout(plan, x)?),
            #[cfg(feature = "cuda")]
            OnDevice::Cuda([x]) => Storage::Cuda(cuda::dropout(plan, x)?),
        })
    }

    pub(crate) fn unary(&self, plan: &UnaryPlan) -> Result<Storage> {
        Ok(match on_one_device(plan.op.name(), [self])? {
            OnDevice::Cpu([b]) => {
                reserve_copy(plan.op.name(), plan.dtype, &plan.input)?;
                Storage::Cpu(cpu::unary(plan, b)?)
            }
            #[cfg(feature = "cuda")]
            OnDevice::Cuda([b]) => Storage::Cuda(cuda::unary(plan, b)?),
        })
    }

    pub(crate) fn binary(&self, plan: &BinaryPlan, rhs: &Storage) -> Result<Storage> {
        Ok(match on_one_device_sized(plan.op.name(), [self, rhs], plan.zip.dtype, plan.zip.shape.elem_count())? {
            OnDevice::Cpu([a, b]) => Storage::Cpu(cpu::binary(plan, a, b)?),
            #[cfg(feature = "cuda")]
            OnDevice::Cuda([a, b]) => Storage::Cuda(cuda::binary(plan, a, b)?),
        })
    }

    pub(crate) fn compare(&self, plan: &ComparePlan, rhs: &Storage) -> Result<Storage> {
        Ok(match on_one_device_sized(plan.op.name(), [self, rhs], DType::U8, plan.zip.shape.elem_count())? {
            OnDevice::Cpu([a, b]) => Storage::Cpu(cpu::compare(plan, a, b)?),
            #[cfg(feature = "cuda")]
            OnDevice::Cuda([a, b]) => Storage::Cuda(cuda::compare(plan, a, b)?),
        })
    }

    pub(crate) fn where_cond(&self, plan: &WherePlan, on_true: &Storage, on_false: &Storage) -> Result<Storage> {
        Ok(match on_one_device_sized("where_cond", [self, on_true, on_false], plan.dtype, plan.shape.elem_count())? {
            OnDevice::Cpu([m, t, f]) => Storage::Cpu(cpu::where_cond(plan, m, t, f)?),
            #[cfg(feature = "cuda")]
            OnDevice::Cuda([m, t, f]) => Storage::Cuda(cuda::where_cond(plan, m, t, f)?),
        })
    }

    pub(crate) fn reduce(&self, plan: &ReducePlan) -> Result<Storage> {
        let outputs = plan.out_shape.elem_count();
        Ok(match on_one_device_sized(plan.kind.name(), [self], plan.out_dtype, outputs)? {
            OnDevice::Cpu([b]) => {
                reserve_copy(plan.kind.name(), plan.dtype, &plan.read)?;
                Storage::Cpu(cpu::reduce(plan, b)?)
            }
            #[cfg(feature = "cuda")]
            OnDevice::Cuda([b]) => Storage::Cuda(cuda::reduce(plan, b)?),
        })
    }

    /// `Σ x²` over every element in one pass (see [`crate::Tensor::sum_squares`]), or `None`
    /// on CUDA, where the tensor layer composes a cast, `square` and `sum`.
    pub(crate) fn sum_squares(&self, plan: &SumSquaresPlan) -> Result<Option<Storage>> {
        Ok(match on_one_device("sum_squares", [self])? {
            OnDevice::Cpu([b]) => {
                reserve_copy("sum_squares", plan.dtype, &plan.layout)?;
                Some(Storage::Cpu(cpu::sum_squares(plan, b)?))
            }
            #[cfg(feature = "cuda")]
            OnDevice::Cuda(_) => None,
        })
    }

    pub(crate) fn softmax(&self, plan: &SoftmaxPlan) -> Result<Storage> {
        Ok(match on_one_device(plan.kind.name(), [self])? {
            OnDevice::Cpu([b]) => {
                reserve_copy(plan.kind.name(), plan.dtype, &plan.rows.layout)?;
                Storage::Cpu(cpu::softmax(plan, b)?)
            }
            #[cfg(feature = "cuda")]
            OnDevice::Cuda([b]) => Storage::Cuda(cuda::softmax(plan, b)?),
        })
    }

    pub(crate) fn logsumexp(&self, plan: &LogSumExpPlan) -> Result<Storage> {
        Ok(match on_one_device_sized("logsumexp", [self], plan.dtype, plan.out_shape.elem_count())? {
            OnDevice::Cpu([b]) => {
                reserve_copy("logsumexp", plan.dtype, &plan.rows.layout)?;
                Storage::Cpu(cpu::logsumexp(plan, b)?)
            }
            #[cfg(feature = "cuda")]
            OnDevice::Cuda([b]) => Storage::Cuda(cuda::logsumexp(plan, b)?),
        })
    }

    /// See [`crate::Tensor::cross_entropy_backward`]; `parts` are logits, lse, target, scale.
    pub(crate) fn cross_entropy_backward(plan: &CrossEntropyBackwardPlan, parts: [&Storage; 4]) -> Result<Storage> {
        Ok(match on_one_device("cross_entropy_backward", parts)? {
            OnDevice::Cpu([x, l, t, s]) => Storage::Cpu(cpu::cross_entropy_backward(plan, x, l, t, s)?),
            #[cfg(feature = "cuda")]
            OnDevice::Cuda([x, l, t, s]) => Storage::Cuda(cuda::cross_entropy_backward(plan, x, l, t, s)?),
        })
    }

    /// See [`crate::Tensor::cross_entropy_with_grad`]; `parts` are logits, target, scale. `None`
    /// on CUDA, where the tensor layer composes it of `logsumexp` and `cross_entropy_backward`.
    pub(crate) fn cross_entropy_with_grad(
        plan: &CrossEntropyBackwardPlan,
        parts: [&Storage; 3],
    ) -> Result<Option<(Storage, Storage)>> {
        Ok(match on_one_device("cross_entropy_with_grad", parts)? {
            OnDevice::Cpu([x, t, s]) => {
                let (lse, grad) = cpu::cross_entropy_with_grad(plan, x, t, s)?;
                Some((Storage::Cpu(lse), Storage::Cpu(grad)))
            }
            #[cfg(feature = "cuda")]
            OnDevice::Cuda(_) => None,
        })
    }

    /// The product, plus the bias rows when the plan has a bias (`bias` is then its storage).
    pub(crate) fn matmul(plan: &MatmulPlan, lhs: &Storage, rhs: &Storage, bias: Option<&Storage>) -> Result<Storage> {
        let op = if bias.is_some() { "matmul_bias" } else { "matmul" };
        let parts = on_one_device_sized(op, [lhs, rhs, bias.unwrap_or(lhs)], plan.dtype, plan.shape.out_elem_count())?;
        Ok(match (parts, bias.is_some()) {
            (OnDevice::Cpu([a, b, c]), has_bias) => Storage::Cpu(cpu::matmul(plan, a, b, has_bias.then_some(c))?),
            #[cfg(feature = "cuda")]
            (OnDevice::Cuda([a, b, c]), has_bias) => Storage::Cuda(cuda::matmul(plan, a, b, has_bias.then_some(c))?),
        })
    }

    pub(crate) fn copy_strided(&self, l: &Layout) -> Result<Storage> {
        note("contiguous", [self.dtype()]);
        Ok(match self {
            Storage::Cpu(b) => {
                cpu::reserve_output("contiguous", b.dtype(), l.elem_count())?;
                Storage::Cpu(cpu::copy_strided(b, l))
            }
            #[cfg(feature = "cuda")]
            Storage::Cuda(b) => Storage::Cuda(cuda::copy_strided(b, l)?),
        })
    }

    pub(crate) fn cast(&self, l: &Layout, dtype: DType) -> Result<Storage> {
        note("to_dtype", [self.dtype(), dtype]);
        Ok(match self {
            Storage::Cpu(b) => {
                cpu::reserve_output("to_dtype", dtype, l.elem_count())?;
                Storage::Cpu(cpu::cast(b, l, dtype))
            }
            #[cfg(feature = "cuda")]
            Storage::Cuda(b) => Storage::Cuda(cuda::cast(b, l, dtype)?),
        })
    }

    pub(crate) fn cat(plan: &CatPlan, parts: &[&Storage]) -> Result<Storage> {
        note("cat", parts.iter().map(|p| p.dtype()));
        let first = parts[0].device();
        if let Some(other) = parts.iter().map(|p| p.device()).find(|d| *d != first) {
            return Err(Error::DeviceMismatch { op: "cat", lhs: first, rhs: other });
        }
        Ok(match parts[0] {
            Storage::Cpu(_) => {
                let bufs: Vec<&CpuBuffer> = parts.iter().filter_map(|s| s.as_cpu()).collect();
                Storage::Cpu(cpu::cat(plan, &bufs)?)
            }
            #[cfg(feature = "cuda")]
            Storage::Cuda(_) => {
                let bufs: Vec<&CudaBuffer> = parts.iter().filter_map(|s| s.as_cuda()).collect();
                Storage::Cuda(cuda::cat(plan, &bufs)?)
            }
        })
    }

    pub(crate) fn index_select(&self, plan: &IndexSelectPlan, idx: &Storage) -> Result<Storage> {
        Ok(match on_one_device_sized("index_select", [self, idx], plan.dtype, plan.out_shape.elem_count())? {
            OnDevice::Cpu([b, i]) => Storage::Cpu(cpu::index_select(plan, b, i)?),
            #[cfg(feature = "cuda")]
            OnDevice::Cuda([b, i]) => Storage::Cuda(cuda::index_select(plan, b, i)?),
        })
    }

    pub(crate) fn gather(&self, plan: &GatherPlan, idx: &Storage) -> Result<Storage> {
        Ok(match on_one_device_sized("gather", [self, idx], plan.dtype, plan.index.elem_count())? {
            OnDevice::Cpu([b, i]) => Storage::Cpu(cpu::gather(plan, b, i)?),
            #[cfg(feature = "cuda")]
            OnDevice::Cuda([b, i]) => Storage::Cuda(cuda::gather(plan, b, i)?),
        })
    }

    pub(crate) fn scatter_add(&self, plan: &ScatterAddPlan, idx: &Storage, src: &Storage) -> Result<Storage> {
        Ok(match on_one_device("scatter_add", [self, idx, src])? {
            OnDevice::Cpu([b, i, s]) => Storage::Cpu(cpu::scatter_add(plan, b, i, s)?),
            #[cfg(feature = "cuda")]
            OnDevice::Cuda([b, i, s]) => Storage::Cuda(cuda::scatter_add(plan, b, i, s)?),
        })
    }

    pub(crate) fn as_cpu_mut(&mut self) -> Option<&mut CpuBuffer> {
        match self {
            Storage::Cpu(b) => Some(b),
            #[cfg(feature = "cuda")]
            Storage::Cuda(_) => None,
        }
    }

    #[cfg(feature = "cuda")]
    pub(crate) fn as_cuda_mut(&mut self) -> Option<&mut CudaBuffer> {
        match self {
            Storage::Cpu(_) => None,
            Storage::Cuda(b) => Some(b),
        }
    }
}
