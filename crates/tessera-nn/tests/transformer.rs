//! Attention and transformer layers against naive references written from PyTorch's formulas
//! with plain tensor ops (the scores matrix materialised, softmax, the sums of the residuals).

use tessera_autograd::Var;
use tessera_nn::*;
use tessera_tensor::{DType, Device, Generator, Tensor};

const CPU: Device = Device::Cpu;

fn param(m: &dyn Module, name: &str) -> Tensor {
    m.parameters()
        .into_iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no parameter {name}"))
        .1
        .tensor()
        .clone()
}

fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    assert_eq!(a.dims(), b.dims());
    a.to_vec_f64().unwrap().iter().zip(b.to_vec_f64().unwrap()).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max)
}

/// PyTorch's multi-head attention written out on `[batch, seq, E]` inputs: the scores
/// materialised, hidden positions at -inf, softmax over the keys.
fn naive_mha(m: &MultiheadAttention, q: &Tensor, kv: &Tensor, padding: Option<&Tensor>, causal: bool) -> Tensor {
    let e = m.config().embed_dim;
    let h = m.config().num_heads;
    let (w, b) = (param(m, "in_proj_weight"), param(m, "in_proj_bias"));
    let proj = |x: &Tensor, i: usize| {
        let y = x
            .matmul(&w.narrow(0, i * e, e).unwrap().t().unwrap())
            .unwrap()
            .add(&b.narrow(0, i * e, e).unwrap())
            .unwrap();
        let (bs, s) = (y.dims()[0], y.dims()[1]);
        y.reshape([bs, s, h, e / h]).unwrap().permute(&[0, 2, 1, 3]).unwrap()
    };
    let (qh, kh, vh) = (proj(q, 0), proj(kv, 1), proj(kv, 2));
    let mut scores = qh.matmul(&kh.transpose(-1, -2).unwrap()).unwrap().scale(1.0 / ((e / h) as f64).sqrt()).unwrap();
    let (bs, sq, sk) = (q.dims()[0], q.dims()[1], kv.dims()[1]);
    let mut hidden = vec![0u8; bs * sq * sk];
    for bi in 0..bs {
        let pad = padding.map(|p| p.to_vec::<u8>().unwrap());
        for i in 0..sq {
            for j in 0..sk {
                let padded = pad.as_ref().is_some_and(|p| p[bi * sk + j] != 0);
                hidden[(bi * sq + i) * sk + j] = (padded || (causal && j > i)) as u8;
            }
        }
    }
    let hidden = Tensor::from_vec(hidden, [bs, 1, sq, sk], &CPU).unwrap();
    let neg = Tensor::full(f64::NEG_INFINITY, (), DType::F64, &CPU).unwrap();
    scores = hidden.where_cond(&neg, &scores).unwrap();
    let heads = scores.softmax(-1).unwrap().matmul(&vh).unwrap();
    let merged = heads.permute(&[0, 2, 1, 3]).unwrap().reshape([bs, sq, e]).unwrap();
    merged.matmul(&param(m, "out_proj.weight").t().unwrap()).unwrap().add(&param(m, "out_proj.bias")).unwrap()
}

#[test]
fn multihead_attention_matches_the_formula_with_masks_and_both_layouts() {
    let mut g = Generator::new(1);
    let cfg = AttentionConfig { batch_first: true, ..AttentionConfig::new(12, 3) };
    let mha = MultiheadAttention::new(&mut g, cfg, 0, DType::F64, &CPU).unwrap();
    let names: Vec<String> = mha.parameters().into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]);
    randomise_biases(&mha, &mut g);
    let q = Tensor::randn(&mut g, [2, 5, 12], DType::F64, &CPU).unwrap();
    let kv = Tensor::randn(&mut g, [2, 7, 12], DType::F64, &CPU).unwrap();
    let pad = Tensor::from_vec(vec![0u8, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 1, 1], [2, 7], &CPU).unwrap();
    let (vq, vkv) = (Var::constant(q.clone()), Var::constant(kv.clone()));
    let ours = mha.attend(&vq, &vkv, &vkv, AttentionMask { key_padding: Some(&pad), causal: false }).unwrap();
    assert!(max_diff(ours.tensor(), &naive_mha(&mha, &q, &kv, Some(&pad), false)) < 1e-12);
    let x = Var::constant(kv.clone());
    let causal = mha.attend(&x, &x, &x, AttentionMask { key_padding: None, causal: true }).unwrap();
    assert!(max_diff(causal.tensor(), &naive_mha(&mha, &kv, &kv, None, true)) < 1e-12);

    // The same layer in PyTorch's default [seq, batch, E] layout gives the transposed output.
    let seq_first =
        MultiheadAttention::new(&mut Generator::new(1), AttentionConfig::new(12, 3), 0, DType::F64, &CPU).unwrap();
    for ((_, a), (_, b)) in seq_first.parameters().into_iter().zip(mha.parameters()) {
        a.tensor().assign_(b.tensor()).unwrap();
    }
    let t = Var::constant(kv.transpose(0, 1).unwrap().contiguous().unwrap());
    let out = seq_first.forward(&t).unwrap();
    let reference = naive_mha(&mha, &kv, &kv, None, false).transpose(0, 1).unwrap();
    assert!(max_diff(out.tensor(), &reference.contiguous().unwrap()) < 1e-12);
}

/// Self-attention projects its one input in one product (and keys with values in one when they
/// are one value): the output and every gradient equal those of three separate projections.
#[test]
fn projections_packed_in_one_product_have_the_gradients_of_separate_ones() {
    let mut g = Generator::new(3);
    let cfg = AttentionConfig { batch_first: true, ..AttentionConfig::new(12, 3) };
    let mha = MultiheadAttention::new(&mut g, cfg, 0, DType::F64, &CPU).unwrap();
    randomise_biases(&mha, &mut g);
    let (x, memory) = (randn_param(&mut g, &[2, 5, 12]), randn_param(&mut g, &[2, 7, 12]));
    let run = |q: &Var, k: &Var, v: &Var| {
        mha.zero_grad();
        let out = mha.attend(q, k, v, AttentionMask { key_padding: None, causal: q.dims() == k.dims() }).unwrap();
        out.square().unwrap().sum_all().unwrap().backward().unwrap();
        let grads: Vec<Tensor> = mha.parameters().into_iter().map(|(_, p)| p.grad().unwrap()).collect();
        (out.tensor().clone(), grads)
    };
    let copy = |v: &Var| Var::param(v.tensor().clone()).unwrap();
    for (kv, what) in [(&x, "self-attention"), (&memory, "keys and values of one memory")] {
        let (packed, packed_grads) = run(&x, kv, kv);
        let (q, k, v) = (copy(&x), copy(kv), copy(kv));
        let (separate, separate_grads) = run(&q, &k, &v);
        assert!(max_diff(&packed, &separate) < 1e-12, "{what}: outputs");
        for (a, b) in packed_grads.iter().zip(&separate_grads) {
            assert!(max_diff(a, b) < 1e-12, "{what}: parameter gradients");
        }
        let kv_grad = k.grad().unwrap().add(&v.grad().unwrap()).unwrap();
        let x_grad = if kv.id() == x.id() { kv_grad.add(&q.grad().unwrap()).unwrap() } else { q.grad().unwrap() };
        assert!(max_diff(&x.grad().unwrap(), &x_grad) < 1e-12, "{what}: the query's gradient");
        if kv.id() != x.id() {
            assert!(max_diff(&memory.grad().unwrap(), &kv_grad) < 1e-12, "{what}: the memory's gradient");
        }
        x.zero_grad();
        memory.zero_grad();
    }
}

/// PyTorch zeroes the biases; gives them values so that the checks see them.
fn randomise_biases(m: &dyn Module, g: &mut Generator) {
    for (_, p) in m.parameters() {
        if p.rank() == 1 {
            p.tensor().assign_(&Tensor::randn(g, p.dims().to_vec(), DType::F64, &CPU).unwrap()).unwrap();
        }
    }
}

fn randn_param(g: &mut Generator, dims: &[usize]) -> Var {
    Var::param(Tensor::randn(g, dims.to_vec(), DType::F64, &CPU).unwrap()).unwrap()
}

#[test]
fn attention_weights_are_the_head_mean_of_the_softmax() {
    let mut g = Generator::new(2);
    let cfg = AttentionConfig { batch_first: true, ..AttentionConfig::new(8, 2) };
    let mha = MultiheadAttention::new(&mut g, cfg, 0, DType::F64, &CPU).unwrap();
    let x = Var::constant(Tensor::randn(&mut g, [1, 4, 8], DType::F64, &CPU).unwrap());
    let w = mha.attention_weights(&x, &x, AttentionMask { key_padding: None, causal: true }).unwrap();
    let w = w.to_vec_f64().unwrap();
    for i in 0..4 {
        let row = &w[i * 4..][..4];
        assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert!(row[i + 1..].iter().all(|&v| v == 0.0), "row {i} sees the future: {row:?}");
    }
}

#[test]
fn heads_that_do_not_divide_the_width_are_an_error_naming_both() {
    let err = MultiheadAttention::new(&mut Generator::new(0), AttentionConfig::new(10, 3), 0, DType::F32, &CPU);
    let msg = err.err().unwrap().to_string();
    assert!(msg.contains('3') && msg.contains("10"), "{msg}");
    let cfg = TransformerConfig::new(10, 4);
    let msg = TransformerEncoderLayer::new(&mut Generator::new(0), cfg, DType::F32, &CPU).err().unwrap().to_string();
    assert!(msg.contains('4') && msg.contains("10"), "{msg}");
}

/// PyTorch's encoder layer written out: post-LN `norm2(x + ff(x))` after `x = norm1(src + sa(src))`,
/// pre-LN `x + ff(norm2(x))` after `x = src + sa(norm1(src))`.
fn naive_encoder(layer: &TransformerEncoderLayer, attn: &MultiheadAttention, src: &Tensor, norm_first: bool) -> Tensor {
    let norm = |x: &Tensor, k: usize| {
        let (w, b) = (param(layer, &format!("norm{k}.weight")), param(layer, &format!("norm{k}.bias")));
        let mean = x.mean(&[-1], true).unwrap();
        let c = x.sub(&mean).unwrap();
        let var = c.square().unwrap().mean(&[-1], true).unwrap();
        c.div(&var.add_scalar(1e-5).unwrap().sqrt().unwrap()).unwrap().mul(&w).unwrap().add(&b).unwrap()
    };
    let linear = |x: &Tensor, k: usize| {
        let w = param(layer, &format!("linear{k}.weight"));
        x.matmul(&w.t().unwrap()).unwrap().add(&param(layer, &format!("linear{k}.bias"))).unwrap()
    };
    let ff = |x: &Tensor| linear(&linear(x, 1).relu().unwrap(), 2);
    let sa = |x: &Tensor| naive_mha(attn, x, x, None, false);
    if norm_first {
        let x = src.add(&sa(&norm(src, 1))).unwrap();
        x.add(&ff(&norm(&x, 2))).unwrap()
    } else {
        let x = norm(&src.add(&sa(src)).unwrap(), 1);
        norm(&x.add(&ff(&x)).unwrap(), 2)
    }
}

#[test]
fn encoder_layer_matches_the_formula_post_and_pre_norm() {
    for norm_first in [false, true] {
        let mut g = Generator::new(3);
        let cfg = TransformerConfig {
            dim_feedforward: 20,
            dropout: 0.0,
            batch_first: true,
            norm_first,
            ..TransformerConfig::new(8, 2)
        };
        let layer = TransformerEncoderLayer::new(&mut g, cfg, DType::F64, &CPU).unwrap();
        for (_, p) in layer.parameters() {
            p.tensor()
                .assign_(&Tensor::randn(&mut g, p.dims().to_vec(), DType::F64, &CPU).unwrap().scale(0.5).unwrap())
                .unwrap();
        }
        let mut names: Vec<String> = layer.parameters().into_iter().map(|(n, _)| n).collect();
        names.sort();
        assert_eq!(names.len(), 12);
        assert!(names.contains(&"self_attn.in_proj_weight".into()) && names.contains(&"norm2.bias".into()));
        // A stand-alone attention layer with the same weights, for the reference.
        let attn = MultiheadAttention::new(
            &mut Generator::new(0),
            AttentionConfig { batch_first: true, ..AttentionConfig::new(8, 2) },
            0,
            DType::F64,
            &CPU,
        )
        .unwrap();
        for (n, p) in attn.parameters() {
            p.tensor().assign_(&param(&layer, &format!("self_attn.{n}"))).unwrap();
        }
        let src = Tensor::randn(&mut g, [2, 6, 8], DType::F64, &CPU).unwrap();
        let ours = layer.forward(&Var::constant(src.clone())).unwrap();
        let d = max_diff(ours.tensor(), &naive_encoder(&layer, &attn, &src, norm_first));
        assert!(d < 1e-10, "norm_first {norm_first}: max difference {d}");
    }
}

#[test]
fn decoder_layer_trains_and_masks_the_future() {
    let mut g = Generator::new(4);
    let cfg = TransformerConfig {
        dim_feedforward: 16,
        dropout: 0.0,
        batch_first: true,
        norm_first: true,
        ..TransformerConfig::new(8, 2)
    };
    let layer = TransformerDecoderLayer::new(&mut g, cfg, DType::F64, &CPU).unwrap();
    assert_eq!(layer.parameters().len(), 18);
    let tgt = Tensor::randn(&mut g, [1, 5, 8], DType::F64, &CPU).unwrap();
    let memory = Var::constant(Tensor::randn(&mut g, [1, 3, 8], DType::F64, &CPU).unwrap());
    let causal = DecoderMasks { target: AttentionMask { key_padding: None, causal: true }, ..DecoderMasks::default() };
    let out = layer.decode(&Var::constant(tgt.clone()), &memory, causal).unwrap();
    // Changing the last target position leaves every earlier output as it was.
    let mut changed = tgt.to_vec::<f64>().unwrap();
    changed[4 * 8..].iter_mut().for_each(|v| *v += 1.0);
    let changed = Tensor::from_vec(changed, [1, 5, 8], &CPU).unwrap();
    let out2 = layer.decode(&Var::constant(changed), &memory, causal).unwrap();
    let (a, b) = (out.tensor().narrow(1, 0, 4).unwrap(), out2.tensor().narrow(1, 0, 4).unwrap());
    assert!(max_diff(&a.contiguous().unwrap(), &b.contiguous().unwrap()) < 1e-12);
    out.sum_all().unwrap().backward().unwrap();
    assert!(layer.parameters().iter().all(|(_, p)| p.grad().is_some()));
}
