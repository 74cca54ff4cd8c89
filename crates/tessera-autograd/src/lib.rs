//! Reverse-mode automatic differentiation for Tessera.
//!
//! A [`Var`] wraps a `Tensor` and, when gradients are tracked, its node in the graph: the op, its
//! inputs and a backward rule. The op API mirrors `Tensor`'s method names, so model code reads
//! the same with or without gradients:
//!
//! ```
//! use tessera_autograd::Var;
//! use tessera_tensor::{Device, Tensor};
//! let dev = Device::Cpu;
//! let x = Var::constant(Tensor::from_vec(vec![1f64, -2., 3., 0.5], [2, 2], &dev)?);
//! let w = Var::param(Tensor::from_vec(vec![0.1f64, 0.2, 0.3, 0.4], [2, 2], &dev)?)?;
//! let loss = x.matmul(&w)?.tanh()?.mean(&[], false)?;
//! loss.backward()?;
//! assert_eq!(w.grad().unwrap().dims(), &[2, 2]);
//! # Ok::<(), tessera_autograd::Error>(())
//! ```
//!
//! - [`Var::backward`] runs the rules in a topological order and adds each leaf's gradient to
//!   [`Var::grad`]; gradients accumulate across calls until [`Var::zero_grad`]. The graph is freed
//!   afterwards unless [`Var::backward_with`] is asked to keep it.
//! - [`no_grad`] / [`NoGradGuard`] turn recording off on the current thread; [`Var::detach`] cuts
//!   a value from the graph.
//! - Non-differentiable ops (comparisons, `argmax`, `argmin`, casts to integers) return constants;
//!   a backward that reaches an op recorded without a rule fails with
//!   [`Error::NoBackwardRule`], never a silent zero.
//! - [`AutocastGuard`] / [`autocast`] run the products (matmul, convolution, attention) in bf16
//!   or f16 with f32 everywhere else: mixed precision (see [`Precision`]).
//! - [`gradcheck`] checks every rule against central finite differences on random inputs.

mod autocast;
mod backward;
mod error;
#[cfg(feature = "gradcheck")]
pub mod gradcheck;
mod graph;
mod no_grad;
mod ops;
mod slice_grad;
mod var;

pub use autocast::{autocast, autocast_precision, AutocastGuard, Precision};
pub use backward::VarId;
pub use error::{Error, Result};
pub use graph::{BackwardCtx, BackwardRule, InputGrads};
pub use no_grad::{is_grad_enabled, no_grad, NoGradGuard};
pub use var::Var;

/// The README's examples, compiled and run as doc tests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
