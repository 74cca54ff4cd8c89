//! Plans of fused batch normalisation over the channels (dim 1) of `[N, C]` or `[N, C, *]`
//! inputs, and of its backward.

use super::{require_float, require_same_dtype, Arg};
use crate::Result;
use tessera_core::{saturating_product, DType, Error, Layout, Shape};

/// A checked batch normalisation: each channel `c` of `x`, viewed as `[batch, channels, inner]`,
/// is normalised with its mean and variance, `(x - mean) / sqrt(var + eps) * weight + bias`.
/// Training: the statistics of the batch (over `batch · inner` values, population variance).
/// Eval: the given running mean and variance. The forward also gives the saved statistics
/// `[3, channels]`: the mean, `1 / sqrt(var + eps)`, and the variance a running estimate takes
/// (the batch's unbiased variance in training, the running variance in eval), in f32 (f64 for
/// f64 inputs).
#[derive(Debug, Clone, PartialEq)]
pub struct BatchNormPlan {
    /// The dtype of `x`, the parameters, the running statistics and the output.
    pub dtype: DType,
    /// The saved statistics' dtype.
    pub stat_dtype: DType,
    /// Dim 0 of `x`.
    pub batch: usize,
    /// Dim 1 of `x`.
    pub channels: usize,
    /// The product of the dims after the channels (1 for `[N, C]`).
    pub inner: usize,
    /// The input's view.
    pub x: Layout,
    /// The weight's view (`[channels]`), if any.
    pub weight: Option<Layout>,
    /// The bias's view (`[channels]`), if any.
    pub bias: Option<Layout>,
    /// The running mean's and variance's views (`[channels]` each), read in eval mode.
    pub running: Option<(Layout, Layout)>,
    /// Normalise with the batch's statistics (else the running ones).
    pub training: bool,
    /// Added to the variance.
    pub eps: f64,
    /// The output's shape (the input's).
    pub out_shape: Shape,
}

const OP: &str = "batch_norm";

impl BatchNormPlan {
    /// Checks a batch normalisation of `x` with optional `weight` and `bias` and the running
    /// statistics `(mean, var)`, which eval mode (`training == false`) requires.
    pub fn new(
        x: Arg<'_>,
        weight: Option<Arg<'_>>,
        bias: Option<Arg<'_>>,
        running: Option<(Arg<'_>, Arg<'_>)>,
        training: bool,
        eps: f64,
    ) -> Result<Self> {
        if !training && running.is_none() {
            let msg = "eval mode (training = false) needs the running mean and variance".to_string();
            return Err(Error::InvalidArgument { op: OP, msg }.into());
        }
        Self::checked(x, weight, bias, running, training, eps)
    }

    /// The checks of [`new`](Self::new) but the running statistics' presence.
    fn checked(
        x: Arg<'_>,
        weight: Option<Arg<'_>>,
        bias: Option<Arg<'_>>,
        running: Option<(Arg<'_>, Arg<'_>)>,
        training: bool,
        eps: f64,
    ) -> Result<Self> {
        let shape = x.layout.shape();
        let dims = x.layout.dims();
        if dims.len() < 2 {
            let msg = format!("expects an [N, C] or [N, C, *] input, got shape {shape}");
            return Err(Error::InvalidArgument { op: OP, msg }.into());
        }
        require_float(OP, x.dtype)?;
        let (batch, channels) = (dims[0], dims[1]);
        // Zero-aware and saturating: an empty input's other dims may multiply past a usize.
        let inner = saturating_product(dims[2..].iter().copied());
        let params = [
            ("weight", weight),
            ("bias", bias),
            ("running mean", running.map(|r| r.0)),
            ("running var", running.map(|r| r.1)),
        ];
        for (what, p) in params {
            let Some(p) = p else { continue };
            require_same_dtype(OP, &[x.dtype, p.dtype])?;
            if p.layout.dims() != [channels] {
                let msg = format!("the {what} has shape {}, expected [{channels}] for input {shape}", p.layout.shape());
                return Err(Error::InvalidArgument { op: OP, msg }.into());
            }
        }
        if training && batch.saturating_mul(inner) <= 1 {
            let msg = format!("Expected more than 1 value per channel when training, got input size {shape}");
            return Err(Error::InvalidArgument { op: OP, msg }.into());
        }
        if !(eps.is_finite() && eps >= 0.0) {
            return Err(Error::InvalidArgument { op: OP, msg: format!("eps {eps} must be finite and >= 0") }.into());
        }
        Ok(BatchNormPlan {
            dtype: x.dtype,
            stat_dtype: if x.dtype == DType::F64 { DType::F64 } else { DType::F32 },
            batch,
            channels,
            inner,
            x: x.layout.clone(),
            weight: weight.map(|w| w.layout.clone()),
            bias: bias.map(|b| b.layout.clone()),
            running: running.map(|(m, v)| (m.layout.clone(), v.layout.clone())),
            training,
            eps,
            out_shape: shape.clone(),
        })
    }

    /// Values per channel (`batch · inner`).
    pub fn per_channel(&self) -> usize {
        self.batch.saturating_mul(self.inner)
    }
}

/// A checked backward of a batch normalisation: from the output's gradient `dy` and the saved
/// statistics, the gradients of `x`, of the weight (`Σ dy · x̂`) and of the bias (`Σ dy`), each
/// sum over the batch and the inner dims of a channel.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchNormBackwardPlan {
    /// The forward's plan (its running statistics are not read).
    pub forward: BatchNormPlan,
    /// The output gradient's view.
    pub dy: Layout,
    /// The saved statistics' view, `[3, channels]`.
    pub saved: Layout,
}

impl BatchNormBackwardPlan {
    /// Checks the backward of a batch normalisation of `x` with `weight` in `training` mode or
    /// not: `dy` (the input's shape and dtype) and the saved statistics `[3, channels]`.
    pub fn new(x: Arg<'_>, weight: Option<Arg<'_>>, dy: Arg<'_>, saved: Arg<'_>, training: bool) -> Result<Self> {
        let op = "batch_norm_backward";
        let forward = BatchNormPlan::checked(x, weight, None, None, training, 0.0)?;
        if dy.layout.shape() != &forward.out_shape {
            let (lhs, rhs) = (forward.out_shape.clone(), dy.layout.shape().clone());
            return Err(Error::ShapeMismatch { op, lhs, rhs }.into());
        }
        if saved.layout.dims() != [3, forward.channels] {
            let msg =
                format!("saved statistics have shape {}, expected [3, {}]", saved.layout.shape(), forward.channels);
            return Err(Error::InvalidArgument { op, msg }.into());
        }
        require_same_dtype(op, &[forward.dtype, dy.dtype])?;
        require_same_dtype(op, &[forward.stat_dtype, saved.dtype])?;
        Ok(BatchNormBackwardPlan { forward, dy: dy.layout.clone(), saved: saved.layout.clone() })
    }
}
