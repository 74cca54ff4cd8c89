//! Gradient checks of the transformer ops: fused attention, LayerNorm, RMSNorm, rotary
//! embeddings and dropout.

use super::draw::{Domain, Draw};
use super::problem::Problem;
use super::OpCheck;
use crate::{Result, Var};
use tessera_tensor::{AttentionSpec, Generator, Tensor};

/// Fused attention over random sizes, views, causality, key padding, scale and dropout (the
/// dropout's random numbers are fixed per case, so the function stays deterministic).
fn attention(d: &mut Draw) -> Result<Problem> {
    let (b, h, sq, d_head, dv) = (d.int(1, 2), d.int(1, 2), d.int(1, 4), d.int(1, 4), d.int(1, 3));
    let causal = d.coin();
    let sk = if causal { sq + d.int(0, 2) } else { d.int(1, 5) };
    let mask = if d.coin() {
        let m: Vec<u8> = (0..b * sk).map(|_| (d.int(0, 3) == 0) as u8).collect();
        Some(Tensor::from_vec(m, [b, sk], &d.device())?)
    } else {
        None
    };
    let scale = if d.coin() { Some(d.uniform(0.2, 1.5)) } else { None };
    let dropout = if d.coin() {
        let mut g = Generator::new(d.int(0, 1000) as u64);
        Some(g.dropout_mask(0.3, b * h * sq * sk)?)
    } else {
        None
    };
    let spec = AttentionSpec { causal, scale, dropout };
    let inputs = vec![
        d.input(&[b, h, sq, d_head], &Domain::ANY),
        d.input(&[b, h, sk, d_head], &Domain::ANY),
        d.input(&[b, h, sk, dv], &Domain::ANY),
    ];
    Ok(Problem::new(inputs, move |v| Var::attention(&v[0], &v[1], &v[2], mask.as_ref(), &spec)))
}

/// LayerNorm or RMSNorm over the last dim of a random input, with or without weight and bias.
fn norm(d: &mut Draw, rms: bool) -> Result<Problem> {
    let mut shape = d.shape(0, 2);
    shape.push(d.int(1, 5));
    let width = shape[shape.len() - 1];
    let (has_w, has_b) = (d.coin(), !rms && d.coin());
    let eps = d.pick(&[1e-5, 0.1]);
    let mut inputs = vec![d.input(&shape, &Domain::ANY)];
    if has_w {
        inputs.push(d.input(&[width], &Domain::ANY));
    }
    if has_b {
        inputs.push(d.input(&[width], &Domain::ANY));
    }
    Ok(Problem::new(inputs, move |v| {
        let w = has_w.then(|| &v[1]);
        if rms {
            v[0].rms_norm(w, eps)
        } else {
            v[0].layer_norm(w, has_b.then(|| &v[1 + has_w as usize]), eps)
        }
    }))
}

/// Rotary embeddings of a random `[..., seq, dim]` input at a random offset.
fn rotary(d: &mut Draw) -> Result<Problem> {
    let mut shape = d.shape(0, 2);
    shape.extend([d.int(1, 4), 2 * d.int(1, 3)]);
    let (offset, base) = (d.int(0, 20), d.pick(&[10.0, 10_000.0]));
    Ok(Problem::new(vec![d.input(&shape, &Domain::ANY)], move |v| v[0].rotary(offset, base)))
}

/// Dropout of a random tensor (any view) with a fixed mask per case, so the function stays
/// deterministic; p = 0 keeps everything.
fn dropout(d: &mut Draw) -> Result<Problem> {
    let shape = d.shape(0, 3);
    let elements = shape.iter().product();
    let p = d.pick(&[0.0, 0.3, 0.7]);
    let mask = Generator::new(d.int(0, 1000) as u64).dropout_mask(p, elements)?;
    Ok(Problem::new(vec![d.input(&shape, &Domain::ANY)], move |v| v[0].dropout(&mask)))
}

/// The checks of this file.
pub(super) fn checks() -> Vec<OpCheck> {
    vec![
        OpCheck::new("attention", attention),
        OpCheck::new("layer_norm", |d| norm(d, false)),
        OpCheck::new("rms_norm", |d| norm(d, true)),
        OpCheck::new("rotary", rotary),
        OpCheck::new("dropout", dropout),
    ]
}
