//! nanoGPT's model: pre-LayerNorm transformer blocks over learned token and position
//! embeddings, the output layer tied to the token embedding.

use super::cache::LayerCache;
use super::config::GptConfig;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use tessera_autograd::Var;
use tessera_nn::{init, Dropout, Embedding, Error, LayerNorm, Linear, Module, Result};
use tessera_tensor::{AttentionSpec, DType, Device, Generator, Tensor};

/// Weights and biases as nanoGPT initialises them.
struct Init<'g> {
    g: &'g mut Generator,
    cfg: &'g GptConfig,
    device: Device,
}

impl Init<'_> {
    /// A linear layer with weights from N(0, std²) and zero biases.
    fn linear(&mut self, inputs: usize, outputs: usize, std: f64) -> Result<Linear> {
        let w = init::normal(self.g, std, [outputs, inputs], DType::F32, &self.device)?;
        let b = self.cfg.bias.then(|| Tensor::zeros([outputs], DType::F32, &self.device)).transpose()?;
        Linear::from_tensors(w, b)
    }

    fn norm(&self) -> Result<LayerNorm> {
        let (n, eps) = (self.cfg.n_embd, self.cfg.layer_norm_eps);
        match self.cfg.bias {
            true => LayerNorm::new(n, eps, DType::F32, &self.device),
            false => LayerNorm::no_bias(n, eps, DType::F32, &self.device),
        }
    }

    fn dropout(&mut self) -> Result<Dropout> {
        let seed = self.g.fork_seed();
        Dropout::new(self.cfg.dropout, seed)
    }
}

/// Causal self-attention: one projection to queries, keys and values (`c_attn`), the fused
/// attention, the output projection (`c_proj`).
#[derive(Module)]
pub(super) struct CausalSelfAttention {
    c_attn: Linear,
    c_proj: Linear,
    resid_dropout: Dropout,
    #[module(skip)]
    n_head: usize,
    #[module(skip)]
    attn_dropout: f64,
    #[module(skip)]
    training: AtomicBool,
    #[module(skip)]
    rng: Mutex<Generator>,
}

impl CausalSelfAttention {
    /// `[batch, seq, E]` → `[batch, seq, E]`; with a cache, `x` continues the cached positions
    /// and its keys and values are appended to the cache.
    fn attend(&self, x: &Var, cache: Option<&mut LayerCache>) -> Result<Var> {
        let (b, h, t) = (x.dims()[0], self.n_head, x.dims()[1]);
        let (q, mut k, mut v) = self.heads(x)?;
        if let Some(cache) = cache {
            (k, v) = cache.append(&k, &v)?;
        }
        let dropout = match self.attn_dropout > 0.0 && self.training.load(Ordering::Relaxed) {
            true => {
                let weights = b * h * t * k.dims()[2];
                Some(self.rng.lock().unwrap_or_else(|e| e.into_inner()).dropout_mask(self.attn_dropout, weights)?)
            }
            false => None,
        };
        let spec = AttentionSpec { causal: true, scale: None, dropout };
        self.resid_dropout.forward(&self.merge(&Var::attention(&q, &k, &v, None, &spec)?)?)
    }

    /// Queries, keys and values `[batch, heads, seq, head_dim]` of `x` `[batch, seq, E]`: head
    /// views of the one projection `c_attn`.
    pub(super) fn heads(&self, x: &Var) -> Result<(Var, Var, Var)> {
        let (b, t, e) = (x.dims()[0], x.dims()[1], x.dims()[2]);
        let h = self.n_head;
        let qkv = self.c_attn.forward(x)?;
        let head = |i: usize| -> Result<Var> {
            Ok(qkv.narrow(2, i * e, e)?.reshape([b, t, h, e / h])?.permute(&[0, 2, 1, 3])?)
        };
        Ok((head(0)?, head(1)?, head(2)?))
    }

    /// The attention output `[batch, heads, seq, head_dim]` with its heads side by side, through
    /// the output projection `c_proj` (no dropout): `[batch, seq, E]`.
    pub(super) fn merge(&self, y: &Var) -> Result<Var> {
        let (b, h, t, d) = (y.dims()[0], y.dims()[1], y.dims()[2], y.dims()[3]);
        self.c_proj.forward(&y.permute(&[0, 2, 1, 3])?.reshape([b, t, h * d])?)
    }
}

impl Module for CausalSelfAttention {
    fn forward(&self, x: &Var) -> Result<Var> {
        self.attend(x, None)
    }

    fn set_training(&self, training: bool) {
        self.training.store(training, Ordering::Relaxed);
        self.resid_dropout.set_training(training);
    }

    fn share_dropout(&self, part: usize, parts: usize) -> tessera_nn::Result<()> {
        self.rng.lock().unwrap_or_else(|e| e.into_inner()).set_share(part, parts)?;
        self.resid_dropout.share_dropout(part, parts)
    }
}

/// The feed-forward: `c_fc` to 4 × the width, GELU, `c_proj` back, dropout.
#[derive(Module)]
pub(super) struct Mlp {
    c_fc: Linear,
    c_proj: Linear,
    dropout: Dropout,
    #[module(skip)]
    gelu_tanh: bool,
}

impl Mlp {
    /// `c_proj(gelu(c_fc(x)))`, without the dropout.
    pub(super) fn project(&self, x: &Var) -> Result<Var> {
        let h = self.c_fc.forward(x)?;
        let h = if self.gelu_tanh { h.gelu_tanh()? } else { h.gelu()? };
        self.c_proj.forward(&h)
    }
}

impl Module for Mlp {
    fn forward(&self, x: &Var) -> Result<Var> {
        self.dropout.forward(&self.project(x)?)
    }
}

/// `x + attn(ln_1(x))`, then `x + mlp(ln_2(x))`.
#[derive(Module)]
pub(super) struct Block {
    pub(super) ln_1: LayerNorm,
    pub(super) attn: CausalSelfAttention,
    pub(super) ln_2: LayerNorm,
    pub(super) mlp: Mlp,
}

impl Block {
    fn run(&self, x: &Var, cache: Option<&mut LayerCache>) -> Result<Var> {
        let x = x.add(&self.attn.attend(&self.ln_1.forward(x)?, cache)?)?;
        Ok(x.add(&self.mlp.forward(&self.ln_2.forward(&x)?)?)?)
    }
}

impl Module for Block {
    fn forward(&self, x: &Var) -> Result<Var> {
        self.run(x, None)
    }
}

/// The stack under the output layer (nanoGPT's `transformer` dict).
#[derive(Module)]
pub(super) struct Transformer {
    wte: Embedding,
    wpe: Embedding,
    drop: Dropout,
    pub(super) h: Vec<Block>,
    ln_f: LayerNorm,
}

impl Transformer {
    /// Token plus position embeddings `[batch, seq, E]` of ids `[batch, seq]` at positions
    /// `start..start + seq` (before the dropout).
    pub(super) fn embed(&self, ids: &Tensor, start: usize) -> Result<Var> {
        let seq = match *ids.dims() {
            [_, s] => s,
            _ => {
                let expected = "token ids [batch, seq]".to_string();
                return Err(Error::BadInput { layer: "Gpt".into(), expected, got: ids.shape().clone() });
            }
        };
        let context = self.wpe.weight().dims()[0];
        if start + seq > context {
            let end = start + seq;
            return Err(Error::Config(format!("GPT: positions {start}..{end} exceed the context length {context}")));
        }
        let positions =
            Tensor::arange(start as f64, (start + seq) as f64, 1.0, DType::I64, self.wte.weight().device())?;
        let tok = self.wte.forward(&Var::constant(ids.clone()))?;
        Ok(tok.add(&self.wpe.forward(&Var::constant(positions))?)?)
    }

    /// The logits `[batch, seq, vocab]` of the last block's output: the final LayerNorm, then the
    /// tied output layer.
    pub(super) fn logits(&self, x: &Var) -> Result<Var> {
        Ok(self.ln_f.forward(x)?.matmul(&self.wte.weight().t()?)?)
    }

    /// Logits for ids `[batch, seq]` at positions `start..start + seq`, each layer's keys and
    /// values appended to its cache when `caches` is given (one per layer).
    fn run(&self, ids: &Tensor, start: usize, caches: Option<&mut [LayerCache]>) -> Result<Var> {
        let t = self;
        let mut x = t.drop.forward(&t.embed(ids, start)?)?;
        match caches {
            Some(caches) => {
                for (block, cache) in t.h.iter().zip(caches) {
                    x = block.run(&x, Some(cache))?;
                }
            }
            None => {
                for block in &t.h {
                    x = block.run(&x, None)?;
                }
            }
        }
        t.logits(&x)
    }
}

impl Module for Transformer {
    /// Logits `[batch, seq, vocab]` for ids `[batch, seq]` (the output layer is `wte`).
    fn forward(&self, ids: &Var) -> Result<Var> {
        self.run(ids.tensor(), 0, None)
    }

    /// Forward FLOPs of a window of `dims = [seq]`: nanoGPT's estimate (6 N per token for the
    /// weights without the position table, 12 · layers · width · seq per token for attention)
    /// divided by three for the forward pass alone.
    fn flops_per_example(&self, dims: &[usize]) -> u64 {
        let t = dims.last().copied().unwrap_or(1) as u64;
        let n = (self.parameter_count() - self.wpe.parameter_count()) as u64;
        let width = self.wte.weight().dims()[1] as u64;
        (2 * n + 4 * self.h.len() as u64 * width * t) * t
    }
}

/// A GPT with nanoGPT's architecture and parameter names (`transformer.wte.weight`,
/// `transformer.h.0.attn.c_attn.weight`, ..., `transformer.ln_f.weight`): token and learned
/// position embeddings, `n_layer` pre-LayerNorm blocks of causal self-attention (the fused
/// attention op) and a GELU MLP, a final LayerNorm, and logits through the token embedding
/// (the output layer is tied to it, so `lm_head.weight` is not a parameter of its own).
///
/// Initialised as nanoGPT: linear and embedding weights from N(0, 0.02²), biases zero, the
/// residual projections (`c_proj`) from N(0, (0.02 / sqrt(2 · n_layer))²).
///
/// ```
/// use tessera_tensor::{Device, Tensor};
/// use tessera_train::gpt::{Gpt, GptConfig};
/// let cfg = GptConfig { block_size: 8, n_layer: 2, n_head: 2, n_embd: 16, ..GptConfig::small(11) };
/// let gpt = Gpt::new(&cfg, &Device::Cpu)?;
/// let ids = Tensor::from_vec(vec![1u32, 2, 3, 4, 5, 6], [2, 3], &Device::Cpu)?;
/// assert_eq!(gpt.forward_ids(&ids)?.dims(), [2, 3, 11]);
/// # Ok::<(), tessera_nn::Error>(())
/// ```
#[derive(Module)]
pub struct Gpt {
    transformer: Transformer,
    #[module(skip)]
    cfg: GptConfig,
}

impl Gpt {
    /// A model with fresh weights.
    pub fn new(cfg: &GptConfig, device: &Device) -> Result<Gpt> {
        cfg.check()?;
        let mut g = Generator::new(cfg.seed);
        let mut init = Init { g: &mut g, cfg, device: *device };
        let e = cfg.n_embd;
        let residual_std = 0.02 / (2.0 * cfg.n_layer as f64).sqrt();
        let wte = Embedding::from_weight(init::normal(init.g, 0.02, [cfg.vocab, e], DType::F32, device)?, None)?;
        let wpe = Embedding::from_weight(init::normal(init.g, 0.02, [cfg.block_size, e], DType::F32, device)?, None)?;
        let drop = init.dropout()?;
        let mut h = Vec::with_capacity(cfg.n_layer);
        for _ in 0..cfg.n_layer {
            let attn_seed = init.g.fork_seed();
            h.push(Block {
                ln_1: init.norm()?,
                attn: CausalSelfAttention {
                    c_attn: init.linear(e, 3 * e, 0.02)?,
                    c_proj: init.linear(e, e, residual_std)?,
                    resid_dropout: init.dropout()?,
                    n_head: cfg.n_head,
                    attn_dropout: cfg.dropout,
                    training: AtomicBool::new(true),
                    rng: Mutex::new(Generator::new(attn_seed)),
                },
                ln_2: init.norm()?,
                mlp: Mlp {
                    c_fc: init.linear(e, 4 * e, 0.02)?,
                    c_proj: init.linear(4 * e, e, residual_std)?,
                    dropout: init.dropout()?,
                    gelu_tanh: cfg.gelu_tanh,
                },
            });
        }
        let ln_f = init.norm()?;
        Ok(Gpt { transformer: Transformer { wte, wpe, drop, h, ln_f }, cfg: cfg.clone() })
    }

    /// The configuration.
    pub fn config(&self) -> &GptConfig {
        &self.cfg
    }

    /// The device its parameters are on.
    pub fn device(&self) -> &Device {
        self.transformer.wte.weight().device()
    }

    /// Restarts every dropout mask stream from `seed` (training calls this at each interval).
    pub fn reseed_dropout(&self, seed: u64) {
        let mut g = Generator::new(seed);
        self.transformer.drop.reseed(g.fork_seed());
        for block in &self.transformer.h {
            block.attn.rng.lock().unwrap_or_else(|e| e.into_inner()).reseed(g.fork_seed());
            block.attn.resid_dropout.reseed(g.fork_seed());
            block.mlp.dropout.reseed(g.fork_seed());
        }
    }

    /// Logits `[batch, seq, vocab]` for ids `[batch, seq]` (u32 or i64), `seq` at most the
    /// context length.
    pub fn forward_ids(&self, ids: &Tensor) -> Result<Var> {
        self.run(ids, 0, None)
    }

    /// Logits for ids `[batch, seq]` at positions `start..start + seq`, each layer's keys and
    /// values appended to its cache when `caches` is given (one per layer).
    pub(super) fn run(&self, ids: &Tensor, start: usize, caches: Option<&mut [LayerCache]>) -> Result<Var> {
        self.transformer.run(ids, start, caches)
    }

    /// The stack under the output layer, for [`attention_map`](super::attention_map).
    pub(super) fn transformer(&self) -> &Transformer {
        &self.transformer
    }
}

impl Module for Gpt {
    /// Logits `[batch, seq, vocab]` for ids `[batch, seq]`.
    fn forward(&self, ids: &Var) -> Result<Var> {
        self.forward_ids(ids.tensor())
    }

    fn describe(&self) -> String {
        let c = &self.cfg;
        format!(
            "Gpt(vocab={}, block={}, layers={}, heads={}, embd={})",
            c.vocab, c.block_size, c.n_layer, c.n_head, c.n_embd
        )
    }

    fn flops_per_example(&self, dims: &[usize]) -> u64 {
        self.transformer.flops_per_example(dims)
    }
}
