//! The op suite run on a CUDA device and compared with the CPU reference (tolerance
//! `atol + rtol * |cpu|`). Every input is built once on the CPU and copied to the GPU, then the
//! same views (transposed, narrowed, expanded) are taken on both devices, so the strided kernel
//! paths are exercised. Without a GPU every test prints `skipped: no CUDA device: ...` and
//! returns: the names all start with `cuda_` so that a run shows what was skipped.

mod common;

use common::UNARY_OPS;
use std::io::Write;
use std::sync::{Mutex, MutexGuard};
use tessera_kernels::cuda::CudaDevice;
use tessera_tensor::{BinaryOp, CmpOp, DType, Device, Generator, ReduceOp, Result, Tensor, UnaryOp};

const FLOATS: [DType; 4] = [DType::F32, DType::F64, DType::F16, DType::BF16];
const INTS: [DType; 3] = [DType::U8, DType::U32, DType::I64];

/// The GPU, held for the whole test: the tests run one at a time so that the pool counters of
/// `cuda_pool_reuses_blocks_across_steps` see only their own allocations.
fn gpu(test: &str) -> Option<(Device, MutexGuard<'static, ()>)> {
    static GPU: Mutex<()> = Mutex::new(());
    if dry_run() {
        return Some((Device::Cpu, GPU.lock().unwrap_or_else(|e| e.into_inner())));
    }
    match Device::cuda(0) {
        Ok(d) => Some((d, GPU.lock().unwrap_or_else(|e| e.into_inner()))),
        Err(e) => {
            // Written to the stderr handle, not with eprintln!, so that libtest's output capture
            // does not hide it: a skipped test must say so.
            let _ = writeln!(std::io::stderr(), "skipped: no CUDA device: {test}: {e}");
            None
        }
    }
}

/// `TESSERA_CUDA_TESTS_DRY_RUN=1` runs the suite with the CPU standing in for the GPU: it checks
/// the tests themselves (views, shapes, expected errors) on a machine without a GPU.
fn dry_run() -> bool {
    std::env::var_os("TESSERA_CUDA_TESTS_DRY_RUN").is_some_and(|v| v == "1")
}

/// (atol, rtol) per dtype: f32 ~1e-5, bf16 8e-3 (one ulp), f16 one ulp.
fn tol(dtype: DType) -> (f64, f64) {
    match dtype {
        DType::F32 => (1e-5, 1e-5),
        DType::F64 => (1e-12, 1e-10),
        DType::F16 => (1e-3, 1e-3),
        DType::BF16 => (8e-3, 8e-3),
        _ => (0.0, 0.0),
    }
}

/// Deterministic values in `[lo, hi)`.
fn values(seed: u64, n: usize, lo: f64, hi: f64) -> Vec<f64> {
    let mut s = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            s ^= s << 13;
            s ^= s >> 7;
            s ^= s << 17;
            lo + (hi - lo) * ((s >> 11) as f64 / (1u64 << 53) as f64)
        })
        .collect()
}

/// The same values on the CPU and on the GPU.
fn pair(dev: &Device, dtype: DType, dims: &[usize], seed: u64, lo: f64, hi: f64) -> Result<(Tensor, Tensor)> {
    let n = dims.iter().product();
    let cpu = Tensor::from_vec(values(seed, n, lo, hi), dims.to_vec(), &Device::Cpu)?.to_dtype(dtype)?;
    let gpu = cpu.to_device(dev)?;
    Ok((cpu, gpu))
}

type View = fn(&Tensor) -> Result<Tensor>;

/// Views of a [5, 7, 6] base: contiguous, transposed, narrowed, expanded, permuted.
const VIEWS: [(&str, View); 5] = [
    ("contiguous", |t| Ok(t.clone())),
    ("transposed", |t| t.transpose(0, 2)),
    ("narrowed", |t| t.narrow(1, 2, 4)),
    ("expanded", |t| t.narrow(0, 1, 1)?.expand([3, 7, 6])),
    ("permuted", |t| t.permute(&[1, 2, 0])),
];
const BASE: [usize; 3] = [5, 7, 6];

fn check(what: &str, dtype: DType, cpu: &Result<Tensor>, gpu: &Result<Tensor>) {
    check_tol(what, tol(dtype), cpu, gpu)
}

fn check_tol(what: &str, (atol, rtol): (f64, f64), cpu: &Result<Tensor>, gpu: &Result<Tensor>) {
    let (cpu, gpu) = match (cpu, gpu) {
        (Ok(c), Ok(g)) => (c, g),
        (Err(c), Err(g)) => {
            assert_eq!(c.to_string(), g.to_string(), "{what}: both devices fail, with the same error");
            return;
        }
        (c, g) => panic!("{what}: cpu gave {:?}, gpu gave {:?}", c.as_ref().err(), g.as_ref().err()),
    };
    assert!(gpu.device().is_cuda() || dry_run(), "{what}: result left the GPU");
    assert_eq!(cpu.dims(), gpu.dims(), "{what}: shapes");
    assert_eq!(cpu.dtype(), gpu.dtype(), "{what}: dtypes");
    let (c, g) = (cpu.to_vec_f64().unwrap(), gpu.to_vec_f64().unwrap());
    for (i, (&c, &g)) in c.iter().zip(&g).enumerate() {
        let ok = (c.is_nan() && g.is_nan()) || c == g || (c - g).abs() <= atol + rtol * c.abs();
        assert!(ok, "{what}: element {i}: cpu {c}, gpu {g} (atol {atol}, rtol {rtol})");
    }
}

#[test]
fn cuda_unary_ops_match_cpu() -> Result<()> {
    let Some((dev, _gpu)) = gpu("cuda_unary_ops_match_cpu") else { return Ok(()) };
    for dtype in FLOATS.into_iter().chain(INTS) {
        for op in UNARY_OPS {
            let positive = matches!(op, UnaryOp::Log | UnaryOp::Sqrt | UnaryOp::Recip | UnaryOp::Powf(_));
            let (lo, hi) = if dtype.is_int() {
                (0.0, 20.0)
            } else if positive {
                (0.1, 3.0)
            } else {
                (-3.0, 3.0)
            };
            let (c, g) = pair(&dev, dtype, &BASE, 1, lo, hi)?;
            for (name, view) in VIEWS {
                let what = format!("{} {dtype} {name}", op.name());
                check(&what, dtype, &view(&c)?.unary(op), &view(&g)?.unary(op));
            }
        }
    }
    Ok(())
}

const BINARY: [BinaryOp; 7] =
    [BinaryOp::Add, BinaryOp::Sub, BinaryOp::Mul, BinaryOp::Div, BinaryOp::Pow, BinaryOp::Maximum, BinaryOp::Minimum];

/// Broadcast pairs of shapes, including scalars and size-0 dims.
const SHAPES: [(&[usize], &[usize]); 6] = [
    (&[5, 7, 6], &[5, 7, 6]),
    (&[5, 1, 6], &[7, 1]),
    (&[6], &[3, 1]),
    (&[], &[4, 2]),
    (&[0, 3], &[3]),
    (&[4, 3], &[1]),
];

#[test]
fn cuda_binary_ops_and_comparisons_match_cpu() -> Result<()> {
    let Some((dev, _gpu)) = gpu("cuda_binary_ops_and_comparisons_match_cpu") else { return Ok(()) };
    for dtype in FLOATS.into_iter().chain(INTS) {
        for (k, (sa, sb)) in SHAPES.iter().enumerate() {
            let (lo, hi) = if dtype.is_int() { (1.0, 50.0) } else { (0.2, 3.0) };
            let (ca, ga) = pair(&dev, dtype, sa, 10 + k as u64, lo, hi)?;
            let (cb, gb) = pair(&dev, dtype, sb, 20 + k as u64, lo, hi)?;
            for op in BINARY {
                let what = format!("{} {dtype} {sa:?} {sb:?}", op.name());
                check(&what, dtype, &ca.binary(op, &cb), &ga.binary(op, &gb));
            }
            for op in [CmpOp::Eq, CmpOp::Ne, CmpOp::Lt, CmpOp::Le, CmpOp::Gt, CmpOp::Ge] {
                let what = format!("{} {dtype} {sa:?} {sb:?}", op.name());
                check(&what, dtype, &ca.compare(op, &cb), &ga.compare(op, &gb));
                check(&what, dtype, &ca.compare(op, &ca), &ga.compare(op, &ga));
            }
            let (cm, gm) = (ca.compare(CmpOp::Gt, &cb)?, ga.compare(CmpOp::Gt, &gb)?);
            check(&format!("where {dtype} {sa:?} {sb:?}"), dtype, &cm.where_cond(&ca, &cb), &gm.where_cond(&ga, &gb));
        }
        // Strided operands: a transposed view against a narrowed one.
        let (c, g) = pair(&dev, dtype, &BASE, 3, 1.0, 9.0)?;
        let (cv, gv) = (c.transpose(0, 1)?, g.transpose(0, 1)?);
        let (cw, gw) = (c.narrow(0, 0, 1)?.transpose(0, 1)?, g.narrow(0, 0, 1)?.transpose(0, 1)?);
        check(&format!("mul strided {dtype}"), dtype, &cv.mul(&cw), &gv.mul(&gw));
    }
    // Integer division by zero is an error on both devices.
    let (c, g) = pair(&dev, DType::I64, &[3], 5, 0.0, 0.5)?;
    check("i64 div by zero", DType::I64, &c.div(&c), &g.div(&g));
    Ok(())
}

#[test]
fn cuda_reductions_match_cpu() -> Result<()> {
    let Some((dev, _gpu)) = gpu("cuda_reductions_match_cpu") else { return Ok(()) };
    let dim_sets: [&[isize]; 6] = [&[], &[0], &[1], &[2], &[0, 2], &[0, 1, 2]];
    for dtype in FLOATS.into_iter().chain(INTS) {
        let (lo, hi) = if dtype.is_int() { (0.0, 100.0) } else { (0.5, 1.5) };
        let (c, g) = pair(&dev, dtype, &BASE, 7, lo, hi)?;
        for (name, view) in VIEWS {
            let (cv, gv) = (view(&c)?, view(&g)?);
            for dims in dim_sets {
                for keep in [false, true] {
                    for op in [ReduceOp::Sum, ReduceOp::Mean, ReduceOp::Max, ReduceOp::Min] {
                        let what = format!("{} {dtype} {name} {dims:?} keep={keep}", op.name());
                        check(&what, dtype, &cv.reduce(op, dims, keep), &gv.reduce(op, dims, keep));
                    }
                    let what = format!("var {dtype} {name} {dims:?}");
                    check(&what, dtype, &cv.var(dims, keep, 1), &gv.var(dims, keep, 1));
                }
            }
            for d in 0..3 {
                check(&format!("argmax {dtype} {name} {d}"), dtype, &cv.argmax(d, false), &gv.argmax(d, false));
                check(&format!("argmin {dtype} {name} {d}"), dtype, &cv.argmin(d, true), &gv.argmin(d, true));
            }
        }
        // Long rows take the block-per-output path.
        let (c, g) = pair(&dev, dtype, &[3, 5000], 8, lo, hi)?;
        let t = if dtype == DType::F32 { (1e-3, 1e-5) } else { tol(dtype) };
        check_tol(&format!("sum long {dtype}"), t, &c.sum(&[1], false), &g.sum(&[1], false));
        check(&format!("max long {dtype}"), dtype, &c.max(&[1], false), &g.max(&[1], false));
        check(&format!("argmax long {dtype}"), dtype, &c.argmax(1, false), &g.argmax(1, false));
    }
    Ok(())
}

#[test]
fn cuda_softmax_matches_cpu() -> Result<()> {
    let Some((dev, _gpu)) = gpu("cuda_softmax_matches_cpu") else { return Ok(()) };
    for dtype in FLOATS {
        let (c, g) = pair(&dev, dtype, &BASE, 9, -4.0, 4.0)?;
        for (name, view) in VIEWS {
            let (cv, gv) = (view(&c)?, view(&g)?);
            for d in 0..3 {
                check(&format!("softmax {dtype} {name} {d}"), dtype, &cv.softmax(d), &gv.softmax(d));
                check(&format!("log_softmax {dtype} {name} {d}"), dtype, &cv.log_softmax(d), &gv.log_softmax(d));
            }
        }
        let (c, g) = pair(&dev, dtype, &[4, 3000], 11, -8.0, 8.0)?;
        check(&format!("softmax long {dtype}"), dtype, &c.softmax(1), &g.softmax(1));
    }
    Ok(())
}

#[test]
fn cuda_logsumexp_and_cross_entropy_backward_match_cpu() -> Result<()> {
    let Some((dev, _gpu)) = gpu("cuda_logsumexp_and_cross_entropy_backward_match_cpu") else { return Ok(()) };
    for dtype in FLOATS {
        let (c, g) = pair(&dev, dtype, &BASE, 12, -6.0, 6.0)?;
        for (name, view) in VIEWS {
            let (cv, gv) = (view(&c)?, view(&g)?);
            for d in 0..3 {
                for keep in [false, true] {
                    let what = format!("logsumexp {dtype} {name} {d} keepdim {keep}");
                    check(&what, dtype, &cv.logsumexp(d, keep), &gv.logsumexp(d, keep));
                }
            }
        }
        // A vocabulary-sized row, a transposed block, and the backward on both.
        let (n, k) = (70, 5000);
        let (cl, gl) = pair(&dev, dtype, &[n, k], 13, -8.0, 8.0)?;
        check(&format!("logsumexp long {dtype}"), dtype, &cl.logsumexp(1, false), &gl.logsumexp(1, false));
        let (ct, gt) = (cl.narrow(1, 0, 40)?.t()?, gl.narrow(1, 0, 40)?.t()?);
        check(&format!("logsumexp transposed {dtype}"), dtype, &ct.logsumexp(1, false), &gt.logsumexp(1, false));
        let ids: Vec<u32> = values(14, n, 0.0, k as f64).into_iter().map(|v| v as u32).collect();
        let (ctg, gtg) = (Tensor::from_vec(ids.clone(), [n], &Device::Cpu)?, Tensor::from_vec(ids, [n], &dev)?);
        let (cs, gs) = pair(&dev, dtype, &[n], 15, 0.0, 1.0)?;
        for smoothing in [0.0, 0.1] {
            let run =
                |l: &Tensor, t: &Tensor, s: &Tensor| l.cross_entropy_backward(&l.logsumexp(1, false)?, t, s, smoothing);
            let what = format!("cross_entropy_backward {dtype} smoothing {smoothing}");
            check(&what, dtype, &run(&cl, &ctg, &cs), &run(&gl, &gtg, &gs));
        }
        // An out-of-range target: the same error on both devices.
        let (cb, gb) =
            (Tensor::from_vec(vec![k as u32; n], [n], &Device::Cpu)?, Tensor::from_vec(vec![k as u32; n], [n], &dev)?);
        let run = |l: &Tensor, t: &Tensor, s: &Tensor| l.cross_entropy_backward(&l.logsumexp(1, false)?, t, s, 0.0);
        check(&format!("cross_entropy_backward {dtype} bad target"), dtype, &run(&cl, &cb, &cs), &run(&gl, &gb, &gs));
        assert!(run(&cl, &cb, &cs).is_err(), "target {k} of {k} classes is out of range");
    }
    Ok(())
}

/// Splits a result of several tensors into one result per tensor (errors repeated), for `check`.
fn each<const N: usize>(r: Result<[Tensor; N]>) -> [Result<Tensor>; N] {
    match r {
        Ok(ts) => ts.map(Ok),
        Err(e) => std::array::from_fn(|_| Err(e.clone())),
    }
}

#[test]
fn cuda_lstm_cell_matches_cpu() -> Result<()> {
    let Some((dev, _gpu)) = gpu("cuda_lstm_cell_matches_cpu") else { return Ok(()) };
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

#[test]
fn cuda_matmul_matches_cpu() -> Result<()> {
    let Some((dev, _gpu)) = gpu("cuda_matmul_matches_cpu") else { return Ok(()) };
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

#[test]
fn cuda_indexing_matches_cpu() -> Result<()> {
    let Some((dev, _gpu)) = gpu("cuda_indexing_matches_cpu") else { return Ok(()) };
    for dtype in FLOATS.into_iter().chain(INTS) {
        let (c, g) = pair(&dev, dtype, &BASE, 40, 0.0, 9.0)?;
        for idt in [DType::U32, DType::I64] {
            let (ci, gi) = pair(&dev, idt, &[9], 41, 0.0, 5.0)?;
            for (name, view) in VIEWS {
                let (cv, gv) = (view(&c)?, view(&g)?);
                let what = format!("index_select {dtype} {idt} {name}");
                check(
                    &what,
                    dtype,
                    &cv.index_select(0, &ci.narrow(0, 0, 3)?),
                    &gv.index_select(0, &gi.narrow(0, 0, 3)?),
                );
                let (cx, gx) = (ci.narrow(0, 0, 2)?.reshape([2, 1, 1])?, gi.narrow(0, 0, 2)?.reshape([2, 1, 1])?);
                let (cx, gx) = (cx.expand([2, 3, 4])?, gx.expand([2, 3, 4])?);
                check(&format!("gather {dtype} {idt} {name}"), dtype, &cv.gather(0, &cx), &gv.gather(0, &gx));
            }
            // scatter_add with repeated indices: atomics must add every contribution.
            let (cb, gb) = pair(&dev, dtype, &[4, 6], 42, 0.0, 3.0)?;
            let (cs, gs) = pair(&dev, dtype, &[9, 6], 43, 0.0, 3.0)?;
            let (cidx, gidx) = pair(&dev, idt, &[9, 6], 44, 0.0, 4.0)?;
            let t = if dtype.is_int() {
                (0.0, 0.0)
            } else {
                let (a, r) = tol(dtype);
                (4.0 * a, 4.0 * r)
            };
            check_tol(
                &format!("scatter_add {dtype} {idt}"),
                t,
                &cb.scatter_add(0, &cidx, &cs),
                &gb.scatter_add(0, &gidx, &gs),
            );
            // An out-of-range index is an error on both devices.
            let (bad_c, bad_g) = pair(&dev, idt, &[2], 45, 7.0, 8.0)?;
            check("index out of range", dtype, &c.index_select(0, &bad_c), &g.index_select(0, &bad_g));
        }
    }
    Ok(())
}

#[test]
fn cuda_copies_cat_and_casts_match_cpu() -> Result<()> {
    let Some((dev, _gpu)) = gpu("cuda_copies_cat_and_casts_match_cpu") else { return Ok(()) };
    let all: Vec<DType> = FLOATS.into_iter().chain(INTS).collect();
    for &dtype in &all {
        let (c, g) = pair(&dev, dtype, &BASE, 50, -300.0, 300.0)?;
        for (name, view) in VIEWS {
            let (cv, gv) = (view(&c)?, view(&g)?);
            check(&format!("contiguous {dtype} {name}"), dtype, &cv.contiguous(), &gv.contiguous());
            for &to in &all {
                check(&format!("cast {dtype}->{to} {name}"), to, &cv.to_dtype(to), &gv.to_dtype(to));
            }
            for d in 0..3 {
                let (ca, cb) = (cv.narrow(d, 0, 1)?, cv.clone());
                let (ga, gb) = (gv.narrow(d, 0, 1)?, gv.clone());
                check(
                    &format!("cat {dtype} {name} {d}"),
                    dtype,
                    &Tensor::cat(&[ca, cb], d),
                    &Tensor::cat(&[ga, gb], d),
                );
            }
        }
    }
    Ok(())
}

#[test]
fn cuda_creation_and_random_fills_match_cpu() -> Result<()> {
    let Some((dev, _gpu)) = gpu("cuda_creation_and_random_fills_match_cpu") else { return Ok(()) };
    for dtype in FLOATS.into_iter().chain(INTS) {
        let cpu = Device::Cpu;
        check(
            &format!("full {dtype}"),
            dtype,
            &Tensor::full(3.75, [4, 5], dtype, &cpu),
            &Tensor::full(3.75, [4, 5], dtype, &dev),
        );
        check(
            &format!("arange {dtype}"),
            dtype,
            &Tensor::arange(1.0, 40.0, 3.0, dtype, &cpu),
            &Tensor::arange(1.0, 40.0, 3.0, dtype, &dev),
        );
        check(&format!("eye {dtype}"), dtype, &Tensor::eye(4, 6, dtype, &cpu), &Tensor::eye(4, 6, dtype, &dev));
    }
    for dtype in FLOATS {
        // The same seed gives the same numbers on both devices (Philox, same counter layout).
        let (mut gc, mut gg) = (Generator::new(7), Generator::new(7));
        for n in [1usize, 5, 4099] {
            let u = (
                Tensor::rand_uniform(&mut gc, -2.0, 3.0, [n], dtype, &Device::Cpu),
                Tensor::rand_uniform(&mut gg, -2.0, 3.0, [n], dtype, &dev),
            );
            check(&format!("uniform {dtype} {n}"), dtype, &u.0, &u.1);
            let z = (
                Tensor::rand_normal(&mut gc, 1.0, 2.0, [n], dtype, &Device::Cpu),
                Tensor::rand_normal(&mut gg, 1.0, 2.0, [n], dtype, &dev),
            );
            check(&format!("normal {dtype} {n}"), dtype, &z.0, &z.1);
            let b = (
                Tensor::bernoulli(&mut gc, 0.3, [n], dtype, &Device::Cpu),
                Tensor::bernoulli(&mut gg, 0.3, [n], dtype, &dev),
            );
            check(&format!("bernoulli {dtype} {n}"), dtype, &b.0, &b.1);
        }
        assert_eq!(gc.offset(), gg.offset(), "both generators advanced equally");
    }
    Ok(())
}

#[test]
fn cuda_transfers_round_trip_and_devices_do_not_mix() -> Result<()> {
    if dry_run() {
        let _ = writeln!(
            std::io::stderr(),
            "skipped: cuda_transfers_round_trip_and_devices_do_not_mix needs a real GPU (dry run)"
        );
        return Ok(());
    }
    let Some((dev, _gpu)) = gpu("cuda_transfers_round_trip_and_devices_do_not_mix") else { return Ok(()) };
    for dtype in FLOATS.into_iter().chain(INTS) {
        let (c, g) = pair(&dev, dtype, &BASE, 60, 0.0, 100.0)?;
        assert_eq!(g.device(), &dev);
        let back = g.transpose(0, 1)?.to_device(&Device::Cpu)?;
        assert_eq!(back.to_vec_f64()?, c.transpose(0, 1)?.to_vec_f64()?, "{dtype} round trip");
        let err = c.add(&g).unwrap_err().to_string();
        assert!(err.contains("different devices"), "{err}");
    }
    let (_, g) = pair(&dev, DType::F32, &[3], 61, 0.0, 1.0)?;
    assert_eq!(g.to_vec::<f32>()?.len(), 3);
    assert!(Device::cuda(1 << 20).is_err(), "a missing ordinal is an error, not a panic");
    Ok(())
}

#[test]
fn cuda_pool_reuses_blocks_across_steps() -> Result<()> {
    if dry_run() {
        let _ = writeln!(std::io::stderr(), "skipped: cuda_pool_reuses_blocks_across_steps needs a real GPU (dry run)");
        return Ok(());
    }
    let Some((dev, _gpu)) = gpu("cuda_pool_reuses_blocks_across_steps") else { return Ok(()) };
    let cuda = CudaDevice::get(0)?;
    let (_, x) = pair(&dev, DType::F32, &[256, 256], 70, -1.0, 1.0)?;
    let step = |x: &Tensor| -> Result<f64> { x.matmul(x)?.exp()?.sum_all()?.to_scalar_f64() };
    step(&x)?;
    let before = cuda.pool_stats();
    for _ in 0..5 {
        step(&x)?;
    }
    let after = cuda.pool_stats();
    assert_eq!(after.driver_allocs, before.driver_allocs, "a repeated step allocates nothing new: {after:?}");
    assert!(after.reuses > before.reuses);
    Ok(())
}
