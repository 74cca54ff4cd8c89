//! The fused LSTM cell against the same step written with unfused tensor ops (what the LSTM layer
//! ran per time step before): batch 32, hidden 256, f32, gates `[32, 1024]`, the input gates a
//! step view of a `[8, 32, 1024]` projection. On the calling thread (32K gate elements are below
//! the threading threshold, as for every op of the unfused version).
//!
//! ```text
//! CARGO_TARGET_DIR=... cargo bench -p tessera-tensor --bench lstm_cell
//! ```

use criterion::{criterion_group, criterion_main, Criterion};
use std::hint::black_box;
use std::time::Duration;
use tessera_tensor::{DType, Device, Generator, Result, Tensor};

const BATCH: usize = 32;
const HIDDEN: usize = 256;

fn unfused_forward(x: &Tensor, h: &Tensor, c_prev: &Tensor) -> Result<(Tensor, Tensor, [Tensor; 4], Tensor)> {
    let hs = HIDDEN;
    let pre = x.add(h)?;
    let i = pre.narrow(1, 0, hs)?.sigmoid()?;
    let f = pre.narrow(1, hs, hs)?.sigmoid()?;
    let g = pre.narrow(1, 2 * hs, hs)?.tanh()?;
    let o = pre.narrow(1, 3 * hs, hs)?.sigmoid()?;
    let c = f.mul(c_prev)?.add(&i.mul(&g)?)?;
    let tc = c.tanh()?;
    let h = o.mul(&tc)?;
    Ok((h, c, [i, f, g, o], tc))
}

fn sigmoid_grad(s: &Tensor) -> Result<Tensor> {
    s.mul(&s.affine(-1.0, 1.0)?)
}

fn unfused_backward(
    [i, f, g, o]: &[Tensor; 4],
    tc: &Tensor,
    c_prev: &Tensor,
    dh: &Tensor,
    dc: &Tensor,
) -> Result<(Tensor, Tensor)> {
    let d_o = dh.mul(tc)?.mul(&sigmoid_grad(o)?)?;
    let dc = dc.add(&dh.mul(o)?.mul(&tc.square()?.affine(-1.0, 1.0)?)?)?;
    let d_i = dc.mul(g)?.mul(&sigmoid_grad(i)?)?;
    let d_g = dc.mul(i)?.mul(&g.square()?.affine(-1.0, 1.0)?)?;
    let d_f = dc.mul(c_prev)?.mul(&sigmoid_grad(f)?)?;
    Ok((Tensor::cat(&[d_i, d_f, d_g, d_o], 1)?, dc.mul(f)?))
}

fn lstm_cell(c: &mut Criterion) {
    let dev = Device::Cpu;
    let mut gen = Generator::new(7);
    let mut randn = |dims: &[usize]| Tensor::randn(&mut gen, dims.to_vec(), DType::F32, &dev).unwrap();
    let proj = randn(&[8, BATCH, 4 * HIDDEN]);
    let x = proj.narrow(0, 3, 1).unwrap().squeeze(0).unwrap();
    let hg = randn(&[BATCH, 4 * HIDDEN]);
    let c_prev = randn(&[BATCH, HIDDEN]);
    let grad = randn(&[BATCH, 2 * HIDDEN]);
    let (dh, dc) = (grad.narrow(1, 0, HIDDEN).unwrap(), grad.narrow(1, HIDDEN, HIDDEN).unwrap());

    let mut group = c.benchmark_group("lstm_cell_b32_h256_f32");
    group.warm_up_time(Duration::from_millis(500)).measurement_time(Duration::from_secs(3)).sample_size(50);
    group.bench_function("fused_forward", |b| b.iter(|| Tensor::lstm_cell(&x, &hg, &c_prev).unwrap()));
    group.bench_function("unfused_forward", |b| b.iter(|| unfused_forward(&x, &hg, &c_prev).unwrap()));
    let (_, c1, acts) = Tensor::lstm_cell(&x, &hg, &c_prev).unwrap();
    group.bench_function("fused_backward", |b| {
        b.iter(|| Tensor::lstm_cell_backward(&acts, &c_prev, &c1, &dh, &dc).unwrap())
    });
    let (_, _, gates, tc) = unfused_forward(&x, &hg, &c_prev).unwrap();
    group.bench_function("unfused_backward", |b| b.iter(|| unfused_backward(&gates, &tc, &c_prev, &dh, &dc).unwrap()));
    group.bench_function("fused_forward_backward", |b| {
        b.iter(|| {
            let (h, c1, acts) = Tensor::lstm_cell(&x, &hg, &c_prev).unwrap();
            black_box(h);
            Tensor::lstm_cell_backward(&acts, &c_prev, &c1, &dh, &dc).unwrap()
        })
    });
    group.bench_function("unfused_forward_backward", |b| {
        b.iter(|| {
            let (h, _, gates, tc) = unfused_forward(&x, &hg, &c_prev).unwrap();
            black_box(h);
            unfused_backward(&gates, &tc, &c_prev, &dh, &dc).unwrap()
        })
    });
    group.finish();
}

criterion_group!(benches, lstm_cell);
criterion_main!(benches);
