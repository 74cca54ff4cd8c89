//! `Transformer`, PyTorch's `nn.Transformer`: an encoder stack and a decoder stack.

use super::attention::AttentionMask;
use super::decoder_layer::DecoderMasks;
use super::transformer::TransformerConfig;
use super::transformer_stack::{TransformerDecoder, TransformerEncoder};
use crate::{init, Module, Result};
use tessera_autograd::Var;
use tessera_tensor::{DType, Device, Generator};

/// What a [`Transformer`] hides, as PyTorch's `nn.Transformer.forward` masks.
#[derive(Debug, Clone, Copy, Default)]
pub struct TransformerMasks<'a> {
    /// The encoder's self-attention (`src_key_padding_mask`, `src_is_causal`).
    pub src: AttentionMask<'a>,
    /// The decoder's self-attention (`tgt_key_padding_mask`, `tgt_is_causal`).
    pub tgt: AttentionMask<'a>,
    /// The decoder's attention over the encoder's output (`memory_key_padding_mask`, usually the
    /// source's padding).
    pub memory: AttentionMask<'a>,
}

/// PyTorch's `nn.Transformer`: a [`TransformerEncoder`] and a [`TransformerDecoder`], each with
/// its final LayerNorm, parameters `encoder.layers.N.*`, `encoder.norm.*`, `decoder.layers.N.*`,
/// `decoder.norm.*`. As PyTorch's `_reset_parameters`, every parameter of two or more dims is
/// drawn xavier-uniform. Layouts follow `cfg.batch_first`.
///
/// ```
/// use tessera_autograd::Var;
/// use tessera_nn::{AttentionMask, Transformer, TransformerConfig, TransformerMasks};
/// use tessera_tensor::{DType, Device, Generator, Tensor};
/// let (mut g, cpu) = (Generator::new(0), Device::Cpu);
/// let cfg = TransformerConfig { dim_feedforward: 32, dropout: 0.0, batch_first: true, ..TransformerConfig::new(16, 2) };
/// let model = Transformer::new(&mut g, cfg, 2, 2, DType::F32, &cpu)?;
/// let src = Var::constant(Tensor::randn(&mut g, [2, 5, 16], DType::F32, &cpu)?);
/// let tgt = Var::constant(Tensor::randn(&mut g, [2, 3, 16], DType::F32, &cpu)?);
/// // The second source is one position shorter: its last position is padding.
/// let pad = Tensor::from_vec(vec![0u8, 0, 0, 0, 0, 0, 0, 0, 0, 1], [2, 5], &cpu)?;
/// let padded = AttentionMask { key_padding: Some(&pad), causal: false };
/// let masks = TransformerMasks { src: padded, tgt: AttentionMask { key_padding: None, causal: true }, memory: padded };
/// let out = model.forward_masked(&src, &tgt, masks)?;
/// assert_eq!(out.dims(), [2, 3, 16]);
///
/// // Step by step: the memory once, then one target position at a time.
/// let memory = model.encoder().encode(&src, padded)?;
/// let mut cache = model.decoder().start(&memory)?;
/// for t in 0..3 {
///     let last = model.decoder().decode_step(&tgt.narrow(1, t, 1)?, &mut cache, padded)?;
///     assert_eq!(last.dims(), [2, 1, 16]);
/// }
/// assert_eq!(cache.len(), 3);
/// # Ok::<(), tessera_nn::Error>(())
/// ```
#[derive(Module)]
pub struct Transformer {
    encoder: TransformerEncoder,
    decoder: TransformerDecoder,
}

impl Transformer {
    /// `num_encoder_layers` encoder layers and `num_decoder_layers` decoder layers initialised
    /// as PyTorch's `nn.Transformer`.
    pub fn new(
        g: &mut Generator,
        cfg: TransformerConfig,
        num_encoder_layers: usize,
        num_decoder_layers: usize,
        dtype: DType,
        device: &Device,
    ) -> Result<Self> {
        let encoder = TransformerEncoder::new(g, cfg, num_encoder_layers, true, dtype, device)?;
        let decoder = TransformerDecoder::new(g, cfg, num_decoder_layers, true, dtype, device)?;
        let model = Transformer { encoder, decoder };
        for (_, p) in model.parameters() {
            if p.rank() >= 2 {
                p.tensor().assign_(&init::xavier_uniform(g, 1.0, p.dims().to_vec(), dtype, device)?)?;
            }
        }
        Ok(model)
    }

    /// The encoder stack.
    pub fn encoder(&self) -> &TransformerEncoder {
        &self.encoder
    }

    /// The decoder stack.
    pub fn decoder(&self) -> &TransformerDecoder {
        &self.decoder
    }

    /// The decoder's output for `tgt` attending to the encoding of `src`, with `masks`
    /// (PyTorch's `nn.Transformer.forward`).
    pub fn forward_masked(&self, src: &Var, tgt: &Var, masks: TransformerMasks<'_>) -> Result<Var> {
        let memory = self.encoder.encode(src, masks.src)?;
        self.decoder.decode(tgt, &memory, DecoderMasks { target: masks.tgt, memory: masks.memory })
    }
}

impl Module for Transformer {
    /// `x` as both source and target, the target causal (a model of one input, for summaries
    /// and shape checks; use [`Transformer::forward_masked`]).
    fn forward(&self, x: &Var) -> Result<Var> {
        let causal = AttentionMask { key_padding: None, causal: true };
        self.forward_masked(x, x, TransformerMasks { tgt: causal, ..TransformerMasks::default() })
    }

    fn describe(&self) -> String {
        format!(
            "Transformer(encoder layers={}, decoder layers={})",
            self.encoder.layers().len(),
            self.decoder.layers().len()
        )
    }
}
