//! Plans of fused scaled-dot-product attention, forward and backward.
//!
//! `q` is `[batch, heads, q_len, head_dim]`, `k` `[batch, heads, kv_len, head_dim]`, `v`
//! `[batch, heads, kv_len, v_dim]`; the output is `[batch, heads, q_len, v_dim]` and the saved
//! log-sum-exp of each query row `[batch, heads, q_len]` (f32 for f32, f16 and bf16 inputs; f64
//! for f64), from which the backward recomputes the attention weights tile by tile.

use super::{require_float, require_same_dtype, Arg, DropoutMask};
use crate::Result;
use tessera_core::{DType, Error, Layout, Shape};

/// How attention is computed beyond its operands.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct AttentionSpec {
    /// Whether query `i` attends only to keys `j <= i + kv_len - q_len` (the queries are the last
    /// `q_len` positions of the keys' sequence; with equal lengths, PyTorch's `is_causal`).
    pub causal: bool,
    /// The scale of `q · k`; `None` is `1 / sqrt(head_dim)`.
    pub scale: Option<f64>,
    /// Dropout on the weights, if any.
    pub dropout: Option<DropoutMask>,
}

/// A checked attention: its sizes, the operands' views and the spec.
#[derive(Debug, Clone, PartialEq)]
pub struct AttentionPlan {
    /// `batch * heads`: independent attention problems.
    pub problems: usize,
    /// Heads per batch row (to find a problem's padding-mask row).
    pub heads: usize,
    /// Query rows per problem.
    pub q_len: usize,
    /// Keys (and values) per problem.
    pub kv_len: usize,
    /// Width of queries and keys.
    pub head_dim: usize,
    /// Width of values and outputs.
    pub v_dim: usize,
    /// The dtype of q, k, v and the output.
    pub dtype: DType,
    /// The dtype of the saved log-sum-exp (f64 for f64 inputs, else f32).
    pub lse_dtype: DType,
    /// The query view.
    pub q: Layout,
    /// The key view.
    pub k: Layout,
    /// The value view.
    pub v: Layout,
    /// The key-padding mask's view (u8 `[batch, kv_len]`, nonzero: the key is ignored).
    pub key_padding: Option<Layout>,
    /// Causality and dropout.
    pub spec: AttentionSpec,
    /// The scale of `q · k` in effect.
    pub scale: f64,
    /// The output's shape.
    pub out_shape: Shape,
}

impl AttentionPlan {
    /// Checks `q`, `k`, `v` and an optional key-padding mask for an attention computed as `spec`.
    pub fn new(q: Arg<'_>, k: Arg<'_>, v: Arg<'_>, key_padding: Option<Arg<'_>>, spec: AttentionSpec) -> Result<Self> {
        const OP: &str = "attention";
        let rank4 = |name: &str, a: &Arg<'_>| -> Result<[usize; 4]> {
            match *a.layout.dims() {
                [b, h, s, d] => Ok([b, h, s, d]),
                _ => {
                    let msg = format!("{name} has shape {}, expected [batch, heads, seq, dim]", a.layout.shape());
                    Err(Error::InvalidArgument { op: OP, msg }.into())
                }
            }
        };
        let ([b, h, q_len, head_dim], [kb, kh, kv_len, kd], [vb, vh, vs, v_dim]) =
            (rank4("q", &q)?, rank4("k", &k)?, rank4("v", &v)?);
        if (kb, kh, kd) != (b, h, head_dim) || (vb, vh, vs) != (b, h, kv_len) {
            let msg = format!(
                "q {}, k {} and v {} do not agree (k needs q's batch, heads and dim; v k's batch, heads and length)",
                q.layout.shape(),
                k.layout.shape(),
                v.layout.shape()
            );
            return Err(Error::InvalidArgument { op: OP, msg }.into());
        }
        require_float(OP, q.dtype)?;
        require_same_dtype(OP, &[q.dtype, k.dtype, v.dtype])?;
        if let Some(m) = key_padding {
            if m.dtype != DType::U8 {
                let hint = " for the key-padding mask (expected u8, nonzero where a key is ignored)";
                return Err(Error::UnsupportedDType { op: OP, dtype: m.dtype, hint }.into());
            }
            if m.layout.dims() != [b, kv_len] {
                let msg = format!("key-padding mask has shape {}, expected [{b}, {kv_len}]", m.layout.shape());
                return Err(Error::InvalidArgument { op: OP, msg }.into());
            }
        }
        if spec.causal && q_len > kv_len {
            let msg = format!("causal attention needs at least as many keys ({kv_len}) as queries ({q_len})");
            return Err(Error::InvalidArgument { op: OP, msg }.into());
        }
        let scale = spec.scale.unwrap_or(1.0 / (head_dim.max(1) as f64).sqrt());
        if !scale.is_finite() {
            return Err(Error::InvalidArgument { op: OP, msg: format!("scale {scale} is not finite") }.into());
        }
        // The output and log-sum-exp are sized by q, k and v together: with empty operands their
        // dims may multiply past a usize.
        let out_shape = Shape::new(vec![b, h, q_len, v_dim]);
        out_shape.countable(OP, q.dtype)?;
        Shape::new(vec![b, h, q_len]).countable(OP, DType::F64)?;
        Ok(AttentionPlan {
            // Saturating: b · h overflows only when the log-sum-exp is empty (q_len is 0).
            problems: b.saturating_mul(h),
            heads: h,
            q_len,
            kv_len,
            head_dim,
            v_dim,
            dtype: q.dtype,
            lse_dtype: if q.dtype == DType::F64 { DType::F64 } else { DType::F32 },
            q: q.layout.clone(),
            k: k.layout.clone(),
            v: v.layout.clone(),
            key_padding: key_padding.map(|m| m.layout.clone()),
            spec,
            scale,
            out_shape,
        })
    }

    /// The saved log-sum-exp's shape, `[batch, heads, q_len]`.
    pub fn lse_shape(&self) -> Shape {
        let d = self.out_shape.dims();
        Shape::new(vec![d[0], d[1], d[2]])
    }

    /// The last key query `i` may attend to, plus one (all keys without causality).
    #[inline]
    pub fn key_limit(&self, i: usize) -> usize {
        if self.spec.causal {
            i + 1 + self.kv_len - self.q_len
        } else {
            self.kv_len
        }
    }
}

/// A checked attention backward: the forward's plan and the views of its output, its saved
/// log-sum-exp and the output's gradient.
#[derive(Debug, Clone, PartialEq)]
pub struct AttentionBackwardPlan {
    /// The forward's plan.
    pub forward: AttentionPlan,
    /// The forward output's view.
    pub out: Layout,
    /// The saved log-sum-exp's view.
    pub lse: Layout,
    /// The output gradient's view.
    pub d_out: Layout,
}

impl AttentionBackwardPlan {
    /// Checks the forward's saved values and the output's gradient against `forward`.
    pub fn new(forward: AttentionPlan, out: Arg<'_>, lse: Arg<'_>, d_out: Arg<'_>) -> Result<Self> {
        const OP: &str = "attention_backward";
        for (name, a, shape, dtype) in [
            ("out", out, forward.out_shape.clone(), forward.dtype),
            ("lse", lse, forward.lse_shape(), forward.lse_dtype),
            ("d_out", d_out, forward.out_shape.clone(), forward.dtype),
        ] {
            if a.layout.shape() != &shape {
                let msg = format!("{name} has shape {}, expected {shape}", a.layout.shape());
                return Err(Error::InvalidArgument { op: OP, msg }.into());
            }
            require_same_dtype(OP, &[dtype, a.dtype])?;
        }
        Ok(AttentionBackwardPlan {
            forward,
            out: out.layout.clone(),
            lse: lse.layout.clone(),
            d_out: d_out.layout.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tessera_core::Philox;

    fn l(dims: &[usize]) -> Layout {
        Layout::contiguous(Shape::from(dims))
    }

    #[test]
    fn shapes_masks_and_causality_are_checked() {
        let (q, k, v) = (l(&[2, 3, 5, 8]), l(&[2, 3, 7, 8]), l(&[2, 3, 7, 4]));
        let f = |l| Arg::new(DType::F32, l);
        let p = AttentionPlan::new(f(&q), f(&k), f(&v), None, AttentionSpec::default()).unwrap();
        assert_eq!((p.problems, p.q_len, p.kv_len, p.v_dim, p.out_shape.dims()), (6, 5, 7, 4, &[2usize, 3, 5, 4][..]));
        assert!((p.scale - 8f64.sqrt().recip()).abs() < 1e-15);
        let causal = AttentionSpec { causal: true, ..Default::default() };
        let p = AttentionPlan::new(f(&q), f(&k), f(&v), None, causal).unwrap();
        assert_eq!((p.key_limit(0), p.key_limit(4)), (3, 7));
        let short_v = l(&[2, 3, 5, 4]);
        let err = AttentionPlan::new(f(&k), f(&q), f(&short_v), None, causal).unwrap_err().to_string();
        assert!(err.contains("causal"), "{err}");
        let mask = l(&[2, 6]);
        let err = AttentionPlan::new(f(&q), f(&k), f(&v), Some(Arg::new(DType::U8, &mask)), AttentionSpec::default());
        assert!(err.unwrap_err().to_string().contains("[2, 7]"));
        let err = AttentionPlan::new(f(&q), f(&v), f(&v), None, AttentionSpec::default()).unwrap_err().to_string();
        assert!(err.contains("do not agree"), "{err}");
    }

    #[test]
    fn dropout_masks_are_a_pure_function_of_their_counters() {
        let mut g = Philox::new(3);
        g.take(11);
        let d = DropoutMask::draw(0.25, &mut g, 4000).unwrap();
        assert_eq!((d.first, g.offset()), (11, 1011));
        let rng = Philox::new(d.seed);
        let kept = (0..4000).filter(|&n| d.keeps(&rng, n)).count();
        assert!((2800..3200).contains(&kept), "{kept} of 4000 kept at p = 0.25");
        assert!(DropoutMask::draw(1.0, &mut g, 1).is_err());
    }
}
