//! The transformer stacks: `Transformer` against PyTorch's `nn.Transformer` (outputs and every
//! gradient, `fixtures/make_transformer_stack_fixtures.py` made
//! `fixtures/transformer_stack.safetensors`, float64), and KV-cached decoding against decoding
//! the whole prefix.

use tessera_autograd::Var;
use tessera_nn::*;
use tessera_tensor::{DType, Device, Generator, Tensor};

mod common;
use common::Fixtures;

const CPU: Device = Device::Cpu;

fn config(norm_first: bool, batch_first: bool) -> TransformerConfig {
    TransformerConfig { dim_feedforward: 32, dropout: 0.0, batch_first, norm_first, ..TransformerConfig::new(16, 2) }
}

fn randn(g: &mut Generator, dims: &[usize]) -> Var {
    Var::constant(Tensor::randn(g, dims.to_vec(), DType::F32, &CPU).unwrap())
}

/// Non-trivial biases and norm weights (they start at 0 and 1).
fn perturb(g: &mut Generator, m: &dyn Module) {
    for (name, p) in m.parameters() {
        if p.rank() == 1 {
            let shift = if name.contains("norm") && name.ends_with("weight") { 1.0 } else { 0.0 };
            let t = Tensor::randn(g, p.dims().to_vec(), p.dtype(), &CPU).unwrap().scale(0.3).unwrap();
            p.tensor().assign_(&t.add_scalar(shift).unwrap()).unwrap();
        }
    }
}

/// Largest `|a - b|`, and the largest `|a - b| / max|b|`.
fn errors(a: &Tensor, b: &Tensor) -> (f64, f64) {
    assert_eq!(a.dims(), b.dims());
    let (a, b) = (a.to_vec_f64().unwrap(), b.to_vec_f64().unwrap());
    let scale = b.iter().fold(0f64, |m, x| m.max(x.abs())).max(f64::MIN_POSITIVE);
    let abs = a.iter().zip(&b).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
    (abs, abs / scale)
}

fn assert_close(what: &str, got: &Tensor, want: &Tensor, atol: f64) {
    let (abs, _) = errors(got, want);
    assert!(abs <= atol, "{what}: max |diff| {abs:e} > {atol:e}");
}

fn padding(rows: &[&[u8]]) -> Tensor {
    let flat: Vec<u8> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    Tensor::from_vec(flat, [rows.len(), rows[0].len()], &CPU).unwrap()
}

fn causal() -> AttentionMask<'static> {
    AttentionMask { key_padding: None, causal: true }
}

fn padded(p: &Tensor) -> AttentionMask<'_> {
    AttentionMask { key_padding: Some(p), causal: false }
}

#[test]
fn transformer_matches_pytorch_both_norm_orders() {
    let f = Fixtures::load("transformer_stack.safetensors");
    for (case, norm_first) in [("post", false), ("pre", true)] {
        let model = Transformer::new(&mut Generator::new(0), config(norm_first, true), 2, 2, DType::F64, &CPU).unwrap();
        // Same names as PyTorch's state dict, none missing, none extra.
        f.load_params(case, &model);
        let (src, tgt, pad) = (f.input(case, 0), f.input(case, 1), f.get(&format!("{case}.mask.0")));
        let masks = TransformerMasks { src: padded(&pad), tgt: causal(), memory: padded(&pad) };
        let out = model.forward_masked(&src, &tgt, masks).unwrap();
        f.check(case, &out, &model.parameters(), &[src, tgt]);
    }
}

#[test]
fn transformer_in_f32_matches_pytorch_to_single_precision() {
    let f = Fixtures::load("transformer_stack.safetensors");
    let f32 = |t: Tensor| t.to_dtype(DType::F32).unwrap();
    for (case, norm_first) in [("post", false), ("pre", true)] {
        let model = Transformer::new(&mut Generator::new(0), config(norm_first, true), 2, 2, DType::F32, &CPU).unwrap();
        for (n, p) in model.parameters() {
            p.tensor().assign_(&f32(f.get(&format!("{case}.param.{n}")))).unwrap();
        }
        let src = Var::constant(f32(f.get(&format!("{case}.in.0"))));
        let tgt = Var::constant(f32(f.get(&format!("{case}.in.1"))));
        let pad = f.get(&format!("{case}.mask.0"));
        let masks = TransformerMasks { src: padded(&pad), tgt: causal(), memory: padded(&pad) };
        let out = model.forward_masked(&src, &tgt, masks).unwrap();
        let (abs, rel) = errors(out.tensor(), &f.get(&format!("{case}.out")));
        assert!(rel < 1e-5, "{case} output: max |diff| {abs:e}, relative to the largest {rel:e}");
        out.mul(&Var::constant(f32(f.get(&format!("{case}.w"))))).unwrap().sum_all().unwrap().backward().unwrap();
        for (n, p) in model.parameters() {
            let (abs, rel) = errors(&p.grad().unwrap(), &f.get(&format!("{case}.grad.param.{n}")));
            assert!(rel < 1e-5, "{case} grad {n}: max |diff| {abs:e}, relative to the largest {rel:e}");
        }
    }
}

#[test]
fn transformer_names_and_initialisation_follow_pytorch() {
    let model = Transformer::new(&mut Generator::new(3), config(false, true), 2, 2, DType::F32, &CPU).unwrap();
    // nn.Transformer(16, 2, 2, 2, 32): 2 · 2224 + 2 · 3344 + 2 · 32.
    assert_eq!(model.parameter_count(), 11200);
    let names: Vec<String> = model.parameters().into_iter().map(|(n, _)| n).collect();
    assert!(names.contains(&"encoder.norm.weight".to_string()) && names.contains(&"decoder.norm.bias".to_string()));
    assert_eq!(names[0], "encoder.layers.0.self_attn.in_proj_weight");
    // linear1.weight [32, 16] is re-drawn xavier-uniform (bound sqrt(6 / 48) ≈ 0.354), wider
    // than Linear's own default (bound 1 / sqrt(16) = 0.25).
    let w = model.parameters().into_iter().find(|(n, _)| n == "decoder.layers.1.linear1.weight").unwrap().1;
    let max = w.to_vec_f64().unwrap().iter().fold(0f64, |m, x| m.max(x.abs()));
    assert!(max > 0.25 && max <= (6.0f64 / 48.0).sqrt(), "{max}");
    assert!(matches!(
        Transformer::new(&mut Generator::new(0), config(false, true), 0, 2, DType::F32, &CPU),
        Err(Error::Config(_))
    ));
}

/// `decode_step` over chunks of `chunk` positions, joined on the sequence dim `seq_dim`.
fn decode_in_steps(
    dec: &TransformerDecoder,
    tgt: &Var,
    memory: &Var,
    mask: AttentionMask,
    chunk: usize,
    seq_dim: usize,
) -> Var {
    let len = tgt.dims()[seq_dim];
    let mut cache = dec.start(memory).unwrap();
    let mut outs = Vec::new();
    for start in (0..len).step_by(chunk) {
        let n = chunk.min(len - start);
        outs.push(dec.decode_step(&tgt.narrow(seq_dim as isize, start, n).unwrap(), &mut cache, mask).unwrap());
        assert_eq!(cache.len(), start + n);
    }
    Var::cat(&outs, seq_dim as isize).unwrap()
}

#[test]
fn decode_step_equals_decoding_the_whole_prefix() {
    let mut g = Generator::new(7);
    let pad = padding(&[&[0, 0, 0, 0, 1, 1], &[0, 0, 0, 0, 0, 0]]);
    for norm_first in [false, true] {
        for batch_first in [true, false] {
            let dec =
                TransformerDecoder::new(&mut g, config(norm_first, batch_first), 2, true, DType::F32, &CPU).unwrap();
            perturb(&mut g, &dec);
            let (tgt, memory) = match batch_first {
                true => (randn(&mut g, &[2, 5, 16]), randn(&mut g, &[2, 6, 16])),
                false => (randn(&mut g, &[5, 2, 16]), randn(&mut g, &[6, 2, 16])),
            };
            for mask in [AttentionMask::default(), padded(&pad)] {
                let whole = dec.decode(&tgt, &memory, DecoderMasks { target: causal(), memory: mask }).unwrap();
                for chunk in [1, 2] {
                    let steps = decode_in_steps(&dec, &tgt, &memory, mask, chunk, batch_first as usize);
                    let what = format!("norm_first {norm_first}, batch_first {batch_first}, chunk {chunk}");
                    assert_close(&what, steps.tensor(), whole.tensor(), 1e-5);
                }
            }
        }
    }
}

#[test]
fn select_rows_reorders_the_cache_as_index_select() {
    let mut g = Generator::new(8);
    let dec = TransformerDecoder::new(&mut g, config(true, true), 2, true, DType::F32, &CPU).unwrap();
    perturb(&mut g, &dec);
    let (tgt, memory) = (randn(&mut g, &[2, 4, 16]), randn(&mut g, &[2, 6, 16]));
    let pad = padding(&[&[0, 0, 0, 1, 1, 1], &[0, 0, 0, 0, 0, 0]]);
    let mut cache = dec.start(&memory).unwrap();
    dec.decode_step(&tgt.narrow(1, 0, 3).unwrap(), &mut cache, padded(&pad)).unwrap();

    let rows = Tensor::from_vec(vec![1i64, 0, 1], [3], &CPU).unwrap();
    let mut picked = cache.select_rows(&rows).unwrap();
    assert_eq!(picked.len(), 3);
    for (a, b) in cache.layers.iter().zip(&picked.layers) {
        let (a_kv, b_kv) = (a.self_kv.as_ref().unwrap(), b.self_kv.as_ref().unwrap());
        assert_close("keys", b_kv.keys.tensor(), &a_kv.keys.tensor().index_select(0, &rows).unwrap(), 0.0);
        assert_close("values", b_kv.values.tensor(), &a_kv.values.tensor().index_select(0, &rows).unwrap(), 0.0);
        assert_close(
            "memory",
            b.memory_kv.keys.tensor(),
            &a.memory_kv.keys.tensor().index_select(0, &rows).unwrap(),
            0.0,
        );
    }
    // The next step from the reordered cache is the reordered next step.
    let last = tgt.narrow(1, 3, 1).unwrap();
    let next = dec.decode_step(&last, &mut cache, padded(&pad)).unwrap();
    let (last_rows, pad_rows) = (last.index_select(0, &rows).unwrap(), pad.index_select(0, &rows).unwrap());
    let picked_next = dec.decode_step(&last_rows, &mut picked, padded(&pad_rows)).unwrap();
    assert_close("next step", picked_next.tensor(), &next.tensor().index_select(0, &rows).unwrap(), 1e-6);
}

#[test]
fn decode_with_weights_returns_decode_and_normalised_cross_attention_weights() {
    let mut g = Generator::new(9);
    let dec = TransformerDecoder::new(&mut g, config(false, true), 2, true, DType::F32, &CPU).unwrap();
    perturb(&mut g, &dec);
    let (tgt, memory) = (randn(&mut g, &[2, 3, 16]), randn(&mut g, &[2, 5, 16]));
    let pad = padding(&[&[0, 0, 0, 1, 1], &[0, 0, 0, 0, 0]]);
    let masks = DecoderMasks { target: causal(), memory: padded(&pad) };
    let (out, weights) = dec.decode_with_weights(&tgt, &memory, masks).unwrap();
    assert_close("output", out.tensor(), dec.decode(&tgt, &memory, masks).unwrap().tensor(), 0.0);
    assert_eq!(weights.len(), 2);
    let pad_flags = pad.to_vec::<u8>().unwrap();
    for w in &weights {
        assert_eq!(w.dims(), [2, 2, 3, 5]);
        let w = w.to_vec_f64().unwrap();
        for (r, row) in w.chunks(5).enumerate() {
            let b = r / (2 * 3);
            assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-6, "row {r} sums to {}", row.iter().sum::<f64>());
            for (j, x) in row.iter().enumerate() {
                assert!(pad_flags[b * 5 + j] == 0 || *x == 0.0, "row {r} weighs padded key {j}: {x}");
            }
        }
    }
}

#[test]
fn key_values_path_equals_attend_and_appends_positions() {
    let mut g = Generator::new(10);
    for batch_first in [true, false] {
        let cfg = AttentionConfig { batch_first, ..AttentionConfig::new(8, 2) };
        let mha = MultiheadAttention::new(&mut g, cfg, 0, DType::F32, &CPU).unwrap();
        perturb(&mut g, &mha);
        let (seq_dim, q_dims, kv_dims) = match batch_first {
            true => (1, [2, 3, 8], [2, 5, 8]),
            false => (0, [3, 2, 8], [5, 2, 8]),
        };
        let (q, k, v) = (randn(&mut g, &q_dims), randn(&mut g, &kv_dims), randn(&mut g, &kv_dims));
        let pad = padding(&[&[0, 0, 0, 0, 1], &[0, 0, 0, 0, 0]]);
        let mask = AttentionMask { key_padding: Some(&pad), causal: true };
        let want = mha.attend(&q, &k, &v, mask).unwrap();
        let kv = mha.key_values(&k, &v).unwrap();
        assert_eq!((kv.len(), kv.keys.dims()), (5, &[2, 2, 5, 4][..]));
        assert_close("attend_key_values", mha.attend_key_values(&q, &kv, mask).unwrap().tensor(), want.tensor(), 0.0);
        // Positions projected in two pieces and appended: the same keys and values.
        let part = |x: &Var, s: usize, n: usize| x.narrow(seq_dim as isize, s, n).unwrap();
        let first = mha.key_values(&part(&k, 0, 2), &part(&v, 0, 2)).unwrap();
        let joined = first.append(&mha.key_values(&part(&k, 2, 3), &part(&v, 2, 3)).unwrap()).unwrap();
        assert_eq!(joined.len(), 5);
        assert_close("appended", mha.attend_key_values(&q, &joined, mask).unwrap().tensor(), want.tensor(), 1e-6);
        // The join is recorded: gradients reach the projections through it.
        mha.attend_key_values(&q, &joined, mask).unwrap().sum_all().unwrap().backward().unwrap();
        assert!(mha.parameters().iter().all(|(_, p)| p.grad().is_some()));
    }
}

#[test]
fn bad_shapes_and_caches_are_errors() {
    let mut g = Generator::new(11);
    let cfg = AttentionConfig { batch_first: true, ..AttentionConfig::new(8, 2) };
    let mha = MultiheadAttention::new(&mut g, cfg, 0, DType::F32, &CPU).unwrap();
    let kv = mha.key_values(&randn(&mut g, &[3, 4, 8]), &randn(&mut g, &[3, 4, 8])).unwrap();
    let err = mha.attend_key_values(&randn(&mut g, &[2, 1, 8]), &kv, AttentionMask::default());
    assert!(matches!(err, Err(Error::BadInput { .. })), "batch 2 queries over batch 3 keys");
    assert!(matches!(
        mha.key_values(&randn(&mut g, &[2, 4, 6]), &randn(&mut g, &[2, 4, 8])),
        Err(Error::BadInput { .. })
    ));

    let dec = TransformerDecoder::new(&mut g, config(false, true), 2, true, DType::F32, &CPU).unwrap();
    let memory = randn(&mut g, &[2, 5, 16]);
    let mut cache = dec.start(&memory).unwrap();
    let tgt = randn(&mut g, &[2, 1, 16]);
    let causal_memory = AttentionMask { key_padding: None, causal: true };
    assert!(matches!(dec.decode_step(&tgt, &mut cache, causal_memory), Err(Error::Config(_))));
    assert!(dec.decode_step(&randn(&mut g, &[2, 1, 12]), &mut cache, AttentionMask::default()).is_err());
    assert!(dec.decode_step(&randn(&mut g, &[3, 1, 16]), &mut cache, AttentionMask::default()).is_err());
    assert!(cache.is_empty(), "failed steps leave the cache as it was");
    let mut short = DecoderCache { layers: cache.layers[..1].to_vec() };
    assert!(matches!(dec.decode_step(&tgt, &mut short, AttentionMask::default()), Err(Error::Config(_))));
    let out_of_range = Tensor::from_vec(vec![0i64, 2], [2], &CPU).unwrap();
    assert!(cache.select_rows(&out_of_range).is_err());
}
