//! Multi-head attention and the transformer layers against PyTorch: outputs and every gradient
//! for PyTorch's weights and inputs, with padding and causal masks, both layouts, pre- and
//! post-LayerNorm, ReLU and GELU (`fixtures/make_transformer_fixtures.py` made
//! `fixtures/transformer.safetensors`, float64).

use tessera_autograd::Var;
use tessera_nn::*;
use tessera_tensor::{DType, Device, Generator, Tensor};

mod common;
use common::Fixtures;

const F64: DType = DType::F64;
const CPU: Device = Device::Cpu;

fn fixtures() -> Fixtures {
    Fixtures::load("transformer.safetensors")
}

fn mask(f: &Fixtures, case: &str) -> Tensor {
    f.get(&format!("{case}.mask.0"))
}

fn layer_config(activation: FeedForwardActivation, norm_first: bool) -> TransformerConfig {
    TransformerConfig {
        dim_feedforward: 16,
        dropout: 0.0,
        activation,
        batch_first: true,
        norm_first,
        ..TransformerConfig::new(8, 2)
    }
}

#[test]
fn cross_attention_with_key_padding_matches_pytorch() {
    let (f, case) = (fixtures(), "mha_cross_padded");
    let cfg = AttentionConfig { batch_first: true, ..AttentionConfig::new(8, 2) };
    let mha = MultiheadAttention::new(&mut Generator::new(0), cfg, 0, F64, &CPU).unwrap();
    f.load_params(case, &mha);
    let (q, k, v) = (f.input(case, 0), f.input(case, 1), f.input(case, 2));
    let padding = mask(&f, case);
    let out = mha.attend(&q, &k, &v, AttentionMask { key_padding: Some(&padding), causal: false }).unwrap();
    f.check(case, &out, &mha.parameters(), &[q, k, v]);
}

#[test]
fn causal_self_attention_sequence_first_matches_pytorch() {
    let (f, case) = (fixtures(), "mha_self_causal");
    let mha = MultiheadAttention::new(&mut Generator::new(0), AttentionConfig::new(8, 4), 0, F64, &CPU).unwrap();
    f.load_params(case, &mha);
    let x = f.input(case, 0);
    let out = mha.attend(&x, &x, &x, AttentionMask { key_padding: None, causal: true }).unwrap();
    f.check(case, &out, &mha.parameters(), &[x]);
}

#[test]
fn encoder_and_decoder_layers_match_pytorch_both_norm_orders_and_activations() {
    let f = fixtures();
    for norm_first in [false, true] {
        for (name, act) in [("relu", FeedForwardActivation::Relu), ("gelu", FeedForwardActivation::Gelu)] {
            let tag = format!("{}_{name}", if norm_first { "pre" } else { "post" });
            let cfg = layer_config(act, norm_first);

            let case = format!("encoder_{tag}");
            let enc = TransformerEncoderLayer::new(&mut Generator::new(0), cfg, F64, &CPU).unwrap();
            f.load_params(&case, &enc);
            let (src, padding) = (f.input(&case, 0), mask(&f, &case));
            let out = enc.encode(&src, AttentionMask { key_padding: Some(&padding), causal: false }).unwrap();
            f.check(&case, &out, &enc.parameters(), &[src]);

            let case = format!("decoder_{tag}");
            let dec = TransformerDecoderLayer::new(&mut Generator::new(0), cfg, F64, &CPU).unwrap();
            f.load_params(&case, &dec);
            let (tgt, memory, padding) = (f.input(&case, 0), f.input(&case, 1), mask(&f, &case));
            let masks = DecoderMasks {
                target: AttentionMask { key_padding: None, causal: true },
                memory: AttentionMask { key_padding: Some(&padding), causal: false },
            };
            let out = dec.decode(&tgt, &memory, masks).unwrap();
            f.check(&case, &out, &dec.parameters(), &[tgt, memory]);
        }
    }
}

#[test]
fn encoder_layer_without_biases_matches_pytorch() {
    let (f, case) = (fixtures(), "encoder_no_bias");
    let cfg =
        TransformerConfig { dim_feedforward: 12, bias: false, ..layer_config(FeedForwardActivation::Relu, false) };
    let enc = TransformerEncoderLayer::new(&mut Generator::new(0), cfg, F64, &CPU).unwrap();
    f.load_params(case, &enc);
    let src: Var = f.input(case, 0);
    let out = enc.encode(&src, AttentionMask { key_padding: None, causal: true }).unwrap();
    f.check(case, &out, &enc.parameters(), &[src]);
}
