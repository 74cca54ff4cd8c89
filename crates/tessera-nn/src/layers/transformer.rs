//! `TransformerConfig` and `TransformerEncoderLayer`, PyTorch's encoder block, with the parts it
//! shares with the decoder block.

use super::attention::{AttentionConfig, AttentionMask, MultiheadAttention};
use super::{Dropout, LayerNorm, Linear};
use crate::{Error, Module, Result};
use tessera_autograd::Var;
use tessera_tensor::{DType, Device, Generator};

/// The feed-forward activation of a transformer layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FeedForwardActivation {
    /// ReLU (PyTorch's default).
    #[default]
    Relu,
    /// Exact GELU.
    Gelu,
}

/// How a transformer layer is built: PyTorch's constructor arguments and defaults.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TransformerConfig {
    /// Width of the residual stream.
    pub d_model: usize,
    /// Attention heads; must divide `d_model`.
    pub nhead: usize,
    /// Width of the feed-forward hidden layer (default 2048).
    pub dim_feedforward: usize,
    /// Dropout after attention, inside and after the feed-forward (default 0.1).
    pub dropout: f64,
    /// The feed-forward activation.
    pub activation: FeedForwardActivation,
    /// LayerNorm's epsilon (default 1e-5).
    pub layer_norm_eps: f64,
    /// Inputs `[batch, seq, d_model]` (else `[seq, batch, d_model]`, PyTorch's default).
    pub batch_first: bool,
    /// Normalise before each sub-block (pre-LN) instead of after the residual sum (post-LN,
    /// PyTorch's default).
    pub norm_first: bool,
    /// Whether the linear layers and norms have biases.
    pub bias: bool,
}

impl TransformerConfig {
    /// PyTorch's defaults for `d_model` and `nhead`.
    pub fn new(d_model: usize, nhead: usize) -> Self {
        TransformerConfig {
            d_model,
            nhead,
            dim_feedforward: 2048,
            dropout: 0.1,
            activation: FeedForwardActivation::Relu,
            layer_norm_eps: 1e-5,
            batch_first: false,
            norm_first: false,
            bias: true,
        }
    }

    pub(super) fn attention(&self) -> AttentionConfig {
        AttentionConfig {
            embed_dim: self.d_model,
            num_heads: self.nhead,
            dropout: self.dropout,
            bias: self.bias,
            batch_first: self.batch_first,
        }
    }
}

/// What the transformer layers and stacks are built from: attention, linear layers, dropouts and
/// norms per the configuration, seeded from one generator.
pub(super) struct Parts<'g> {
    pub(super) g: &'g mut Generator,
    pub(super) cfg: TransformerConfig,
    pub(super) dtype: DType,
    pub(super) device: Device,
}

impl Parts<'_> {
    fn seed(&mut self) -> u64 {
        self.g.fork_seed()
    }

    pub(super) fn dropout(&mut self) -> Result<Dropout> {
        let seed = self.seed();
        Dropout::new(self.cfg.dropout, seed)
    }

    pub(super) fn norm(&self) -> Result<LayerNorm> {
        let (w, eps) = (self.cfg.d_model, self.cfg.layer_norm_eps);
        match self.cfg.bias {
            true => LayerNorm::new(w, eps, self.dtype, &self.device),
            false => LayerNorm::no_bias(w, eps, self.dtype, &self.device),
        }
    }

    pub(super) fn linear(&mut self, inputs: usize, outputs: usize) -> Result<Linear> {
        Linear::with_bias(self.g, inputs, outputs, self.cfg.bias, self.dtype, &self.device)
    }

    pub(super) fn attention(&mut self) -> Result<MultiheadAttention> {
        let seed = self.seed();
        MultiheadAttention::new(self.g, self.cfg.attention(), seed, self.dtype, &self.device)
    }
}

pub(super) fn feed_forward(
    cfg: &TransformerConfig,
    linear1: &Linear,
    dropout: &Dropout,
    linear2: &Linear,
    x: &Var,
) -> Result<Var> {
    let h = linear1.forward(x)?;
    let h = match cfg.activation {
        FeedForwardActivation::Relu => h.relu()?,
        FeedForwardActivation::Gelu => h.gelu()?,
    };
    linear2.forward(&dropout.forward(&h)?)
}

pub(super) fn check_config(cfg: &TransformerConfig) -> Result<()> {
    if cfg.nhead == 0 || !cfg.d_model.is_multiple_of(cfg.nhead) {
        return Err(Error::Config(format!(
            "transformer layer: {} heads do not divide d_model {}",
            cfg.nhead, cfg.d_model
        )));
    }
    Ok(())
}

/// Self-attention and a feed-forward, each with a residual connection and a LayerNorm, as
/// PyTorch's `TransformerEncoderLayer`: parameters `self_attn.*`, `linear1.*`, `linear2.*`,
/// `norm1.*`, `norm2.*`.
///
/// ```
/// use tessera_autograd::Var;
/// use tessera_nn::{Module, TransformerConfig, TransformerEncoderLayer};
/// use tessera_tensor::{DType, Device, Generator, Tensor};
/// let mut g = Generator::new(0);
/// let cfg = TransformerConfig { dim_feedforward: 32, batch_first: true, ..TransformerConfig::new(16, 4) };
/// let layer = TransformerEncoderLayer::new(&mut g, cfg, DType::F32, &Device::Cpu)?;
/// let x = Var::constant(Tensor::randn(&mut g, [2, 5, 16], DType::F32, &Device::Cpu)?);
/// assert_eq!(layer.forward(&x)?.dims(), [2, 5, 16]);
/// # Ok::<(), tessera_nn::Error>(())
/// ```
#[derive(Module)]
pub struct TransformerEncoderLayer {
    self_attn: MultiheadAttention,
    linear1: Linear,
    dropout: Dropout,
    linear2: Linear,
    norm1: LayerNorm,
    norm2: LayerNorm,
    dropout1: Dropout,
    dropout2: Dropout,
    #[module(skip)]
    cfg: TransformerConfig,
}

impl TransformerEncoderLayer {
    /// A layer initialised as PyTorch's (dropout masks seeded from `g`).
    pub fn new(g: &mut Generator, cfg: TransformerConfig, dtype: DType, device: &Device) -> Result<Self> {
        check_config(&cfg)?;
        let mut p = Parts { g, cfg, dtype, device: *device };
        Ok(TransformerEncoderLayer {
            self_attn: p.attention()?,
            linear1: p.linear(cfg.d_model, cfg.dim_feedforward)?,
            dropout: p.dropout()?,
            linear2: p.linear(cfg.dim_feedforward, cfg.d_model)?,
            norm1: p.norm()?,
            norm2: p.norm()?,
            dropout1: p.dropout()?,
            dropout2: p.dropout()?,
            cfg,
        })
    }

    /// The layer over `src` with a mask on its self-attention (PyTorch's
    /// `src_key_padding_mask` and `is_causal`).
    pub fn encode(&self, src: &Var, mask: AttentionMask<'_>) -> Result<Var> {
        let sa = |x: &Var| self.dropout1.forward(&self.self_attn.attend(x, x, x, mask)?);
        let ff =
            |x: &Var| self.dropout2.forward(&feed_forward(&self.cfg, &self.linear1, &self.dropout, &self.linear2, x)?);
        if self.cfg.norm_first {
            let x = src.add(&sa(&self.norm1.forward(src)?)?)?;
            Ok(x.add(&ff(&self.norm2.forward(&x)?)?)?)
        } else {
            let x = self.norm1.forward(&src.add(&sa(src)?)?)?;
            self.norm2.forward(&x.add(&ff(&x)?)?)
        }
    }
}

impl Module for TransformerEncoderLayer {
    /// The layer over `x` without a mask.
    fn forward(&self, x: &Var) -> Result<Var> {
        self.encode(x, AttentionMask::default())
    }

    fn describe(&self) -> String {
        format!("TransformerEncoderLayer(d_model={}, nhead={})", self.cfg.d_model, self.cfg.nhead)
    }
}
