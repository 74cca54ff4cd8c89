//! Pooling (max, average, adaptive) and batch normalisation on the GPU against the CPU,
//! forward and backward, through strided views, with the same errors on both devices.

use crate::common::cuda::*;
use tessera_tensor::{AvgPool2dSpec, DType, Device, MaxPool2dSpec, Result, Shape, Tensor};

pub fn pooling(dev: &Device) -> Result<()> {
    let dev = *dev;
    let max = [
        MaxPool2dSpec::new([2, 2]),
        MaxPool2dSpec::new([3, 3]).stride([2, 1]).padding([1, 1]).dilation([1, 2]).ceil_mode(true),
    ];
    let avg = [
        AvgPool2dSpec::new([3, 3]).stride([2, 2]).padding([1, 1]).ceil_mode(true),
        AvgPool2dSpec::new([2, 3]).stride([1, 2]).padding([1, 1]).count_include_pad(false),
        AvgPool2dSpec::new([2, 2]).divisor_override(Some(3)),
    ];
    for dtype in FLOATS {
        // [N, C, H, W] = [3, 4, 13, 11] from a stored [3, 11, 4, 13] (a permuted view).
        let (cx, gx) = pair(&dev, dtype, &[3, 11, 4, 13], 110, -3.0, 3.0)?;
        let view = |t: &Tensor| t.permute(&[0, 2, 3, 1]);
        let shape = Shape::new(vec![3, 4, 13, 11]);
        let t = if dtype == DType::F32 { (1e-5, 1e-5) } else { tol(dtype) };
        for spec in max {
            let run = |x: &Tensor, seed: u64| -> Result<[Tensor; 3]> {
                let (y, idx) = view(x)?.max_pool2d(&spec)?;
                let dy = Tensor::from_vec(values(seed, y.elem_count(), -1.0, 1.0), y.shape().clone(), &Device::Cpu)?
                    .to_dtype(dtype)?
                    .to_device(x.device())?;
                let dx = Tensor::max_pool2d_backward(&dy, &idx, &shape, &spec)?;
                Ok([y, idx, dx])
            };
            let outs = each(run(&cx, 111)).into_iter().zip(each(run(&gx, 111)));
            for (what, (c, g)) in ["y", "indices", "dx"].into_iter().zip(outs) {
                check_tol(&format!("max_pool2d {dtype} {spec:?}: {what}"), t, &c, &g);
            }
        }
        for spec in avg {
            let run = |x: &Tensor| -> Result<[Tensor; 2]> {
                let y = view(x)?.avg_pool2d(&spec)?;
                let dx = Tensor::avg_pool2d_backward(&y.sin()?, &shape, &spec)?;
                Ok([y, dx])
            };
            let outs = each(run(&cx)).into_iter().zip(each(run(&gx)));
            for (what, (c, g)) in ["y", "dx"].into_iter().zip(outs) {
                check_tol(&format!("avg_pool2d {dtype} {spec:?}: {what}"), t, &c, &g);
            }
        }
        for out in [[5, 3], [13, 11], [1, 1], [6, 17]] {
            let run = |x: &Tensor| -> Result<[Tensor; 2]> {
                let y = view(x)?.narrow(0, 1, 1)?.squeeze(0)?.adaptive_avg_pool2d(out)?;
                let dx = Tensor::adaptive_avg_pool2d_backward(&y.cos()?, &Shape::new(vec![4, 13, 11]), out)?;
                Ok([y, dx])
            };
            let outs = each(run(&cx)).into_iter().zip(each(run(&gx)));
            for (what, (c, g)) in ["y", "dx"].into_iter().zip(outs) {
                check_tol(&format!("adaptive_avg_pool2d {dtype} {out:?}: {what}"), t, &c, &g);
            }
        }
        // Bad input: the same errors on both devices.
        let big = |x: &Tensor| view(x)?.max_pool2d(&MaxPool2dSpec::new([14, 2])).map(|r| r.0);
        check(&format!("max_pool2d {dtype} kernel too large"), dtype, &big(&cx), &big(&gx));
        let bad_idx = |x: &Tensor| -> Result<Tensor> {
            let (y, idx) = view(x)?.max_pool2d(&max[0])?;
            let idx = idx.add_scalar(200.0)?;
            Tensor::max_pool2d_backward(&y, &idx, &shape, &max[0])
        };
        let e = bad_idx(&cx).map(drop).unwrap_err().to_string();
        assert!(e.starts_with("max_pool2d_backward: index 2") && e.ends_with("of size 143"), "{e}");
        check(&format!("max_pool2d_backward {dtype} bad indices"), dtype, &bad_idx(&cx), &bad_idx(&gx));
    }
    Ok(())
}

pub fn batch_norm(dev: &Device) -> Result<()> {
    let dev = *dev;
    for dtype in FLOATS {
        let t = match dtype {
            DType::F32 => (1e-4, 1e-4),
            DType::F64 => (1e-10, 1e-10),
            _ => (3e-2, 2e-2),
        };
        // [N, C, H, W] = [6, 5, 7, 9] from a stored [5, 6, 7, 9]; and [N, C] = [40, 5].
        let (cx, gx) = pair(&dev, dtype, &[5, 6, 7, 9], 120, -3.0, 5.0)?;
        let (cf, gf) = pair(&dev, dtype, &[5, 40], 121, -3.0, 5.0)?;
        let (cw, gw) = pair(&dev, dtype, &[5], 122, 0.5, 1.5)?;
        let (cb, gb) = pair(&dev, dtype, &[5], 123, -1.0, 1.0)?;
        let (cm, gm) = pair(&dev, dtype, &[5], 124, -1.0, 1.0)?;
        let (cv, gv) = pair(&dev, dtype, &[5], 125, 0.5, 3.0)?;
        for training in [true, false] {
            for flat in [false, true] {
                let run = |x: &Tensor, w: &Tensor, b: &Tensor, m: &Tensor, v: &Tensor| -> Result<[Tensor; 5]> {
                    let x = if flat { x.t()? } else { x.transpose(0, 1)? };
                    let (y, saved) = x.batch_norm(Some(w), Some(b), Some((m, v)), training, 1e-5)?;
                    let dy = y.sin()?;
                    let (dx, dw, db) = Tensor::batch_norm_backward(&x, Some(w), &dy, &saved, training)?;
                    Ok([y, saved, dx, dw, db])
                };
                let (c, g) = if flat { (&cf, &gf) } else { (&cx, &gx) };
                let outs = each(run(c, &cw, &cb, &cm, &cv)).into_iter().zip(each(run(g, &gw, &gb, &gm, &gv)));
                for (what, (c, g)) in ["y", "saved", "dx", "dweight", "dbias"].into_iter().zip(outs) {
                    check_tol(&format!("batch_norm {dtype} training {training} flat {flat}: {what}"), t, &c, &g);
                }
            }
        }
        let short = |x: &Tensor, w: &Tensor| {
            x.transpose(0, 1)?.batch_norm(Some(&w.narrow(0, 0, 4)?), None, None, true, 1e-5).map(|r| r.0)
        };
        check(&format!("batch_norm {dtype} short weight"), dtype, &short(&cx, &cw), &short(&gx, &gw));
        let one = |x: &Tensor| {
            x.narrow(1, 0, 1)?
                .narrow(2, 0, 1)?
                .narrow(3, 0, 1)?
                .transpose(0, 1)?
                .batch_norm(None, None, None, true, 1e-5)
                .map(|r| r.0)
        };
        check(&format!("batch_norm {dtype} one value per channel"), dtype, &one(&cx), &one(&gx));
    }
    Ok(())
}
