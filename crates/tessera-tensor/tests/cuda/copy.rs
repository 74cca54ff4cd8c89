//! Copies, concatenation, casts, fills, ranges and random fills on the GPU against the CPU.

use crate::common::cuda::*;
use tessera_tensor::{DType, Device, Generator, Result, Tensor};

pub fn copies_cat_and_casts(dev: &Device) -> Result<()> {
    let dev = *dev;
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
        // Empty pieces: along the cat dim (skipped) and beside it (an empty result).
        for (d, dims) in [(0, [0, 3]), (1, [2, 0])] {
            let (ce, ge) = pair(&dev, dtype, &dims, 51, 0.0, 1.0)?;
            let (cf, gf) = pair(&dev, dtype, &[2, 3], 52, 0.0, 1.0)?;
            let (cn, gn) = (cf.narrow(1 - d, 0, 0)?, gf.narrow(1 - d, 0, 0)?);
            let what = format!("cat {dtype} of empty pieces along {d}");
            check(
                &what,
                dtype,
                &Tensor::cat(&[ce.clone(), cf, ce.clone()], d),
                &Tensor::cat(&[ge.clone(), gf, ge.clone()], d),
            );
            check(
                &format!("{what}, empty result"),
                dtype,
                &Tensor::cat(&[cn.clone(), cn], d),
                &Tensor::cat(&[gn.clone(), gn], d),
            );
        }
    }
    Ok(())
}

pub fn creation_and_random(dev: &Device) -> Result<()> {
    let dev = *dev;
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

/// Dropout with the same mask on both devices, over every view, and its error for an integer
/// tensor.
pub fn dropout(dev: &Device) -> Result<()> {
    let dev = *dev;
    for dtype in FLOATS {
        let (c, g) = pair(&dev, dtype, &BASE, 3, -2.0, 2.0)?;
        for (name, view) in VIEWS {
            let (c, g) = (view(&c)?, view(&g)?);
            let mask = Generator::new(11).dropout_mask(0.35, c.elem_count())?;
            check(&format!("dropout {dtype} {name}"), dtype, &c.dropout(&mask), &g.dropout(&mask));
        }
    }
    let mask = Generator::new(0).dropout_mask(0.5, 4)?;
    let ints = Tensor::zeros([4], DType::I64, &Device::Cpu)?;
    let (c, g) = (ints.dropout(&mask), ints.to_device(&dev)?.dropout(&mask));
    assert!(c.is_err(), "dropout of an integer tensor is an error");
    check("dropout i64", DType::I64, &c, &g);
    Ok(())
}
