//! The fused LSTM cell and recurrence, matmul (with and without bias) and fused attention on the
//! GPU against the CPU.

use crate::common::cuda::*;
use tessera_kernels::ops::registry::{registry, CudaImpl};
use tessera_tensor::{record_dispatches, DType, Device, NormKind, NormParamGrads, Result, Tensor};

pub fn lstm_cell(dev: &Device) -> Result<()> {
    let dev = *dev;
    let (b, h) = (6, 40);
    type Views = fn(&Tensor, &Tensor) -> Result<(Tensor, Tensor)>;
    // (x_gates, h_gates) from a [3, b, 4h] stack and a [4h, b] buffer; (dh, dc) from [b, 2h].
    let gate_views: [(&str, Views); 3] = [
        ("contiguous", |s, _| Ok((s.narrow(0, 0, 1)?.squeeze(0)?, s.narrow(0, 2, 1)?.squeeze(0)?))),
        ("step+transposed", |s, t| Ok((s.narrow(0, 1, 1)?.squeeze(0)?, t.t()?))),
        // Narrowed columns: hidden 39.
        ("narrowed", |s, _| {
            let step = |k| s.narrow(0, k, 1)?.squeeze(0);
            Ok((step(0)?.narrow(1, 4, 4 * 39)?, step(1)?.narrow(1, 0, 4 * 39)?))
        }),
    ];
    for dtype in FLOATS {
        let (cs, gs) = pair(&dev, dtype, &[3, b, 4 * h], 70, -4.0, 4.0)?;
        let (ct, gt) = pair(&dev, dtype, &[4 * h, b], 71, -4.0, 4.0)?;
        let (cc, gc) = pair(&dev, dtype, &[b, h], 72, -3.0, 3.0)?;
        let (cd, gd) = pair(&dev, dtype, &[b, 2 * h], 73, -1.0, 1.0)?;
        for (name, views) in gate_views {
            let run = |s: &Tensor, t: &Tensor, c: &Tensor, d: &Tensor| -> Result<[Tensor; 5]> {
                let (x, hg) = views(s, t)?;
                let hs = x.dims()[1] / 4;
                let c = c.narrow(1, 0, hs)?;
                let (h1, c1, acts) = Tensor::lstm_cell(&x, &hg, &c)?;
                let (dh, dc) = (d.narrow(1, 0, hs)?, d.narrow(1, h, hs)?.t()?.contiguous()?.t()?);
                let (dg, dcp) = Tensor::lstm_cell_backward(&acts, &c, &c1, &dh, &dc)?;
                Ok([h1, c1, acts, dg, dcp])
            };
            let outs = each(run(&cs, &ct, &cc, &cd)).into_iter().zip(each(run(&gs, &gt, &gc, &gd)));
            for (what, (c, g)) in ["h", "c", "acts", "d_gates", "dc_prev"].into_iter().zip(outs) {
                check(&format!("lstm_cell {dtype} {name}: {what}"), dtype, &c, &g);
            }
        }
        // Bad shapes and mixed dtypes: the same errors on both devices.
        let bad = |x: &Tensor, c: &Tensor| Tensor::lstm_cell(x, x, &c.narrow(1, 0, 3)?).map(|r| r.0);
        check(&format!("lstm_cell {dtype} bad c_prev"), dtype, &bad(&ct.t()?, &cc), &bad(&gt.t()?, &gc));
        let other = if dtype == DType::F32 { DType::F64 } else { DType::F32 };
        let mixed = |x: &Tensor, c: &Tensor| Tensor::lstm_cell(x, x, &c.to_dtype(other)?).map(|r| r.0);
        check(&format!("lstm_cell {dtype} mixed dtypes"), dtype, &mixed(&ct.t()?, &cc), &mixed(&gt.t()?, &gc));
    }
    if !dry_run() {
        let (c, g) = pair(&dev, DType::F32, &[2, 8], 74, -1.0, 1.0)?;
        let err = Tensor::lstm_cell(&c, &g, &c.narrow(1, 0, 2)?).map(drop).unwrap_err().to_string();
        assert!(err.contains("lstm_cell: tensors are on different devices"), "{err}");
    }
    Ok(())
}

pub fn matmul(dev: &Device) -> Result<()> {
    let dev = *dev;
    let cases: [(&[usize], &[usize]); 5] = [
        (&[4, 8], &[8, 5]),
        (&[1, 64], &[64, 1]),
        (&[2, 1, 6, 16], &[3, 16, 7]),
        (&[3, 5, 9], &[9, 4]),
        (&[33, 65], &[65, 17]),
    ];
    for dtype in FLOATS {
        let t = match dtype {
            DType::F32 => (1e-4, 1e-5),
            DType::F64 => (1e-10, 1e-10),
            _ => (3e-2, 1e-2),
        };
        for (sa, sb) in cases {
            let (ca, ga) = pair(&dev, dtype, sa, 30, -1.0, 1.0)?;
            let (cb, gb) = pair(&dev, dtype, sb, 31, -1.0, 1.0)?;
            check_tol(&format!("matmul {dtype} {sa:?} {sb:?}"), t, &ca.matmul(&cb), &ga.matmul(&gb));
            // Transposed operands are read in place (op T); expanded ones are copied first.
            let (ct, gt) = (cb.t()?.contiguous()?.t()?, gb.t()?.contiguous()?.t()?);
            check_tol(&format!("matmul {dtype} {sa:?} {sb:?}ᵀᵀ"), t, &ca.matmul(&ct), &ga.matmul(&gt));
        }
        // matmul_bias: a linear layer's x @ wᵀ + b, and a bias of the wrong length.
        let (cx, gx) = pair(&dev, dtype, &[33, 65], 33, -1.0, 1.0)?;
        let (cw, gw) = pair(&dev, dtype, &[17, 65], 34, -1.0, 1.0)?;
        let (cbias, gbias) = pair(&dev, dtype, &[17], 35, -1.0, 1.0)?;
        let lin = |x: &Tensor, w: &Tensor, b: &Tensor| x.matmul_bias(&w.t()?, b);
        check_tol(&format!("matmul_bias {dtype}"), t, &lin(&cx, &cw, &cbias), &lin(&gx, &gw, &gbias));
        let short = |x: &Tensor, w: &Tensor, b: &Tensor| x.matmul_bias(&w.t()?, &b.narrow(0, 0, 16)?);
        check_tol(&format!("matmul_bias {dtype} bad bias"), t, &short(&cx, &cw, &cbias), &short(&gx, &gw, &gbias));
        let (ca, ga) = pair(&dev, dtype, &[6, 5], 32, -1.0, 1.0)?;
        let (ce, ge) = (ca.unsqueeze(0)?.expand([4, 6, 5])?, ga.unsqueeze(0)?.expand([4, 6, 5])?);
        check_tol(&format!("matmul {dtype} expanded"), t, &ce.matmul(&ca.t()?), &ge.matmul(&ga.t()?));
    }
    let (ci, gi) = pair(&dev, DType::I64, &[2, 2], 1, 0.0, 5.0)?;
    check("matmul i64 is an error", DType::I64, &ci.matmul(&ci), &gi.matmul(&gi));
    Ok(())
}

pub fn attention(dev: &Device) -> Result<()> {
    use tessera_tensor::{AttentionSpec, Generator};
    let dev = *dev;
    let (b, h, sq, sk, d) = (2, 3, 37, 70, 40);
    for dtype in FLOATS {
        // q and k from a [b, seq, h, d] projection with the head dim split off (strided views).
        let (cq, gq) = pair(&dev, dtype, &[b, sq, h, d], 90, -1.5, 1.5)?;
        let (ck, gk) = pair(&dev, dtype, &[b, sk, h, d], 91, -1.5, 1.5)?;
        let (cv, gv) = pair(&dev, dtype, &[b, h, sk, 24], 92, -1.0, 1.0)?;
        let (cdo, gdo) = pair(&dev, dtype, &[b, h, sq, 24], 93, -1.0, 1.0)?;
        let mask: Vec<u8> = (0..b * sk).map(|i| (i % 5 == 2) as u8).collect();
        let (cm, gm) = (Tensor::from_vec(mask.clone(), [b, sk], &Device::Cpu)?, Tensor::from_vec(mask, [b, sk], &dev)?);
        for (causal, masked, dropout) in [(false, false, false), (true, true, false), (true, false, true)] {
            let dropout = if dropout { Some(Generator::new(5).dropout_mask(0.2, b * h * sq * sk)?) } else { None };
            let spec = AttentionSpec { causal, scale: None, dropout };
            let run = |q: &Tensor, k: &Tensor, v: &Tensor, m: &Tensor, g: &Tensor| -> Result<[Tensor; 5]> {
                let (q, k) = (q.permute(&[0, 2, 1, 3])?, k.permute(&[0, 2, 1, 3])?);
                let m = masked.then_some(m);
                let (out, lse) = Tensor::attention(&q, &k, v, m, &spec)?;
                let (dq, dk, dv) = Tensor::attention_backward([&q, &k, v], m, [&out, &lse, g], &spec)?;
                Ok([out, lse, dq, dk, dv])
            };
            let outs = each(run(&cq, &ck, &cv, &cm, &cdo)).into_iter().zip(each(run(&gq, &gk, &gv, &gm, &gdo)));
            for (what, (c, g)) in ["out", "lse", "dq", "dk", "dv"].into_iter().zip(outs) {
                let t = match dtype {
                    DType::F32 => (1e-4, 1e-4),
                    _ => tol(dtype),
                };
                check_tol(&format!("attention {dtype} causal {causal} masked {masked}: {what}"), t, &c, &g);
            }
        }
    }
    // Heads of width 0: no query and key dims (every score 0, so the weights are uniform), no
    // value dims (the log-sum-exp alone), or neither (the log-sum-exp counts the keys).
    for (d, dv) in [(0, 5), (4, 0), (0, 0)] {
        let (cq, gq) = pair(&dev, DType::F32, &[1, 2, 6, d], 94, -1.0, 1.0)?;
        let (cv, gv) = pair(&dev, DType::F32, &[1, 2, 6, dv], 95, -1.0, 1.0)?;
        for causal in [false, true] {
            let spec = AttentionSpec { causal, ..Default::default() };
            let run = |q: &Tensor, v: &Tensor| -> Result<[Tensor; 5]> {
                let (out, lse) = Tensor::attention(q, q, v, None, &spec)?;
                let (dq, dk, dv) = Tensor::attention_backward([q, q, v], None, [&out, &lse, &out], &spec)?;
                Ok([out, lse, dq, dk, dv])
            };
            let outs = each(run(&cq, &cv)).into_iter().zip(each(run(&gq, &gv)));
            for (what, (c, g)) in ["out", "lse", "dq", "dk", "dv"].into_iter().zip(outs) {
                check_tol(&format!("attention d {d} dv {dv} causal {causal}: {what}"), (1e-5, 1e-5), &c, &g);
            }
        }
    }
    Ok(())
}

pub fn norms_and_rotary(dev: &Device) -> Result<()> {
    let dev = *dev;
    for dtype in FLOATS {
        let (cx, gx) = pair(&dev, dtype, &[6, 9, 130], 95, -3.0, 3.0)?;
        let (cw, gw) = pair(&dev, dtype, &[130], 96, 0.5, 1.5)?;
        let (cb, gb) = pair(&dev, dtype, &[130], 97, -1.0, 1.0)?;
        let (cdy, gdy) = pair(&dev, dtype, &[6, 9, 130], 98, -1.0, 1.0)?;
        let t = if dtype == DType::F32 { (1e-4, 1e-4) } else { tol(dtype) };
        for rms in [false, true] {
            // RMSNorm has no bias: its last output is the weight's gradient again.
            let run = |x: &Tensor, w: &Tensor, b: &Tensor, dy: &Tensor| -> Result<[Tensor; 5]> {
                let x = x.transpose(0, 1)?;
                let (y, stats) = if rms { x.rms_norm(Some(w), 1e-5)? } else { x.layer_norm(Some(w), Some(b), 1e-5)? };
                let kind = if rms { NormKind::Rms } else { NormKind::Layer };
                let params = NormParamGrads { weight: true, bias: !rms };
                let g = Tensor::norm_backward(kind, &x, Some(w), &dy.transpose(0, 1)?, &stats, params)?;
                let dw = g.weight.expect("asked for");
                Ok([y, stats, g.x, dw.clone(), g.bias.unwrap_or(dw)])
            };
            let outs = each(run(&cx, &cw, &cb, &cdy)).into_iter().zip(each(run(&gx, &gw, &gb, &gdy)));
            for (what, (c, g)) in ["y", "stats", "dx", "dweight", "dbias"].into_iter().zip(outs) {
                check_tol(&format!("{} {dtype}: {what}", if rms { "rms_norm" } else { "layer_norm" }), t, &c, &g);
            }
        }
        let (cr, gr) = pair(&dev, dtype, &[2, 3, 11, 16], 99, -2.0, 2.0)?;
        let (cv, gv) = (cr.transpose(1, 2)?, gr.transpose(1, 2)?);
        check_tol(&format!("rotary {dtype}"), t, &cv.rotary(5, 10_000.0), &gv.rotary(5, 10_000.0));
        check_tol(&format!("rotary_inverse {dtype}"), t, &cv.rotary_inverse(5, 10.0), &gv.rotary_inverse(5, 10.0));
    }
    Ok(())
}

/// The ops the registry says CUDA composes `name` of.
fn composed(name: &str) -> Vec<&'static str> {
    match registry().into_iter().find(|op| op.name == name).map(|op| op.cuda) {
        Some(CudaImpl::Composed(parts)) => parts,
        other => panic!("{name} is registered as {other:?}"),
    }
}

/// The whole recurrence: the CPU's sequence kernels (f32, f64) or its composed steps (f16, bf16)
/// against the steps composed on CUDA, forward and backward, from a zero and a random initial
/// state; on CUDA it dispatches only the ops the registry says it is composed of.
pub fn lstm_sequence(dev: &Device) -> Result<()> {
    let dev = *dev;
    let (steps, b, h) = (3, 5, 24);
    let allowed = [composed("lstm_sequence"), composed("lstm_sequence_backward")].concat();
    for dtype in FLOATS {
        let (cp, gp) = pair(&dev, dtype, &[steps, b, 4 * h], 75, -2.0, 2.0)?;
        let (ch, gh) = pair(&dev, dtype, &[b, h], 76, -1.0, 1.0)?;
        let (cc, gc) = pair(&dev, dtype, &[b, h], 77, -2.0, 2.0)?;
        let (cw, gw) = pair(&dev, dtype, &[4 * h, h], 78, -0.3, 0.3)?;
        let (cg, gg) = pair(&dev, dtype, &[steps + 1, b, h], 79, -1.0, 1.0)?;
        for zero_h0 in [true, false] {
            let (ch, gh) = if zero_h0 { (ch.zeros_like()?, gh.zeros_like()?) } else { (ch.clone(), gh.clone()) };
            let run = |p: &Tensor, h0: &Tensor, c0: &Tensor, w: &Tensor, g: &Tensor| -> Result<[Tensor; 7]> {
                let (out, cells, acts) = Tensor::lstm_sequence(p, h0, c0, w)?;
                let (d, dh0, dc0, dw) = Tensor::lstm_sequence_backward(&out, &cells, &acts, h0, c0, w, g, true)?;
                Ok([out, cells, acts, d, dh0.expect("asked for"), dc0, dw])
            };
            let on_cpu = run(&cp, &ch, &cc, &cw, &cg);
            let (on_gpu, log) = record_dispatches(|| run(&gp, &gh, &gc, &gw, &gg));
            let names = ["out", "cells", "acts", "d_proj", "dh0", "dc0", "d_w_hh"];
            for (what, (c, g)) in names.into_iter().zip(each(on_cpu).into_iter().zip(each(on_gpu))) {
                check(&format!("lstm_sequence {dtype} zero h0 {zero_h0}: {what}"), dtype, &c, &g);
            }
            let named = ["lstm_sequence", "lstm_sequence_backward"];
            let stray: Vec<_> = log.iter().filter(|d| !named.contains(&d.op) && !allowed.contains(&d.op)).collect();
            assert!(stray.is_empty(), "lstm_sequence {dtype} dispatched ops outside its registered parts: {stray:?}");
        }
    }
    Ok(())
}

/// The GRU recurrence as [`lstm_sequence`] checks the LSTM's: the CPU's sequence kernels (f32,
/// f64) or its composed steps (f16, bf16) against the steps composed on CUDA.
pub fn gru_sequence(dev: &Device) -> Result<()> {
    let dev = *dev;
    let (steps, b, h) = (3, 5, 24);
    let allowed = [composed("gru_sequence"), composed("gru_sequence_backward")].concat();
    for dtype in FLOATS {
        let (cp, gp) = pair(&dev, dtype, &[steps, b, 3 * h], 85, -2.0, 2.0)?;
        let (ch, gh) = pair(&dev, dtype, &[b, h], 86, -1.0, 1.0)?;
        let (cw, gw) = pair(&dev, dtype, &[3 * h, h], 87, -0.3, 0.3)?;
        let (cb, gb) = pair(&dev, dtype, &[3 * h], 88, -0.5, 0.5)?;
        let (cg, gg) = pair(&dev, dtype, &[steps, b, h], 89, -1.0, 1.0)?;
        for zero_h0 in [true, false] {
            let (ch, gh) = if zero_h0 { (ch.zeros_like()?, gh.zeros_like()?) } else { (ch.clone(), gh.clone()) };
            let run = |p: &Tensor, h0: &Tensor, w: &Tensor, bias: &Tensor, g: &Tensor| -> Result<[Tensor; 6]> {
                let (out, acts) = Tensor::gru_sequence(p, h0, w, bias)?;
                let (d, dh0, dw, db) = Tensor::gru_sequence_backward(&out, &acts, h0, w, g, true)?;
                Ok([out, acts, d, dh0.expect("asked for"), dw, db])
            };
            let on_cpu = run(&cp, &ch, &cw, &cb, &cg);
            let (on_gpu, log) = record_dispatches(|| run(&gp, &gh, &gw, &gb, &gg));
            let names = ["out", "acts", "d_proj", "dh0", "d_w_hh", "d_b_hh"];
            for (what, (c, g)) in names.into_iter().zip(each(on_cpu).into_iter().zip(each(on_gpu))) {
                check(&format!("gru_sequence {dtype} zero h0 {zero_h0}: {what}"), dtype, &c, &g);
            }
            let named = ["gru_sequence", "gru_sequence_backward"];
            let stray: Vec<_> = log.iter().filter(|d| !named.contains(&d.op) && !allowed.contains(&d.op)).collect();
            assert!(stray.is_empty(), "gru_sequence {dtype} dispatched ops outside its registered parts: {stray:?}");
        }
    }
    Ok(())
}
