//! Fused, in-place optimizer updates of parameter tensors.

use super::Tensor;
use crate::{Result, Storage};
use tessera_core::Error;
use tessera_kernels::ops::OptimStep;
use tessera_kernels::plan::{MasterOptimPlan, OptimPlan};

impl Tensor {
    /// Whether this tensor covers its whole storage in order, so that it may be updated in
    /// place ([`assign_`](Tensor::assign_), [`with_host_mut`](Tensor::with_host_mut)): not a
    /// view of a larger storage, nor a transposed or broadcast one.
    pub fn owns_storage_densely(&self) -> bool {
        self.is_contiguous() && self.layout().offset() == 0 && self.storage().len() == self.elem_count()
    }

    /// Updates this parameter in place with one optimizer step (see [`OptimStep`]), reading
    /// `grad` times `grad_scale` (1 for the gradient as it is; a clipping factor or a loss
    /// scale's inverse otherwise, applied as the update reads the gradient rather than in a
    /// scaled copy of it) and updating the `state` tensors (zeros of the parameter's shape before
    /// the first step). One pass over the data, however many elementwise operations the formula
    /// has.
    ///
    /// The parameter and the state tensors must each be dense (not views of a larger storage)
    /// and distinct; every view of the parameter's storage sees the new values.
    ///
    /// ```
    /// use tessera_tensor::{Device, OptimStep, Tensor};
    /// let p = Tensor::from_vec(vec![1f32, 2.], [2], &Device::Cpu)?;
    /// let g = Tensor::from_vec(vec![4f32, -4.], [2], &Device::Cpu)?;
    /// let sgd = OptimStep::Sgd { lr: 0.5, momentum: 0.0, dampening: 0.0, weight_decay: 0.0, nesterov: false, first_step: true };
    /// // The gradient clipped to a quarter on the way: steps of -0.5 and +0.5.
    /// p.optim_step_(&sgd, &g, &[], 0.25)?;
    /// assert_eq!(p.to_vec::<f32>()?, vec![0.5, 2.5]);
    /// # Ok::<(), tessera_tensor::Error>(())
    /// ```
    pub fn optim_step_(&self, step: &OptimStep, grad: &Tensor, state: &[&Tensor], grad_scale: f64) -> Result<()> {
        let op = step.name();
        self.check_update(op, grad, state)?;
        let grad = grad.contiguous()?;
        let grad_storage = grad.storage();
        let state_sizes: Vec<_> = state.iter().map(|t| sized(t)).collect();
        let plan = OptimPlan::new(*step, sized(self), sized(&grad), &state_sizes)?.with_grad_scale(grad_scale);
        let mut param = self.0.storage.write().unwrap_or_else(|e| e.into_inner());
        with_storages(state, |bufs| param.optim_step_(&plan, &grad_storage, bufs))
    }
}

impl Tensor {
    /// One optimizer step of this f16 or bf16 parameter kept as the f32 `master` copy (see
    /// [`MasterOptimPlan`]): the master is updated in place from the f32 `grad` times
    /// `grad_scale` and the f32 `state` tensors, and its new value is rounded into this tensor.
    /// One pass over the data (one launch on a GPU) instead of an update, a cast and a copy.
    ///
    /// ```
    /// use tessera_tensor::{DType, Device, OptimStep, Tensor};
    /// let dev = Device::Cpu;
    /// let p = Tensor::from_vec(vec![1f32, 2.], [2], &dev)?.to_dtype(DType::BF16)?;
    /// let master = p.to_dtype(DType::F32)?;
    /// let g = Tensor::from_vec(vec![1024f32, -1024.], [2], &dev)?;
    /// let sgd = OptimStep::Sgd { lr: 0.5, momentum: 0.0, dampening: 0.0, weight_decay: 0.0, nesterov: false, first_step: true };
    /// // The gradient unscaled by 1/1024 on the way: a step of -0.5 and +0.5.
    /// p.optim_step_master_(&master, &sgd, &g, &[], 1.0 / 1024.0)?;
    /// assert_eq!(master.to_vec::<f32>()?, vec![0.5, 2.5]);
    /// assert_eq!(p.to_vec_f64()?, vec![0.5, 2.5]);
    /// # Ok::<(), tessera_tensor::Error>(())
    /// ```
    pub fn optim_step_master_(
        &self,
        master: &Tensor,
        step: &OptimStep,
        grad: &Tensor,
        state: &[&Tensor],
        grad_scale: f64,
    ) -> Result<()> {
        let op = step.name();
        let updated: Vec<&Tensor> = std::iter::once(master).chain(state.iter().copied()).collect();
        self.check_update(op, grad, &updated)?;
        let grad = grad.contiguous()?;
        let grad_storage = grad.storage();
        let state_sizes: Vec<_> = state.iter().map(|t| sized(t)).collect();
        let plan = MasterOptimPlan::new(*step, sized(master), sized(&grad), &state_sizes, sized(self), grad_scale)?;
        let mut param = self.0.storage.write().unwrap_or_else(|e| e.into_inner());
        let mut master = master.0.storage.write().unwrap_or_else(|e| e.into_inner());
        with_storages(state, |bufs| param.optim_step_master_(&plan, &mut master, &grad_storage, bufs))
    }

    /// Checks an in-place update of this tensor and the `state` tensors from `grad`: the same
    /// shapes, each updated tensor dense and none sharing storage with another or the gradient.
    fn check_update(&self, op: &'static str, grad: &Tensor, state: &[&Tensor]) -> Result<()> {
        for t in std::iter::once(grad).chain(state.iter().copied()) {
            if t.shape() != self.shape() {
                return Err(Error::ShapeMismatch { op, lhs: self.shape().clone(), rhs: t.shape().clone() }.into());
            }
        }
        let owners: Vec<&Tensor> = std::iter::once(self).chain(state.iter().copied()).collect();
        for (i, t) in owners.iter().enumerate() {
            if !t.owns_storage_densely() {
                return Err(Error::InvalidArgument {
                    op,
                    msg: "parameters and optimizer state must be dense tensors, not views".into(),
                }
                .into());
            }
            if owners[..i].iter().any(|o| o.same_storage(t)) || t.same_storage(grad) {
                return Err(Error::InvalidArgument {
                    op,
                    msg: "parameter, gradient and state must not share storage".into(),
                }
                .into());
            }
        }
        Ok(())
    }

    /// Overwrites this tensor's values with `src`'s (same shape and dtype), in place: every view
    /// of the storage sees them. This is how a loaded state dict reaches existing parameters.
    pub fn assign_(&self, src: &Tensor) -> Result<()> {
        if src.device() != self.device() {
            return Err(crate::Error::DeviceMismatch { op: "assign", lhs: *self.device(), rhs: *src.device() });
        }
        if src.shape() != self.shape() {
            return Err(
                Error::ShapeMismatch { op: "assign", lhs: self.shape().clone(), rhs: src.shape().clone() }.into()
            );
        }
        if src.dtype() != self.dtype() {
            return Err(Error::DTypeMismatch { op: "assign", lhs: self.dtype(), rhs: src.dtype() }.into());
        }
        if !self.owns_storage_densely() {
            return Err(Error::InvalidArgument {
                op: "assign",
                msg: "the destination must be a dense tensor, not a view".into(),
            }
            .into());
        }
        // Copy out first: `src` may share this tensor's storage.
        let values = src.copy()?;
        let values = values.storage();
        let mut dst = self.0.storage.write().unwrap_or_else(|e| e.into_inner());
        *dst = values.clone();
        Ok(())
    }
}

impl Tensor {
    /// Runs `f` on this tensor's values as one mutable host slice, in place, and returns what it
    /// returns: for a dense CPU tensor (not a view) of element type `T`. Every view of its
    /// storage sees the changes. This is how a collective that works in place (MPI's
    /// all-reduce) reduces a tensor without copying it out and back.
    ///
    /// ```
    /// use tessera_tensor::{Device, Tensor};
    /// let t = Tensor::from_vec(vec![1f32, 2., 3.], [3], &Device::Cpu)?;
    /// let sum = t.with_host_mut(|v: &mut [f32]| {
    ///     v.iter_mut().for_each(|x| *x *= 2.0);
    ///     v.iter().sum::<f32>()
    /// })?;
    /// assert_eq!((sum, t.to_vec::<f32>()?), (12.0, vec![2., 4., 6.]));
    /// assert!(t.narrow(0, 1, 2)?.with_host_mut(|_: &mut [f32]| ()).is_err(), "a view");
    /// assert!(t.with_host_mut(|_: &mut [f64]| ()).is_err(), "another dtype");
    /// # Ok::<(), tessera_tensor::Error>(())
    /// ```
    pub fn with_host_mut<T: crate::Element, R>(&self, f: impl FnOnce(&mut [T]) -> R) -> Result<R> {
        const OP: &str = "with_host_mut";
        self.check_host::<T>(OP)?;
        let mut storage = self.0.storage.write().unwrap_or_else(|e| e.into_inner());
        let values = storage.as_cpu_mut().and_then(|b| b.as_mut_slice::<T>());
        let values =
            values.ok_or(crate::Error::WrongElementType { op: OP, actual: self.dtype(), requested: T::DTYPE })?;
        Ok(f(values))
    }

    /// Runs `f` on this tensor's values as one host slice, without copying them: for a dense
    /// CPU tensor (not a view) of element type `T`, as [`with_host_mut`](Tensor::with_host_mut).
    ///
    /// ```
    /// use tessera_tensor::{Device, Tensor};
    /// let t = Tensor::from_vec(vec![1f32, 2., 3.], [3], &Device::Cpu)?;
    /// assert_eq!(t.with_host(|v: &[f32]| v.iter().sum::<f32>())?, 6.0);
    /// # Ok::<(), tessera_tensor::Error>(())
    /// ```
    pub fn with_host<T: crate::Element, R>(&self, f: impl FnOnce(&[T]) -> R) -> Result<R> {
        const OP: &str = "with_host";
        self.check_host::<T>(OP)?;
        let storage = self.0.storage.read().unwrap_or_else(|e| e.into_inner());
        let values = storage.as_cpu().and_then(|b| b.as_slice::<T>());
        let values =
            values.ok_or(crate::Error::WrongElementType { op: OP, actual: self.dtype(), requested: T::DTYPE })?;
        Ok(f(values))
    }

    /// Runs `f` on this tensor's device buffer, in place, and returns what it returns: for a
    /// dense CUDA tensor (not a view), as [`with_host_mut`](Tensor::with_host_mut) is for host
    /// tensors. This is how a collective library that works on device memory (NCCL) reduces a
    /// tensor where it lies. `f` must leave the buffer's dtype and length as they are, and
    /// queue its work on the device's stream (the one every op of the device runs on), so that
    /// it runs after the ops that wrote the tensor and before those that read it next.
    #[cfg(feature = "cuda")]
    pub fn with_cuda_mut<R>(&self, f: impl FnOnce(&mut tessera_kernels::cuda::CudaBuffer) -> R) -> Result<R> {
        const OP: &str = "with_cuda_mut";
        if !self.owns_storage_densely() {
            let msg = "the tensor must be dense, not a view of a larger storage".into();
            return Err(Error::InvalidArgument { op: OP, msg }.into());
        }
        let mut storage = self.0.storage.write().unwrap_or_else(|e| e.into_inner());
        match storage.as_cuda_mut() {
            Some(buf) => Ok(f(buf)),
            None => Err(crate::Error::DeviceMismatch { op: OP, lhs: *self.device(), rhs: crate::Device::Cuda(0) }),
        }
    }

    /// A dense CPU tensor of element type `T`, or the error that says what it is instead.
    fn check_host<T: crate::Element>(&self, op: &'static str) -> Result<()> {
        if T::DTYPE != self.dtype() {
            return Err(crate::Error::WrongElementType { op, actual: self.dtype(), requested: T::DTYPE });
        }
        if !self.device().is_cpu() {
            return Err(crate::Error::DeviceMismatch { op, lhs: *self.device(), rhs: crate::Device::Cpu });
        }
        if !self.owns_storage_densely() {
            let msg = "the tensor must be dense, not a view of a larger storage".into();
            return Err(Error::InvalidArgument { op, msg }.into());
        }
        Ok(())
    }
}

/// A tensor's dtype and element count, as the optimizer plans take them.
fn sized(t: &Tensor) -> (tessera_core::DType, usize) {
    (t.dtype(), t.elem_count())
}

/// Runs `f` on the storages of `tensors`, each locked for writing.
fn with_storages<R>(tensors: &[&Tensor], f: impl FnOnce(&mut [&mut Storage]) -> R) -> R {
    let mut guards: Vec<_> = tensors.iter().map(|t| t.0.storage.write().unwrap_or_else(|e| e.into_inner())).collect();
    let mut bufs: Vec<&mut Storage> = guards.iter_mut().map(|g| &mut **g).collect();
    f(&mut bufs)
}
