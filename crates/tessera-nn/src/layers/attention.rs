//! `MultiheadAttention`, PyTorch's layer over the fused attention op.

use super::linear::Linear;
use crate::{init, Error, Module, Result};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use tessera_autograd::{no_grad, Var};
use tessera_tensor::{AttentionSpec, DType, Device, Generator, Tensor};

/// How [`MultiheadAttention`] is built (PyTorch's constructor arguments and defaults).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttentionConfig {
    /// Width of queries, keys, values and output.
    pub embed_dim: usize,
    /// Heads; must divide `embed_dim`.
    pub num_heads: usize,
    /// Dropout on the attention weights while training.
    pub dropout: f64,
    /// Whether the projections have biases.
    pub bias: bool,
    /// Inputs and outputs `[batch, seq, embed]` (else `[seq, batch, embed]`, PyTorch's default).
    pub batch_first: bool,
}

impl AttentionConfig {
    /// `embed_dim` split over `num_heads`, no dropout, biases, `[seq, batch, embed]` layout.
    pub fn new(embed_dim: usize, num_heads: usize) -> Self {
        AttentionConfig { embed_dim, num_heads, dropout: 0.0, bias: true, batch_first: false }
    }
}

/// What to hide from the attention beyond its inputs.
#[derive(Debug, Clone, Copy, Default)]
pub struct AttentionMask<'a> {
    /// u8 `[batch, kv_len]`, nonzero where a key is padding (PyTorch's `key_padding_mask`).
    pub key_padding: Option<&'a Tensor>,
    /// Each query sees only keys at or before its own position (PyTorch's `is_causal`).
    pub causal: bool,
}

/// Keys and values projected and split into heads, `[batch, heads, len, head_dim]` each: what
/// [`MultiheadAttention::key_values`] makes and [`MultiheadAttention::attend_key_values`] reads,
/// so that a decoder computes them once per position (a KV cache).
#[derive(Clone)]
pub struct KeyValues {
    /// The keys, `[batch, heads, len, head_dim]`.
    pub keys: Var,
    /// The values, `[batch, heads, len, head_dim]`.
    pub values: Var,
}

impl KeyValues {
    /// The number of positions.
    pub fn len(&self) -> usize {
        self.keys.dims().get(2).copied().unwrap_or(0)
    }

    /// Whether there is no position.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// These positions followed by `more`'s (joined on the position dim; the join is recorded
    /// for backward when gradients are on).
    pub fn append(&self, more: &KeyValues) -> Result<KeyValues> {
        Ok(KeyValues {
            keys: Var::cat(&[self.keys.clone(), more.keys.clone()], 2)?,
            values: Var::cat(&[self.values.clone(), more.values.clone()], 2)?,
        })
    }

    /// The batch rows `rows` (1-D, i64 or u32), in that order: how beam search reorders the
    /// cache of its hypotheses.
    pub fn select_rows(&self, rows: &Tensor) -> Result<KeyValues> {
        Ok(KeyValues { keys: self.keys.index_select(0, rows)?, values: self.values.index_select(0, rows)? })
    }
}

/// Multi-head attention with PyTorch's parameters and layout: `in_proj_weight` `[3E, E]` (the
/// query, key and value projections stacked, xavier-uniform), `in_proj_bias` `[3E]` (zeros) and
/// `out_proj` (`Linear(E, E)`, bias zeros). The attention itself is the fused op: no
/// `seq × seq` matrix is kept.
#[derive(Module)]
pub struct MultiheadAttention {
    in_proj_weight: Var,
    in_proj_bias: Option<Var>,
    out_proj: Linear,
    #[module(skip)]
    config: AttentionConfig,
    #[module(skip)]
    training: AtomicBool,
    #[module(skip)]
    rng: Mutex<Generator>,
}

impl MultiheadAttention {
    /// A layer initialised as PyTorch's; dropout masks come from a generator seeded `seed`.
    pub fn new(g: &mut Generator, config: AttentionConfig, seed: u64, dtype: DType, device: &Device) -> Result<Self> {
        let (e, h) = (config.embed_dim, config.num_heads);
        if h == 0 || e % h != 0 {
            return Err(Error::Config(format!("MultiheadAttention: {h} heads do not divide embed_dim {e}")));
        }
        if !(0.0..1.0).contains(&config.dropout) {
            return Err(Error::Config(format!("MultiheadAttention: dropout {} must be in [0, 1)", config.dropout)));
        }
        let in_proj_weight = Var::param(init::xavier_uniform(g, 1.0, [3 * e, e], dtype, device)?)?;
        let in_proj_bias = config.bias.then(|| Var::param(Tensor::zeros([3 * e], dtype, device)?)).transpose()?;
        let out_w = init::kaiming_uniform(g, 5f64.sqrt(), [e, e], dtype, device)?;
        let out_b = config.bias.then(|| Tensor::zeros([e], dtype, device)).transpose()?;
        Ok(MultiheadAttention {
            in_proj_weight,
            in_proj_bias,
            out_proj: Linear::from_tensors(out_w, out_b)?,
            config,
            training: AtomicBool::new(true),
            rng: Mutex::new(Generator::new(seed)),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &AttentionConfig {
        &self.config
    }

    /// Restarts the dropout masks from a generator seeded `seed`.
    pub fn reseed(&self, seed: u64) {
        self.rng.lock().unwrap_or_else(|e| e.into_inner()).reseed(seed);
    }

    /// The projection `which` (0: query, 1: key, 2: value) of `x` `[batch, seq, E]`, split into
    /// heads: `[batch, heads, seq, E / heads]` (a view).
    fn project(&self, x: &Var, which: usize) -> Result<Var> {
        let [y] = self.project_packed(x, which)?;
        Ok(y)
    }

    /// The `N` projections from `first` on (0: query, 1: key, 2: value) of one `x`, as one
    /// product with those rows of `in_proj_weight` (PyTorch's packed in-projection), each split
    /// into heads. Their gradients come back through one product, and the slices of the output
    /// are joined in one pass.
    fn project_packed<const N: usize>(&self, x: &Var, first: usize) -> Result<[Var; N]> {
        let e = self.config.embed_dim;
        let w = self.in_proj_weight.narrow(0, first * e, N * e)?.t()?;
        let y = match &self.in_proj_bias {
            Some(b) => x.matmul_bias(&w, &b.narrow(0, first * e, N * e)?)?,
            None => x.matmul(&w)?,
        };
        let mut heads = Vec::with_capacity(N);
        for i in 0..N {
            heads.push(self.split_heads(&if N == 1 { y.clone() } else { y.narrow(2, i * e, e)? })?);
        }
        Ok(heads.try_into().unwrap_or_else(|_| unreachable!("one head split per projection")))
    }

    fn split_heads(&self, y: &Var) -> Result<Var> {
        let (b, s) = (y.dims()[0], y.dims()[1]);
        let h = self.config.num_heads;
        Ok(y.reshape([b, s, h, self.config.embed_dim / h])?.permute(&[0, 2, 1, 3])?)
    }

    /// `[batch, seq, E]` whichever the configured layout.
    fn batch_major(&self, x: &Var, name: &str) -> Result<Var> {
        if x.rank() != 3 || x.dims()[2] != self.config.embed_dim {
            let expected = format!(
                "{name} [{}, {}, {}]",
                if self.config.batch_first { "batch" } else { "seq" },
                if self.config.batch_first { "seq" } else { "batch" },
                self.config.embed_dim
            );
            return Err(Error::BadInput { layer: self.describe(), expected, got: x.shape().clone() });
        }
        Ok(if self.config.batch_first { x.clone() } else { x.transpose(0, 1)? })
    }

    /// Attention of `query` over `key` and `value` (each `[batch, seq, E]` with `batch_first`,
    /// else `[seq, batch, E]`), hiding what `mask` says: the output in the query's layout.
    /// Self-attention (one value, or its clones, given three times) projects it once.
    pub fn attend(&self, query: &Var, key: &Var, value: &Var, mask: AttentionMask<'_>) -> Result<Var> {
        if query.id() == key.id() && key.id() == value.id() {
            let x = self.batch_major(query, "query")?;
            let [q, keys, values] = self.project_packed(&x, 0)?;
            return self.attend_heads(q, &KeyValues { keys, values }, mask);
        }
        self.attend_key_values(query, &self.key_values(key, value)?, mask)
    }

    /// `key` and `value` (configured layout) projected and split into heads; in one product
    /// when they are one value.
    pub fn key_values(&self, key: &Var, value: &Var) -> Result<KeyValues> {
        let (k, v) = (self.batch_major(key, "key")?, self.batch_major(value, "value")?);
        if key.id() == value.id() {
            let [keys, values] = self.project_packed(&k, 1)?;
            return Ok(KeyValues { keys, values });
        }
        Ok(KeyValues { keys: self.project(&k, 1)?, values: self.project(&v, 2)? })
    }

    /// Attention of `query` (configured layout) over already-projected keys and values, hiding
    /// what `mask` says (its key padding `[batch, kv.len()]`; `causal` aligns the queries with
    /// the last keys): the output in the query's layout.
    pub fn attend_key_values(&self, query: &Var, kv: &KeyValues, mask: AttentionMask<'_>) -> Result<Var> {
        let q = self.batch_major(query, "query")?;
        self.check_key_values(kv, q.dims()[0])?;
        self.attend_heads(self.project(&q, 0)?, kv, mask)
    }

    /// Attention of the projected queries `qh` (`[batch, heads, q_len, head_dim]`) over `kv`,
    /// heads merged and projected out, in the configured layout.
    fn attend_heads(&self, qh: Var, kv: &KeyValues, mask: AttentionMask<'_>) -> Result<Var> {
        let dropout = match self.config.dropout > 0.0 && self.training.load(Ordering::Relaxed) {
            true => {
                let weights = qh.dims()[0] * qh.dims()[1] * qh.dims()[2] * kv.len();
                Some(self.rng.lock().unwrap_or_else(|e| e.into_inner()).dropout_mask(self.config.dropout, weights)?)
            }
            false => None,
        };
        let spec = AttentionSpec { causal: mask.causal, scale: None, dropout };
        let heads = Var::attention(&qh, &kv.keys, &kv.values, mask.key_padding, &spec)?;
        let (b, s) = (qh.dims()[0], qh.dims()[2]);
        let merged = heads.permute(&[0, 2, 1, 3])?.reshape([b, s, self.config.embed_dim])?;
        let out = self.out_proj.forward(&merged)?;
        Ok(if self.config.batch_first { out } else { out.transpose(0, 1)? })
    }

    /// The error for keys or values that are not `[batch, heads, len, head_dim]`, one `len`.
    fn check_key_values(&self, kv: &KeyValues, batch: usize) -> Result<()> {
        let (h, d) = (self.config.num_heads, self.config.embed_dim / self.config.num_heads);
        let len = kv.len();
        for (name, x) in [("keys", &kv.keys), ("values", &kv.values)] {
            if x.dims() != [batch, h, len, d] {
                return Err(Error::BadInput {
                    layer: self.describe(),
                    expected: format!("{name} [{batch}, {h}, {len}, {d}] (batch, heads, positions, head_dim)"),
                    got: x.shape().clone(),
                });
            }
        }
        Ok(())
    }

    /// The attention weights `[batch, q_len, kv_len]`, averaged over heads (PyTorch's
    /// `need_weights=True` output), for attention maps: computed apart from the fused op, without
    /// dropout or gradients.
    pub fn attention_weights(&self, query: &Var, key: &Var, mask: AttentionMask<'_>) -> Result<Tensor> {
        Ok(self.attention_weights_per_head(query, key, mask)?.mean(&[1], false)?)
    }

    /// The attention weights per head `[batch, heads, q_len, kv_len]` (PyTorch's
    /// `average_attn_weights=False`), for attention maps: computed apart from the fused op,
    /// without dropout or gradients. Hidden keys weigh exactly 0; a query that sees no key has
    /// all-zero weights (the fused op outputs zeros for it).
    pub fn attention_weights_per_head(&self, query: &Var, key: &Var, mask: AttentionMask<'_>) -> Result<Tensor> {
        no_grad(|| {
            let (q, k) = (self.batch_major(query, "query")?, self.batch_major(key, "key")?);
            let (qh, kh) = (self.project(&q, 0)?.tensor().clone(), self.project(&k, 1)?.tensor().clone());
            if qh.dims()[0] != kh.dims()[0] {
                let expected = format!("key with the query's batch of {}", qh.dims()[0]);
                return Err(Error::BadInput { layer: self.describe(), expected, got: key.shape().clone() });
            }
            let d = self.config.embed_dim / self.config.num_heads;
            let scores = qh.matmul(&kh.transpose(-1, -2)?)?.scale(1.0 / (d as f64).sqrt())?;
            let (sq, sk) = (scores.dims()[2], scores.dims()[3]);
            let mut hidden = Vec::new();
            if mask.causal {
                let i = Tensor::arange(0.0, sq as f64, 1.0, DType::I64, scores.device())?.reshape([sq, 1])?;
                let j = Tensor::arange(0.0, sk as f64, 1.0, DType::I64, scores.device())?.reshape([1, sk])?;
                hidden.push(j.gt(&i.add_scalar(sk as f64 - sq as f64)?)?);
            }
            if let Some(p) = mask.key_padding {
                hidden.push(p.reshape([p.dims().first().copied().unwrap_or(0), 1, 1, sk])?);
            }
            let (neg, zero) = (
                Tensor::full(f64::NEG_INFINITY, (), scores.dtype(), scores.device())?,
                Tensor::zeros((), scores.dtype(), scores.device())?,
            );
            let scores = hidden.iter().try_fold(scores, |s, h| h.where_cond(&neg, &s))?;
            // A row with every key hidden is NaN after the softmax; the zeroing clears it too.
            Ok(hidden.iter().try_fold(scores.softmax(-1)?, |w, h| h.where_cond(&zero, &w))?)
        })
    }
}

impl Module for MultiheadAttention {
    /// Self-attention of `x`, no mask.
    fn forward(&self, x: &Var) -> Result<Var> {
        self.attend(x, x, x, AttentionMask::default())
    }

    fn set_training(&self, training: bool) {
        self.training.store(training, Ordering::Relaxed);
        self.out_proj.set_training(training);
    }

    fn share_dropout(&self, part: usize, parts: usize) -> Result<()> {
        Ok(self.rng.lock().unwrap_or_else(|e| e.into_inner()).set_share(part, parts)?)
    }

    fn describe(&self) -> String {
        format!("MultiheadAttention({}, heads={})", self.config.embed_dim, self.config.num_heads)
    }

    fn flops_per_example(&self, dims: &[usize]) -> u64 {
        // Projections 4 · 2 · S · E², scores and values 2 · 2 · S² · E.
        let (s, e) = (dims.first().copied().unwrap_or(1), self.config.embed_dim);
        (8 * s * e * e + 4 * s * s * e) as u64
    }
}
