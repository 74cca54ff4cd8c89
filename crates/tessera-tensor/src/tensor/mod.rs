//! The `Tensor` type: construction and accessors. The ops live in the sibling files.

mod attention;
mod batch_norm;
mod conv;
mod cross_entropy;
mod dropout;
mod elementwise;
mod gru;
mod indexing;
mod lstm;
mod norm;
mod optim;
mod pooling;
mod reduce;
mod views;

pub use batch_norm::BatchStats;
pub use norm::NormGrads;

use crate::{Device, Error, Generator, Result, Storage};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use tessera_core::{DType, Layout, Shape};
use tessera_kernels::cpu::{CpuBuffer, CpuElem};
use tessera_kernels::plan::{ArangePlan, Arg, Distribution};

/// An n-dimensional array on a device: a shared storage plus a strided layout.
///
/// Cloning is cheap (a reference count). Views (`reshape` of contiguous data, `transpose`,
/// `permute`, `narrow`, `expand`, ...) share the storage; ops return new tensors. Every
/// fallible operation returns [`Result`].
#[derive(Clone)]
pub struct Tensor(Arc<TensorInner>);

struct TensorInner {
    storage: Arc<RwLock<Storage>>,
    layout: Layout,
    dtype: DType,
    device: Device,
}

impl Tensor {
    pub(crate) fn from_storage(storage: Storage, shape: impl Into<Shape>) -> Tensor {
        let (dtype, device) = (storage.dtype(), storage.device());
        Tensor(Arc::new(TensorInner {
            storage: Arc::new(RwLock::new(storage)),
            layout: Layout::contiguous(shape),
            dtype,
            device,
        }))
    }

    /// A view of the same storage with another layout.
    pub(crate) fn with_layout(&self, layout: Layout) -> Tensor {
        Tensor(Arc::new(TensorInner {
            storage: self.0.storage.clone(),
            layout,
            dtype: self.0.dtype,
            device: self.0.device,
        }))
    }

    pub(crate) fn storage(&self) -> RwLockReadGuard<'_, Storage> {
        // A poisoned lock only means another thread panicked mid-read; the data is intact.
        self.0.storage.read().unwrap_or_else(|e| e.into_inner())
    }

    /// A tensor holding `data` in row-major order with `shape`.
    pub fn from_vec<T: CpuElem>(data: Vec<T>, shape: impl Into<Shape>, device: &Device) -> Result<Tensor> {
        let shape = shape.into();
        if data.len() != shape.elem_count() {
            return Err(tessera_core::Error::DataLengthMismatch {
                op: "from_vec",
                len: data.len(),
                expected: shape.elem_count(),
                shape,
            }
            .into());
        }
        Ok(Tensor::from_storage(Storage::from_cpu(device, T::wrap(data))?, shape))
    }

    /// A tensor copied from a slice.
    pub fn from_slice<T: CpuElem>(data: &[T], shape: impl Into<Shape>, device: &Device) -> Result<Tensor> {
        Tensor::from_vec(data.to_vec(), shape, device)
    }

    /// A 0-dimensional tensor holding `value` converted to `dtype`.
    pub fn scalar(value: f64, dtype: DType, device: &Device) -> Result<Tensor> {
        Tensor::full(value, (), dtype, device)
    }

    /// A tensor of `shape` filled with `value` (converted to `dtype`).
    pub fn full(value: f64, shape: impl Into<Shape>, dtype: DType, device: &Device) -> Result<Tensor> {
        let shape = shape.into();
        let count = shape.countable("full", dtype)?;
        Ok(Tensor::from_storage(Storage::full(device, dtype, count, value)?, shape))
    }

    /// Zeros.
    pub fn zeros(shape: impl Into<Shape>, dtype: DType, device: &Device) -> Result<Tensor> {
        Tensor::full(0.0, shape, dtype, device)
    }

    /// Ones.
    pub fn ones(shape: impl Into<Shape>, dtype: DType, device: &Device) -> Result<Tensor> {
        Tensor::full(1.0, shape, dtype, device)
    }

    /// Zeros with this tensor's shape, dtype and device.
    pub fn zeros_like(&self) -> Result<Tensor> {
        Tensor::zeros(self.shape().clone(), self.dtype(), self.device())
    }

    /// Ones with this tensor's shape, dtype and device.
    pub fn ones_like(&self) -> Result<Tensor> {
        Tensor::ones(self.shape().clone(), self.dtype(), self.device())
    }

    /// `start, start + step, ...` below `end` (1-D), as `torch.arange`.
    pub fn arange(start: f64, end: f64, step: f64, dtype: DType, device: &Device) -> Result<Tensor> {
        let plan = ArangePlan::new(dtype, start, end, step)?;
        Shape::from([plan.len]).countable("arange", dtype)?;
        Ok(Tensor::from_storage(Storage::arange(device, &plan)?, [plan.len]))
    }

    /// The `n x m` identity matrix.
    pub fn eye(n: usize, m: usize, dtype: DType, device: &Device) -> Result<Tensor> {
        Shape::from([n, m]).countable("eye", dtype)?;
        Ok(Tensor::from_storage(Storage::eye(device, dtype, n, m)?, [n, m]))
    }

    fn random(dist: Distribution, g: &mut Generator, shape: Shape, dtype: DType, device: &Device) -> Result<Tensor> {
        let count = shape.countable("random", dtype)?;
        Ok(Tensor::from_storage(Storage::random(device, dist, g, dtype, count)?, shape))
    }

    /// Uniform samples in `[lo, hi)` (float dtypes).
    pub fn rand_uniform(
        g: &mut Generator,
        lo: f64,
        hi: f64,
        shape: impl Into<Shape>,
        dtype: DType,
        device: &Device,
    ) -> Result<Tensor> {
        Tensor::random(Distribution::Uniform { lo, hi }, g, shape.into(), dtype, device)
    }

    /// Standard normal samples (float dtypes).
    pub fn randn(g: &mut Generator, shape: impl Into<Shape>, dtype: DType, device: &Device) -> Result<Tensor> {
        Tensor::rand_normal(g, 0.0, 1.0, shape, dtype, device)
    }

    /// Normal samples with `mean` and standard deviation `std` (float dtypes).
    pub fn rand_normal(
        g: &mut Generator,
        mean: f64,
        std: f64,
        shape: impl Into<Shape>,
        dtype: DType,
        device: &Device,
    ) -> Result<Tensor> {
        Tensor::random(Distribution::Normal { mean, std }, g, shape.into(), dtype, device)
    }

    /// 1 with probability `p`, else 0 (a float dtype or `u8`): dropout masks.
    pub fn bernoulli(
        g: &mut Generator,
        p: f64,
        shape: impl Into<Shape>,
        dtype: DType,
        device: &Device,
    ) -> Result<Tensor> {
        Tensor::random(Distribution::Bernoulli { p }, g, shape.into(), dtype, device)
    }

    /// The layout (shape, strides, offset).
    pub fn layout(&self) -> &Layout {
        &self.0.layout
    }

    /// The shape.
    pub fn shape(&self) -> &Shape {
        self.0.layout.shape()
    }

    /// The dims of the shape.
    pub fn dims(&self) -> &[usize] {
        self.0.layout.dims()
    }

    /// Number of dims.
    pub fn rank(&self) -> usize {
        self.0.layout.rank()
    }

    /// Number of elements.
    pub fn elem_count(&self) -> usize {
        self.0.layout.elem_count()
    }

    /// The element type.
    pub fn dtype(&self) -> DType {
        self.0.dtype
    }

    /// The device.
    pub fn device(&self) -> &Device {
        &self.0.device
    }

    /// Whether the elements are row-major without gaps.
    pub fn is_contiguous(&self) -> bool {
        self.0.layout.is_contiguous()
    }

    /// Whether two tensors share one storage (one is a view of the other, or both of a third).
    pub fn same_storage(&self, other: &Tensor) -> bool {
        Arc::ptr_eq(&self.0.storage, &other.0.storage)
    }

    /// The elements in row-major order, as `T`, which must be the tensor's dtype.
    pub fn to_vec<T: CpuElem>(&self) -> Result<Vec<T>> {
        if T::DTYPE != self.dtype() {
            return Err(Error::WrongElementType { op: "to_vec", actual: self.dtype(), requested: T::DTYPE });
        }
        let copied = self.storage().to_cpu_buffer(self.layout())?;
        match T::slice(&copied) {
            Some(v) => Ok(v.to_vec()),
            None => Err(Error::WrongElementType { op: "to_vec", actual: copied.dtype(), requested: T::DTYPE }),
        }
    }

    /// The elements in row-major order, converted to `f64` (any dtype).
    pub fn to_vec_f64(&self) -> Result<Vec<f64>> {
        let storage = self.storage();
        match storage.as_cpu() {
            Some(b) => Ok(b.to_f64_vec(self.layout())),
            None => {
                let host = storage.to_cpu_buffer(self.layout())?;
                Ok(host.to_f64_vec(&Layout::contiguous(self.shape().clone())))
            }
        }
    }

    /// The value of a one-element tensor, converted to `f64`.
    pub fn to_scalar_f64(&self) -> Result<f64> {
        if self.elem_count() != 1 {
            return Err(tessera_core::Error::InvalidArgument {
                op: "to_scalar",
                msg: format!("tensor of shape {} has {} elements, not 1", self.shape(), self.elem_count()),
            }
            .into());
        }
        Ok(self.to_vec_f64()?[0])
    }

    /// A contiguous copy of the data as a CPU buffer (for I/O and interop).
    pub fn to_cpu_buffer(&self) -> Result<CpuBuffer> {
        self.storage().to_cpu_buffer(self.layout())
    }

    /// This tensor's data copied to `device` (a cheap clone when it is already there).
    pub fn to_device(&self, device: &Device) -> Result<Tensor> {
        if self.device() == device {
            return Ok(self.clone());
        }
        let storage = self.storage().to_device(self.layout(), device)?;
        Ok(Tensor::from_storage(storage, self.shape().clone()))
    }

    /// This tensor as a plan sees it: dtype and layout.
    pub(crate) fn arg(&self) -> Arg<'_> {
        Arg::new(self.dtype(), self.layout())
    }
}
