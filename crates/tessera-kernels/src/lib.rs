//! Compute kernels over raw buffers and strided layouts.
//!
//! An op runs in three steps, each in one place:
//!
//! 1. [`ops`] declares it: the op tables (unary, binary, comparison, reduction) and the
//!    [registry](ops::registry) of every op with kernels.
//! 2. [`plan`] checks its arguments once and works out what they mean (dtype rules, broadcast
//!    views, reduction order, output shape): a plan.
//! 3. A device half runs the plan: [`cpu`], which is also the reference every other backend is
//!    tested against, or `cuda` (feature `cuda`, on by default): CUDA C++ kernels from
//!    `kernels/`, compiled with NVRTC at run time, and cuBLAS. Both take the same plan, so they
//!    accept the same arguments and give the same errors.
//!
//! Kernels know nothing of devices beyond their own, nor of autograd.
//!
//! ```
//! use tessera_core::{DType, Layout, Shape};
//! use tessera_kernels::cpu::{self, CpuBuffer};
//! use tessera_kernels::ops::UnaryOp;
//! use tessera_kernels::plan::{Arg, UnaryPlan};
//! let x = CpuBuffer::F32(vec![1.0, 4.0, 9.0]);
//! let layout = Layout::contiguous(Shape::new(vec![3]));
//! let plan = UnaryPlan::new(UnaryOp::Sqrt, Arg::new(DType::F32, &layout))?;
//! assert_eq!(cpu::unary(&plan, &x)?, CpuBuffer::F32(vec![1.0, 2.0, 3.0]));
//! # Ok::<(), tessera_kernels::Error>(())
//! ```

pub mod cpu;
#[cfg(feature = "cuda")]
pub mod cuda;
mod error;
pub mod ops;
pub mod plan;

pub use error::{Error, Result};

/// The README's examples, compiled and run as doc tests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
