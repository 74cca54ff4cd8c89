//! Plans of rotary position embeddings (RoPE, the "rotate half" layout of GPT-NeoX and LLaMA).

use super::{require_float, Arg};
use crate::Result;
use tessera_core::{DType, Error, Layout, Shape};

/// A checked rotary embedding of `x` `[..., seq, dim]` (`dim` even): the pair of features
/// `(c, c + dim / 2)` at position `offset + s` is rotated by `θ = (offset + s) · base^(-2c/dim)`,
/// or by `-θ` when `inverse` (the gradient of the rotation is the inverse rotation).
#[derive(Debug, Clone, PartialEq)]
pub struct RotaryPlan {
    /// The dtype of input and output.
    pub dtype: DType,
    /// The input's view.
    pub x: Layout,
    /// Positions per sequence (the second-last dim).
    pub seq: usize,
    /// Features per position (the last dim).
    pub dim: usize,
    /// The first sequence position.
    pub offset: usize,
    /// The frequencies' base (10,000 in the RoFormer paper).
    pub base: f64,
    /// Rotate by `-θ`.
    pub inverse: bool,
    /// The output's shape (the input's).
    pub out_shape: Shape,
}

impl RotaryPlan {
    /// Checks a rotation of `x` by the positions `offset..` with frequencies of `base`.
    pub fn new(x: Arg<'_>, offset: usize, base: f64, inverse: bool) -> Result<Self> {
        const OP: &str = "rotary";
        require_float(OP, x.dtype)?;
        let dims = x.layout.dims();
        if dims.len() < 2 || !dims[dims.len() - 1].is_multiple_of(2) {
            let msg = format!("needs [..., seq, dim] with an even dim, got shape {}", x.layout.shape());
            return Err(Error::InvalidArgument { op: OP, msg }.into());
        }
        if !(base.is_finite() && base > 0.0) {
            return Err(
                Error::InvalidArgument { op: OP, msg: format!("base {base} must be finite and positive") }.into()
            );
        }
        let seq = dims[dims.len() - 2];
        if offset.checked_add(seq).is_none() {
            let msg = format!("positions from offset {offset} over {seq} rows are past the largest position");
            return Err(Error::InvalidArgument { op: OP, msg }.into());
        }
        Ok(RotaryPlan {
            dtype: x.dtype,
            x: x.layout.clone(),
            seq,
            dim: dims[dims.len() - 1],
            offset,
            base,
            inverse,
            out_shape: x.layout.shape().clone(),
        })
    }

    /// `(cos θ, ±sin θ)` of pair `c` at row `r` (any row of any sequence), in `f64`.
    #[inline]
    pub fn rotation(&self, r: usize, c: usize) -> (f64, f64) {
        let pos = (self.offset + r % self.seq.max(1)) as f64;
        let theta = pos * (-(2.0 * c as f64 / self.dim as f64) * self.base.ln()).exp();
        let (s, co) = theta.sin_cos();
        (co, if self.inverse { -s } else { s })
    }
}
