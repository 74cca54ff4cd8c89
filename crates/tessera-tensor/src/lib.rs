//! Tensors for Tessera: a runtime [`Device`], [`Storage`] on that device, and [`Tensor`], a cheap
//! to clone, strided view of a storage with the op API as methods returning [`Result`].
//!
//! ```
//! use tessera_tensor::{Device, Tensor};
//! let a = Tensor::from_vec(vec![1f32, 2., 3., 4., 5., 6.], [2, 3], &Device::Cpu)?;
//! let b = Tensor::from_vec(vec![10f32, 20., 30.], [3], &Device::Cpu)?;
//! let c = a.add(&b)?;                       // broadcasting
//! assert_eq!(c.to_vec::<f32>()?, vec![11., 22., 33., 14., 25., 36.]);
//! let s = c.t()?.sum(&[1], false)?;         // transposed view, no copy
//! assert_eq!(s.to_vec::<f32>()?, vec![25., 47., 69.]);
//! # Ok::<(), tessera_tensor::Error>(())
//! ```

mod device;
mod dispatch_log;
mod display;
mod error;
mod generator;
mod product_flops;
mod storage;
mod tensor;

pub use device::Device;
pub use dispatch_log::{record_dispatches, Dispatch};
pub use error::{Error, Result};
pub use generator::Generator;
pub use product_flops::product_flops;
pub use storage::Storage;
pub use tensor::{BatchStats, NormGrads, Tensor};
/// The caching allocator behind CPU tensors' memory, once a program installs it.
pub use tessera_core::host_memory;
pub use tessera_core::{bf16, f16, DType, Layout, Shape};
pub use tessera_kernels::cpu::par::{spare_core, KeepWarm};
pub use tessera_kernels::cpu::CpuElem as Element;
pub use tessera_kernels::ops::{ArgReduceOp, BinaryOp, CmpOp, OptimStep, ReduceOp, SoftmaxKind, UnaryOp};
pub use tessera_kernels::plan::{AttentionSpec, DropoutMask, NormKind, NormParamGrads};
pub use tessera_kernels::plan::{AvgPool2dSpec, MaxPool2dSpec};
pub use tessera_kernels::plan::{
    Conv2dPlan, Conv2dSpec, ConvTranspose2dPlan, ConvTranspose2dSpec, ConvWindow, Im2ColSpec,
};
pub use tessera_kernels::{
    binary_methods, binary_op_table, compare_methods, compare_op_table, ops, reduce_methods, reduce_op_table,
    unary_methods, unary_op_table,
};

/// The README's examples, compiled and run as doc tests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
