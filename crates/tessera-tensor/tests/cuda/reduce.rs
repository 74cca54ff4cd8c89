//! Reductions, softmax, log-sum-exp and the cross-entropy gradient on the GPU against the CPU.

use crate::common::cuda::*;
use tessera_kernels::ops::registry::{registry, CudaImpl};
use tessera_tensor::{record_dispatches, DType, Device, ReduceOp, Result, Tensor};

pub fn reductions(dev: &Device) -> Result<()> {
    let dev = *dev;
    let dim_sets: [&[isize]; 6] = [&[], &[0], &[1], &[2], &[0, 2], &[0, 1, 2]];
    for dtype in FLOATS.into_iter().chain(INTS) {
        let (lo, hi) = if dtype.is_int() { (0.0, 100.0) } else { (0.5, 1.5) };
        let (c, g) = pair(&dev, dtype, &BASE, 7, lo, hi)?;
        for (name, view) in VIEWS {
            let (cv, gv) = (view(&c)?, view(&g)?);
            for dims in dim_sets {
                for keep in [false, true] {
                    for &op in ReduceOp::ALL {
                        let what = format!("{} {dtype} {name} {dims:?} keep={keep}", op.name());
                        check(&what, dtype, &cv.reduce(op, dims, keep), &gv.reduce(op, dims, keep));
                    }
                    let what = format!("variance {dtype} {name} {dims:?}");
                    check(&what, dtype, &cv.variance(dims, keep, 1), &gv.variance(dims, keep, 1));
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

pub fn softmax(dev: &Device) -> Result<()> {
    let dev = *dev;
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

pub fn cross_entropy(dev: &Device) -> Result<()> {
    let dev = *dev;
    let parts = match registry().into_iter().find(|op| op.name == "cross_entropy_with_grad").map(|op| op.cuda) {
        Some(CudaImpl::Composed(parts)) => parts,
        other => panic!("cross_entropy_with_grad is registered as {other:?}"),
    };
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
            // Both halves at once: fused on the CPU, composed of its registered parts on CUDA.
            let (on_gpu, log) = record_dispatches(|| gl.cross_entropy_with_grad(&gtg, &gs, smoothing));
            let ((c_lse, c_grad), (g_lse, g_grad)) = (cl.cross_entropy_with_grad(&ctg, &cs, smoothing)?, on_gpu?);
            let what = format!("cross_entropy_with_grad {dtype} smoothing {smoothing}");
            check(&format!("{what}: lse"), dtype, &Ok(c_lse), &Ok(g_lse));
            check(&format!("{what}: grad"), dtype, &Ok(c_grad), &Ok(g_grad));
            let stray: Vec<_> =
                log.iter().filter(|d| d.op != "cross_entropy_with_grad" && !parts.contains(&d.op)).collect();
            assert!(stray.is_empty(), "{what} dispatched ops outside its registered parts: {stray:?}");
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

/// The sum of squares, fused on the CPU and composed on CUDA, over every float dtype and the
/// shared views; the composition may dispatch only its registered parts.
pub fn sum_squares(dev: &Device) -> Result<()> {
    let dev = *dev;
    let parts = match registry().into_iter().find(|op| op.name == "sum_squares").map(|op| op.cuda) {
        Some(CudaImpl::Composed(parts)) => parts,
        other => panic!("sum_squares is registered as {other:?}"),
    };
    for dtype in FLOATS {
        // Values past 256: their f16 squares would overflow.
        let (c, g) = pair(&dev, dtype, &BASE, 9, -300.0, 300.0)?;
        for (name, view) in VIEWS {
            let (cv, gv) = (view(&c)?, view(&g)?);
            let (on_gpu, log) = record_dispatches(|| gv.sum_squares());
            // Both sides widen f16 and bf16 to f32 first, so compare at f32's tolerance.
            let out = if dtype == DType::F64 { DType::F64 } else { DType::F32 };
            check(&format!("sum_squares {dtype} {name}"), out, &cv.sum_squares(), &on_gpu);
            let stray: Vec<_> = log.iter().filter(|d| d.op != "sum_squares" && !parts.contains(&d.op)).collect();
            assert!(stray.is_empty(), "sum_squares {dtype} dispatched ops outside its registered parts: {stray:?}");
        }
    }
    Ok(())
}
