//! Core types shared by every Tessera crate: element types ([`DType`]), shapes ([`Shape`]),
//! strided memory layouts ([`Layout`]) with the view transforms (transpose, permute, narrow,
//! reshape, squeeze, unsqueeze, expand, broadcasting), a counter-based random generator
//! ([`Philox`]), the [`Error`] type, a caching allocator for host memory ([`host_memory`]), and
//! the SIMD instruction set the CPU kernels may use ([`cpu_isa`], capped by `TESSERA_CPU_ISA`).
//!
//! ```
//! use tessera_core::{Layout, Shape};
//! let l = Layout::contiguous(Shape::from([2, 3]));
//! let t = l.transpose(0, 1).unwrap();
//! assert_eq!(t.dims(), &[3, 2]);
//! assert_eq!(t.strides(), &[1, 3]);
//! assert!(!t.is_contiguous());
//! ```

mod dtype;
mod error;
pub mod host_memory;
mod isa;
mod layout;
mod rng;
mod shape;
mod strided;

pub use dtype::{DType, Element};
pub use error::{Error, Result};
pub use half::{bf16, f16};
pub use isa::{cpu_isa, CpuIsa, UnknownIsa, ISA_VAR};
pub use layout::Layout;
pub use rng::Philox;
pub use shape::{broadcast_shapes, saturating_product, Shape};
pub use strided::{StridedBlocks, StridedIndex};

/// The README's examples, compiled and run as doc tests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
