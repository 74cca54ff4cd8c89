//! The elementwise, reduction, indexing, copy, creation and memory ops run on a CUDA device and
//! compared with the CPU reference (tolerance `atol + rtol * |cpu|`); `cuda_nn_ops.rs` does the
//! same for softmax, cross-entropy, the LSTM cell and matmul. Every input is built once on the
//! CPU and copied to the GPU, then the same views (transposed, narrowed, expanded) are taken on
//! both devices, so the strided kernel paths are exercised. Without a GPU every test prints
//! `skipped: no CUDA device: ...` and returns: the names all start with `cuda_` so that a run
//! shows what was skipped. `TESSERA_CUDA_TESTS_DRY_RUN=1` runs them with the CPU standing in.

mod common;

use common::cuda::*;
use common::UNARY_OPS;
use std::io::Write;
use tessera_kernels::cuda::CudaDevice;
use tessera_tensor::{BinaryOp, CmpOp, DType, Device, Generator, ReduceOp, Result, Tensor, UnaryOp};

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
