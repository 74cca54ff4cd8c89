//! Plans of the fused normalisations over the last dim, LayerNorm and RMSNorm, and of their
//! backward.

use super::{require_float, require_same_dtype, Arg};
use crate::Result;
use tessera_core::{DType, Error, Layout, Shape};

/// Which normalisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NormKind {
    /// `(x - mean) / sqrt(var + eps) * weight + bias` (population variance), PyTorch's LayerNorm.
    Layer,
    /// `x / sqrt(mean(x²) + eps) * weight`, PyTorch's RMSNorm.
    Rms,
}

impl NormKind {
    /// The op's name (`layer_norm`, `rms_norm`).
    pub fn name(&self) -> &'static str {
        match self {
            NormKind::Layer => "layer_norm",
            NormKind::Rms => "rms_norm",
        }
    }
}

/// A checked normalisation of the rows of `x` (its last dim) with an optional elementwise
/// `weight` and (LayerNorm only) `bias`, both `[width]`. The forward also gives each row's
/// statistics `[rows, 2]`: the mean (0 for RMSNorm) and `1 / sqrt(var + eps)` (or of the mean
/// square), in f32 (f64 for f64 inputs), which the backward reads.
#[derive(Debug, Clone, PartialEq)]
pub struct NormPlan {
    /// Which normalisation.
    pub kind: NormKind,
    /// Rows normalised (every dim but the last).
    pub rows: usize,
    /// Elements per row (the last dim).
    pub width: usize,
    /// The dtype of `x`, the parameters and the output.
    pub dtype: DType,
    /// The statistics' dtype.
    pub stat_dtype: DType,
    /// The input's view.
    pub x: Layout,
    /// The weight's view, if any.
    pub weight: Option<Layout>,
    /// The bias's view, if any.
    pub bias: Option<Layout>,
    /// Added to the variance (or mean square).
    pub eps: f64,
    /// The output's shape (the input's).
    pub out_shape: Shape,
}

impl NormPlan {
    /// Checks `kind` over the last dim of `x` with `weight` and `bias`.
    pub fn new(kind: NormKind, x: Arg<'_>, weight: Option<Arg<'_>>, bias: Option<Arg<'_>>, eps: f64) -> Result<Self> {
        let op = kind.name();
        let Some(&width) = x.layout.dims().last() else {
            let msg = format!("needs at least one dim to normalise, got shape {}", x.layout.shape());
            return Err(Error::InvalidArgument { op, msg }.into());
        };
        require_float(op, x.dtype)?;
        if kind == NormKind::Rms && bias.is_some() {
            return Err(Error::InvalidArgument { op, msg: "RMSNorm has no bias".into() }.into());
        }
        for p in [weight, bias].into_iter().flatten() {
            require_same_dtype(op, &[x.dtype, p.dtype])?;
            if p.layout.dims() != [width] {
                let (lhs, rhs) = (x.layout.shape().clone(), p.layout.shape().clone());
                return Err(Error::ShapeMismatch { op, lhs, rhs }.into());
            }
        }
        if !(eps.is_finite() && eps >= 0.0) {
            return Err(Error::InvalidArgument { op, msg: format!("eps {eps} must be finite and >= 0") }.into());
        }
        Ok(NormPlan {
            kind,
            rows: x.layout.elem_count() / width.max(1),
            width,
            dtype: x.dtype,
            stat_dtype: if x.dtype == DType::F64 { DType::F64 } else { DType::F32 },
            x: x.layout.clone(),
            weight: weight.map(|w| w.layout.clone()),
            bias: bias.map(|b| b.layout.clone()),
            eps,
            out_shape: x.layout.shape().clone(),
        })
    }
}

/// Which parameter gradients a normalisation's backward computes beside the input's.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct NormParamGrads {
    /// The weight's, `Σ dy · x̂` over the rows, `x̂ = (x - mean) · rstd` (needs a weight).
    pub weight: bool,
    /// The bias's, `Σ dy` over the rows (LayerNorm only).
    pub bias: bool,
}

/// A checked backward of a normalisation: the gradient of `x` from the output's gradient `dy`
/// and the forward's statistics, and the parameters' gradients that `params` asks for, summed
/// over the rows in the same pass.
#[derive(Debug, Clone, PartialEq)]
pub struct NormBackwardPlan {
    /// The forward's plan.
    pub forward: NormPlan,
    /// The output gradient's view.
    pub dy: Layout,
    /// The statistics' view, `[rows, 2]`.
    pub stats: Layout,
    /// The parameter gradients computed beside `dx`.
    pub params: NormParamGrads,
}

impl NormBackwardPlan {
    /// Checks `dy` (the input's shape and dtype) and the statistics against `forward`, and that
    /// the parameters whose gradients `params` asks for exist.
    pub fn new(forward: NormPlan, dy: Arg<'_>, stats: Arg<'_>, params: NormParamGrads) -> Result<Self> {
        let op = "norm_backward";
        if dy.layout.shape() != &forward.out_shape {
            let (lhs, rhs) = (forward.out_shape.clone(), dy.layout.shape().clone());
            return Err(Error::ShapeMismatch { op, lhs, rhs }.into());
        }
        if stats.layout.dims() != [forward.rows, 2] {
            let msg = format!("stats have shape {}, expected [{}, 2]", stats.layout.shape(), forward.rows);
            return Err(Error::InvalidArgument { op, msg }.into());
        }
        require_same_dtype(op, &[forward.dtype, dy.dtype])?;
        require_same_dtype(op, &[forward.stat_dtype, stats.dtype])?;
        if params.weight && forward.weight.is_none() {
            return Err(Error::InvalidArgument {
                op,
                msg: "the weight's gradient was asked for without a weight".into(),
            }
            .into());
        }
        if params.bias && forward.kind == NormKind::Rms {
            return Err(Error::InvalidArgument { op, msg: "RMSNorm has no bias to take a gradient of".into() }.into());
        }
        Ok(NormBackwardPlan { forward, dy: dy.layout.clone(), stats: stats.layout.clone(), params })
    }
}
